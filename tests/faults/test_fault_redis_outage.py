"""Redis stops in the middle of a run of submissions, then comes back empty."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from faults.harness import answer, board, check_attempts_whole, start_attempt, wait_for

pytestmark = pytest.mark.slow


def test_submissions_survive_a_redis_outage_and_boards_catch_up_alone(deploy, private_redis):
    deployment = deploy(private_redis.url)
    host = deployment.host()
    phones = deployment.citizens(30)
    tokens = {phone: host.token(phone) for phone in phones}
    attempts = {}
    for phone in phones:
        attempts[phone] = start_attempt(host, tokens[phone])
        answer(host, tokens[phone], attempts[phone], count=6)

    # Ten submit while Redis runs, ten are released as it shuts down, ten after it is gone.
    during, after = phones[10:20], phones[20:]
    shutting_down, gone = threading.Event(), threading.Event()
    finished_at = {}

    def submit(phone):
        if phone in during:
            shutting_down.wait(30)
        if phone in after:
            gone.wait(30)
        reply = host.post(f"/api/v1/attempts/{attempts[phone]['id']}/submit", token=tokens[phone])
        finished_at[phone] = time.monotonic()
        return phone, reply

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(submit, phone) for phone in phones]
        wait_for(lambda: sum(f.done() for f in futures) >= 5, 30, "the first submissions")
        shutting_down.set()
        private_redis.shutdown_nosave()
        redis_gone = time.monotonic()
        gone.set()
        replies = dict(f.result() for f in futures)

    assert {phone: reply.status for phone, reply in replies.items()} == dict.fromkeys(phones, 200)
    for phone, reply in replies.items():
        result = reply.json["result"]
        assert result["score"] is not None and len(result["review"]) == 20
        if finished_at[phone] > redis_gone:
            assert result["rank"] is None, "a rank cannot come from a stopped Redis"
    assert all(replies[phone].json["result"]["rank"] is None for phone in after)

    # Every result is committed in SQL, whatever Redis did.
    rows = deployment.sql("SELECT id, status, score FROM attempts")
    assert {row.id: (row.status, row.score) for row in rows} == {
        attempts[phone]["id"]: ("submitted", replies[phone].json["result"]["score"]) for phone in phones}
    assert check_attempts_whole(deployment) == {"submitted": len(phones)}

    # Readers get a notice, not an error page; a citizen's own best still comes from SQL.
    outage = board(host)
    assert outage.status == 503 and outage.json["error"]["code"] == "unavailable"
    me = host.get("/api/v1/me", token=tokens[phones[-1]])
    assert me.status == 200 and me.json["best"]["score"] == replies[phones[-1]].json["result"]["score"]

    # Redis returns empty on the same port: the board refills from SQL without an operator.
    private_redis.start()
    caught_up = wait_for(lambda: (r := board(host)).status == 200 and r.json["total"] == len(phones) and r,
                         15, "the board to catch up with SQL", interval=0.25)
    districts = host.get("/api/v1/districts").json

    host.flask("leaderboard", "rebuild")
    rebuilt = board(host)
    assert rebuilt.status == 200
    assert caught_up.json["entries"] == rebuilt.json["entries"]
    assert host.get("/api/v1/districts").json == districts
    assert sorted(e["score"] for e in rebuilt.json["entries"]) == sorted(
        r.json["result"]["score"] for r in replies.values())
    assert deployment.sql("SELECT COUNT(*) AS n FROM attempts WHERE board_pending")[0].n == 0
