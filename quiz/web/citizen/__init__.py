"""Citizen pages: server-rendered, zh-CN, phone first, usable without JavaScript."""
from quiz.web.citizen.routes import bp  # noqa: F401  (the blueprint, its views registered)
