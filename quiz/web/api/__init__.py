"""The v1 JSON API: bearer tokens only, errors as {"error": {"code", "message"}}."""
from quiz.web.api.routes import bp  # noqa: F401  (the blueprint, its views registered)
