"""The organizers' console."""
from quiz.web.admin import review_routes, routes  # noqa: F401  (register the views)
from quiz.web.admin.blueprint import bp  # noqa: F401
