"""The database restarts under load: clean failures in flight, then business as usual."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from faults.harness import Host, answer, check_attempts_whole, start_attempt, wait_for

pytestmark = pytest.mark.slow


def play(host: Host, token: str, stop: threading.Event, replies: list) -> None:
    """Start, answer and submit attempts in a loop, keeping every reply (or network error)."""
    while not stop.is_set():
        replies.append(host.post("/api/v1/attempts", token=token))
        attempt = replies[-1].json.get("attempt") if replies[-1].status in (200, 201) else None
        if attempt is None:
            continue
        for question in attempt["questions"][:4]:
            replies.append(host.put(f"/api/v1/attempts/{attempt['id']}/answers/{question['id']}",
                                    {"choices": [question["options"][0]["key"]]}, token=token))
        replies.append(host.post(f"/api/v1/attempts/{attempt['id']}/submit", token=token))


def test_a_database_restart_fails_requests_cleanly_and_leaves_no_half_written_attempt(
        deploy, private_postgres, shared_redis_url):
    deployment = deploy(shared_redis_url, database=private_postgres.url)
    host = deployment.host()
    phones = deployment.citizens(8)
    tokens = [host.token(phone) for phone in phones]

    stop = threading.Event()
    replies: list = []
    with ThreadPoolExecutor(len(tokens)) as pool:
        runs = [pool.submit(play, host, token, stop, replies) for token in tokens]
        wait_for(lambda: sum(r.status == 200 and b'"result"' in r.body for r in replies) >= 8, 30,
                 "submissions before the restart")
        private_postgres.restart(down_for=1.0)
        back_at, settled = time.monotonic(), len(replies)
        wait_for(lambda: len(replies) > settled + 40, 30, "traffic after the restart")
        stop.set()
        for run in runs:
            run.result()

    failed = [r for r in replies if r.status >= 400]
    assert failed, "the restart went unnoticed: no request was in flight"
    for reply in failed:
        # A clean failure: a JSON error with a stable code, never a stack trace.
        assert reply.status in (500, 503), reply
        assert reply.headers["Content-Type"] == "application/json", reply
        assert reply.json["error"]["code"] in ("internal", "unavailable"), reply
        assert b"Traceback" not in reply.body and b"psycopg" not in reply.body

    # Once the database is back, the next requests all succeed (stale pooled connections are replaced).
    assert [r for r in replies if r.sent_at > back_at and r.status >= 400] == []
    for token in tokens:
        attempt = start_attempt(host, token)
        answer(host, token, attempt, count=3)
        reply = host.post(f"/api/v1/attempts/{attempt['id']}/submit", token=token)
        assert reply.status == 200, reply
        assert host.get("/api/v1/leaderboard").status == 200

    counts = check_attempts_whole(deployment)
    assert counts.get("active", 0) <= len(tokens)  # at most the one each citizen was cut off in
    assert counts["submitted"] >= 8 + len(tokens)
