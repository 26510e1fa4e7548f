"""Helpers for the console tests: signed-in organizers, CSRF tokens, finished attempts.

Signing in writes Flask-Login's session keys directly, so these tests do not
depend on the login page (tested with the citizen pages).
"""
import hashlib
import os
import re
from datetime import timedelta

from itsdangerous import URLSafeTimedSerializer

from quiz.accounts import create_organizer
from quiz.clock import utcnow
from quiz.contest.definition import question_points
from quiz.extensions import db
from quiz.models import ATTEMPT_SUBMITTED, Attempt, AttemptQuestion

ORGANIZER_PASSWORD = "organizer-pass-1"


def make_organizer(role: str = "city", district: str | None = None, phone: str | None = None, name: str = "组织者"):
    phone = phone or ("1370000" + ("0001" if role == "city" else f"{sum(map(ord, district)) % 9000 + 1000:04d}"))
    return create_organizer(db.session, phone, name, ORGANIZER_PASSWORD, role, district, utcnow())


def sign_in(client, user) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def csrf_token(client, app) -> str:
    """A valid CSRF token for this client's session, made as Flask-WTF makes it."""
    with client.session_transaction() as session:
        raw = session.get("csrf_token") or hashlib.sha1(os.urandom(64)).hexdigest()
        session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def page_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def finished_attempt(contest, user, started, answers, status=ATTEMPT_SUBMITTED):
    """A finished timed attempt: answers = [(question, chosen bank keys or None, seconds after start or None)].

    Graded like the real grader: all-or-nothing, blank is wrong.
    """
    attempt = Attempt(user_id=user.id, contest_id=contest.id, practice=False, status=status,
                      day=(started + timedelta(hours=8)).date().isoformat(), started_at=started,
                      deadline=started + timedelta(seconds=contest.time_limit_s), question_count=len(answers))
    db.session.add(attempt)
    db.session.flush()
    score = max_score = correct_count = 0
    last = started
    for position, (question, choices, seconds) in enumerate(answers):
        points = question_points(question, contest.points)
        correct = bool(choices) and sorted(choices) == sorted(question.answer)
        saved = started + timedelta(seconds=seconds) if seconds is not None else None
        last = max(last, saved or last)
        db.session.add(AttemptQuestion(attempt_id=attempt.id, question_id=question.id, position=position,
                                       option_order=[k for k, _ in question.options], choices=choices,
                                       saved_at=saved, correct=correct, points=points))
        max_score += points
        score += points if correct else 0
        correct_count += correct
    attempt.score, attempt.max_score, attempt.correct_count = score, max_score, correct_count
    attempt.finished_at = last
    attempt.time_used_ms = int((last - started).total_seconds() * 1000)
    db.session.commit()
    return attempt


def wrong_keys(question) -> list[str]:
    """A wrong answer to question, in bank keys."""
    if question.type == "judge":
        return ["false"] if question.answer == ["true"] else ["true"]
    return [next(k for k, _ in question.options if k not in question.answer)]
