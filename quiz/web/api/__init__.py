"""The v1 JSON API: bearer tokens only, errors as {"error": {"code", "message"}}."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from quiz.web.api import routes  # noqa: E402,F401  (registers the routes)
