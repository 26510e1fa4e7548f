"""Big-screen leaderboard displays for public halls: no login, read-only."""
from flask import Blueprint

bp = Blueprint("display", __name__, url_prefix="/display")

from quiz.web.display import routes  # noqa: E402,F401
