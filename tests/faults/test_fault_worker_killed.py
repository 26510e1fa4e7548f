"""gunicorn workers killed (SIGKILL) while submits run: all or nothing, and a retry gives one result."""
import http.client
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from faults.harness import board, check_attempts_whole, wait_for
from quiz import leaderboard

pytestmark = pytest.mark.slow


def test_a_submit_cut_by_a_killed_worker_is_whole_or_absent_and_a_retry_gives_one_result(deploy, shared_redis_url):
    deployment = deploy(shared_redis_url)
    host = deployment.host(workers=3, threads=4)
    players = deployment.players(100)  # enough submits to still be running when the kills come; one board page
    rng = random.Random(20210522)

    in_flight = 0
    lock = threading.Lock()
    first: dict = {}

    def submit(player):
        nonlocal in_flight
        with lock:
            in_flight += 1
        try:
            first[player.phone] = player.submit(host)
        # The worker died with the request: connection reset or closed, or cut
        # between the response's head and its body (http.client.IncompleteRead).
        except (OSError, http.client.HTTPException) as exc:
            first[player.phone] = exc
        finally:
            with lock:
                in_flight -= 1

    kills = 0
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(submit, player) for player in players]
        while not all(f.done() for f in futures) and kills < 4:
            time.sleep(rng.uniform(0.02, 0.08))
            workers = host.workers()
            if in_flight and workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
                kills += 1
        for future in futures:
            future.result()
    assert kills, "the submits ended before any worker could be killed"
    cut = [phone for phone, outcome in first.items() if not hasattr(outcome, "status")]
    answered = {phone: outcome for phone, outcome in first.items() if hasattr(outcome, "status")}
    assert all(reply.status == 200 for reply in answered.values()), [r for r in answered.values() if r.status != 200]

    # Killed in the middle, each attempt is either finished with its whole result or untouched.
    counts = check_attempts_whole(deployment)
    assert sum(counts.values()) == len(players)

    # gunicorn replaces the dead workers; the citizens retry.
    host.wait_ready()
    retried = {player.phone: player.submit(host) for player in players}
    assert {phone: reply.status for phone, reply in retried.items()} == {p.phone: 200 for p in players}
    for phone, reply in answered.items():
        assert retried[phone].json["result"]["score"] == reply.json["result"]["score"]
        assert retried[phone].json["result"]["review"] == reply.json["result"]["review"]

    # One finished attempt per citizen, with the score the retry reported.
    rows = deployment.sql("SELECT u.phone, a.status, a.score FROM attempts a JOIN users u ON u.id = a.user_id")
    assert sorted((row.phone, row.status, row.score) for row in rows) == sorted(
        (phone, "submitted", reply.json["result"]["score"]) for phone, reply in retried.items())
    assert check_attempts_whole(deployment) == {"submitted": len(players)}

    # The board counts each citizen and each attempt exactly once, even for submits recorded twice.
    # A worker killed while it rebuilt the board leaves it dark until the lease on the
    # rebuild lock runs out (leaderboard.REBUILD_LOCK_S); the catch-up then rebuilds it.
    top = wait_for(lambda: (reply := board(host)).status == 200 and reply, leaderboard.REBUILD_LOCK_S + 15,
                   "the board back after the kills", interval=0.5)
    assert top.json["total"] == len(players)
    assert sorted(e["score"] for e in top.json["entries"]) == sorted(row.score for row in rows)
    districts = host.get("/api/v1/districts").json["districts"]
    assert sum(d["participants"] for d in districts) == len(players)
    assert sum(d["attempts"] for d in districts) == len(players)
    print(f"{kills} workers killed, {len(cut)} submits cut off")
