"""The organizers' console."""
from quiz.web.admin import routes  # noqa: F401  (registers the views)
from quiz.web.admin.blueprint import bp  # noqa: F401
