"""Domain errors; each blueprint turns them into a page message or a JSON error code."""


class ContestError(Exception):
    code = "invalid"
    status = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NoContest(ContestError):
    code = "not_found"
    status = 404


class ContestClosed(ContestError):
    code = "contest_closed"
    status = 403


class DailyLimitReached(ContestError):
    code = "daily_limit"
    status = 429


class AttemptsExhausted(ContestError):
    code = "attempts_exhausted"
    status = 429


class DeadlinePassed(ContestError):
    code = "deadline_passed"
    status = 409


class AttemptNotFound(ContestError):
    code = "not_found"
    status = 404


class InvalidAnswer(ContestError):
    code = "invalid"
    status = 422

    def __init__(self, message: str, field: str = "choices"):
        super().__init__(message)
        self.field = field


class NotSignedIn(ContestError):
    """A bearer token that is unknown or expired (the API answers 401)."""
    code = "unauthorized"
    status = 401


class PracticeClosed(ContestError):
    """Practice would show the answer keys of the contest's own bank while its papers are
    still being drawn: closed before and during the contest unless a practice bank is named."""
    code = "practice_closed"
    status = 403


class PracticeDuringAttempt(ContestError):
    """No practice while the citizen's timed attempt is running."""
    code = "attempt_active"
    status = 409


class PracticeLimitReached(ContestError):
    code = "practice_limit"
    status = 429
