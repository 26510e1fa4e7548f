"""The same leaderboard code on a three-master Redis Cluster (REDIS_URL=redis-cluster://...)."""
import pytest

from faults.harness import board, wait_for
from quiz import leaderboard
from quiz.contest.rules import current_contest
from quiz.extensions import db

pytestmark = pytest.mark.slow


def test_the_leaderboard_works_on_a_redis_cluster_with_each_contest_in_one_slot(deploy, redis_cluster):
    deployment = deploy(f"redis-cluster://127.0.0.1:{redis_cluster[1].port}")
    host = deployment.host()
    players = deployment.players(12, answers=0)

    with deployment.app.app_context():
        events = leaderboard.subscribe(current_contest(db.session, _now()))
        for n, player in enumerate(players):
            attempt = host.get(f"/api/v1/attempts/{player.attempt_id}", token=player.token).json["attempt"]
            for question in attempt["questions"][:n]:
                host.put(f"/api/v1/attempts/{player.attempt_id}/answers/{question['id']}",
                         {"choices": [question["options"][0]["key"]]}, token=player.token)
            reply = player.submit(host)
            assert reply.status == 200 and reply.json["result"]["rank"]["city"] >= 1, reply
        # Pub/sub reaches a subscriber connected to whichever node owns the channel's slot.
        received = []
        wait_for(lambda: (m := events.get_message(timeout=0.2)) and received.append(m["data"]) or
                 b"result" in received, 10, "a result event")
        events.close()

    top = board(host)
    assert top.status == 200 and top.json["total"] == len(players)
    scores = [e["score"] for e in top.json["entries"]]
    assert scores == sorted(scores, reverse=True)
    sql_scores = sorted(row.score for row in deployment.sql("SELECT score FROM attempts"))
    assert sorted(scores) == sql_scores
    for player in players:
        me = host.get("/api/v1/me", token=player.token).json
        assert me["rank"]["city"] is not None and me["rank"]["district"] is not None
    districts = host.get("/api/v1/districts").json["districts"]
    assert sum(d["participants"] for d in districts) == len(players)

    # A rebuild (MULTI with RENAME inside the contest's slot) gives the same board.
    host.flask("leaderboard", "rebuild")
    assert board(host).json["entries"] == top.json["entries"]
    assert host.get("/api/v1/districts").json["districts"] == districts

    # Every key of the contest hashes to one slot, so one node holds them all.
    pattern = f"quiz:{{{deployment.slug}}}:*"
    keys_by_node = {node.port: node.command("KEYS", pattern) for node in redis_cluster}
    holders = [port for port, keys in keys_by_node.items() if keys]
    assert len(holders) == 1
    keys = keys_by_node[holders[0]]
    assert len(keys) >= 5
    assert len({redis_cluster[0].command("CLUSTER", "KEYSLOT", key) for key in keys}) == 1

def _now():
    from quiz.clock import utcnow

    return utcnow()
