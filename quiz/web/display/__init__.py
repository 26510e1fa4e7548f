"""Big-screen leaderboard displays for public halls: no login, read-only."""
from quiz.web.display.routes import bp  # noqa: F401  (the blueprint, its views registered)
