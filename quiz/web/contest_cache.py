"""The requested contest (quiz.web.contest_scope) for the hot read paths (leaderboard API, /me, displays), looked up
at most once a second per process instead of once per request.

The cached object is a detached, fully loaded copy: read its columns, never change it
or hand it to a session (use rules.current_contest where the contest is written).
"""
import time

from flask import current_app
from sqlalchemy.orm import make_transient_to_detached

from quiz.clock import utcnow
from quiz.models import Contest
from quiz.web.contest_scope import requested_contest, requested_slug

TTL_S = 1.0


def _detached_copy(contest: Contest) -> Contest:
    copy = Contest(**{attr.key: getattr(contest, attr.key) for attr in Contest.__mapper__.column_attrs})
    make_transient_to_detached(copy)
    return copy


def requested_contest_cached(session) -> Contest | None:
    """contest_scope.requested_contest(session, now), at most TTL_S old; per app, so tests stay apart."""
    store = current_app.extensions.setdefault("quiz_contest_cache", {})
    slug = requested_slug()
    key = "current" if slug is None else "slug:" + slug
    now = time.monotonic()
    hit = store.get(key)
    if hit is not None and now - hit[0] < current_app.config.get("CONTEST_CACHE_S", TTL_S):
        return hit[1]
    contest = requested_contest(session, utcnow())  # an unknown slug: 404, never cached
    copy = _detached_copy(contest) if contest is not None else None
    store[key] = (now, copy)  # a single assignment: safe across threads and greenlets
    return copy
