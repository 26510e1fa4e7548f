"""Citizen pages: server-rendered, zh-CN, phone first, usable without JavaScript."""
from quiz.web.citizen import limited  # noqa: F401  (its 429 page registered on the blueprint)
from quiz.web.citizen.routes import bp  # noqa: F401  (the blueprint, its views registered)
