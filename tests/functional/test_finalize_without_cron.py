"""An abandoned attempt is handed in and reaches the boards within seconds of its deadline
plus grace, without anyone running `flask attempts finalize-expired` (quiz/finalizer.py)."""
import json
import threading
import time
import urllib.request
from datetime import timedelta

import pytest
from conftest import DURING
from sqlalchemy import update
from werkzeug.serving import make_server

from quiz import finalizer, leaderboard
from quiz.clock import utcnow
from quiz.contest.attempts import GRACE, start_attempt
from quiz.extensions import db
from quiz.models import ATTEMPT_EXPIRED, Attempt

BOARD_WITHIN_S = 10  # the promise, after deadline + grace


def test_the_sweep_hands_in_only_after_the_grace_and_once_per_period(contest, citizens, redis):
    citizen = citizens.make(district="wujin")
    attempt, _ = start_attempt(db.session, citizen, contest, DURING)
    leaderboard.rebuild(db.session, contest)

    assert finalizer.sweep(db.session, attempt.deadline + GRACE - timedelta(seconds=1)) == 0  # still in the grace
    redis.delete(finalizer.SWEEP_KEY)  # the period is over
    assert finalizer.sweep(db.session, attempt.deadline + GRACE + timedelta(seconds=1)) == 1
    assert finalizer.sweep(db.session, attempt.deadline + GRACE + timedelta(seconds=2)) is None  # someone swept

    db.session.expire_all()
    handed_in = db.session.get(Attempt, attempt.id)
    assert handed_in.status == ATTEMPT_EXPIRED and handed_in.auto_submitted
    assert leaderboard.totals(contest)["participants"] == 1 and leaderboard.totals(contest)["attempts"] == 1
    assert leaderboard.top(contest)["entries"][0]["district"] == "wujin"


@pytest.fixture
def served(app_with):
    """The app with its background sweep every 0.5 s, served over real HTTP in a thread."""
    served_app = app_with(FINALIZE_EVERY_S=0.5)
    server = make_server("127.0.0.1", 0, served_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        finalizer.stop(served_app)


def call(base, path, body=None, token=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"}
                                     | ({"Authorization": f"Bearer {token}"} if token else {}))
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_an_abandoned_attempt_reaches_the_board_without_the_cli(served, open_contest, citizens):
    citizen = citizens.make(district="xinbei", name="张三丰")
    assert call(served, "/api/v1/leaderboard")["total"] == 0
    token = call(served, "/api/v1/auth/token", {"phone": citizen.phone, "password": "password123"})["token"]
    attempt_id = call(served, "/api/v1/attempts", {}, token)["attempt"]["id"]
    # The citizen walks away. Their deadline is brought forward to 1 s from now (a real
    # time limit is at least 10 s); nothing but the server's own sweep may hand it in.
    deadline = utcnow() + timedelta(seconds=1)
    db.session.execute(update(Attempt).where(Attempt.id == attempt_id).values(deadline=deadline))
    db.session.commit()

    promised = deadline + GRACE + timedelta(seconds=BOARD_WITHIN_S)
    board = call(served, "/api/v1/leaderboard")
    while board["total"] == 0 and utcnow() < promised:
        time.sleep(0.2)
        board = call(served, "/api/v1/leaderboard")
    assert board["total"] == 1, "the abandoned attempt did not reach the board within 10 s"
    assert board["entries"][0]["name"] == "张*丰"
    assert utcnow() >= deadline + GRACE  # not handed in before the grace ran out
    districts = {d["code"]: d for d in call(served, "/api/v1/districts")["districts"]}
    assert (districts["xinbei"]["participants"], districts["xinbei"]["attempts"]) == (1, 1)

    db.session.expire_all()
    handed_in = db.session.get(Attempt, attempt_id)
    assert handed_in.status == ATTEMPT_EXPIRED and handed_in.auto_submitted
    assert handed_in.finished_at >= deadline
