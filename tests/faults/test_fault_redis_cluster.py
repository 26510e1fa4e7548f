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


def test_the_login_budgets_count_on_a_redis_cluster(redis_cluster, service_urls, citizens):
    """A login's budgets are keyed by phone and address, so their keys fall in several slots:
    on a cluster they are counted with plain commands (quiz/web/budgets.py), not one script."""
    from quiz import config as quiz_config
    from quiz import create_app
    from quiz.db.session import dispose_engines
    from quiz.extensions import limiter

    database_url, _, workdir = service_urls
    config = quiz_config.TestConfig(str(workdir / "instance"), database_url,
                                    f"redis-cluster://127.0.0.1:{redis_cluster[0].port}")
    config.RATELIMIT_ENABLED = True
    app = create_app(config)
    citizen = citizens.make()
    client = app.test_client()
    try:
        for _ in range(10):
            assert client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": "wrong-password"},
                               environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 401
        refused = client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": "password123"},
                              environ_base={"REMOTE_ADDR": "10.9.9.9"})
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 300
        assert client.post("/api/v1/auth/token", json={"phone": citizen.phone, "password": "password123"},
                           environ_base={"REMOTE_ADDR": "10.9.9.10"}).status_code == 200
        counted = [node.command("KEYS", "budget:*") for node in redis_cluster]
        assert sum(1 for keys in counted if keys) >= 2  # the keys are on more than one node
    finally:
        with app.app_context():
            dispose_engines()
        cluster = app.extensions["quiz_redis"].client()
        for node in cluster.get_nodes():  # close() leaves the pipelines' connections to the GC
            node.redis_connection.connection_pool.disconnect()
        cluster.close()
        limiter.storage.storage.close()
        limiter._storage_dead = False
