"""Citizen pages: server-rendered, zh-CN, phone first, usable without JavaScript."""
from flask import Blueprint

bp = Blueprint("citizen", __name__)

from quiz.web.citizen import routes  # noqa: E402,F401
