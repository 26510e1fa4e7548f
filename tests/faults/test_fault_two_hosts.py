"""Two app hosts sharing one database and one Redis, as behind a load balancer."""
import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from faults.harness import answer, board, correct_choices, start_attempt

pytestmark = pytest.mark.slow


def cheat(deployment, attempt):
    sheet = correct_choices(deployment, attempt["id"])
    return lambda question: sheet[question["id"]]


def submit_on_both(host_a, host_b, token, attempt_id):
    """The same submit sent to both hosts at the same moment (a double tap across two servers)."""
    ready = threading.Barrier(2)

    def send(host):
        ready.wait(10)
        return host.post(f"/api/v1/attempts/{attempt_id}/submit", token=token)

    with ThreadPoolExecutor(2) as pool:
        return [f.result() for f in [pool.submit(send, host_a), pool.submit(send, host_b)]]


class DisplayStream:
    """A big screen on one host: reads the Server-Sent Events of /display/events."""

    def __init__(self, host):
        self.conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=15)
        self.conn.request("GET", "/display/events", headers={"Accept": "text/event-stream"})
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")

    def next_snapshot(self) -> dict:
        event, data = None, []
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data.append(line.split(":", 1)[1].strip())
            elif line == "" and event == "snapshot" and data:
                return json.loads("\n".join(data))
            elif line == "" and not data:
                event = None

    def close(self):
        self.conn.close()


def test_a_citizen_moves_between_hosts_and_a_display_on_the_other_host_sees_the_result(
        deploy, shared_redis_url):
    deployment = deploy(shared_redis_url)
    host_a, host_b = deployment.host("a"), deployment.host("b")
    phone, = deployment.citizens(1)
    token = host_a.token(phone)

    # Started on A; B serves the same paper, takes the answers and the submit.
    attempt = start_attempt(host_a, token)
    assert host_b.get(f"/api/v1/attempts/{attempt['id']}", token=token).json["attempt"]["questions"] == \
        attempt["questions"]
    answer(host_b, token, attempt, how=cheat(deployment, attempt))

    display = DisplayStream(host_a)
    try:
        assert display.next_snapshot()["participants"] == 0
        submitted = host_b.post(f"/api/v1/attempts/{attempt['id']}/submit", token=token)
        shown = display.next_snapshot()  # pushed through Redis pub/sub from B to A's stream
    finally:
        display.close()
    assert submitted.status == 200 and submitted.json["result"]["score"] == 100
    assert submitted.json["result"]["rank"] == {"city": 1, "district": 1}
    assert shown["participants"] == 1 and shown["attempts"] == 1
    assert [(entry["rank"], entry["score"]) for entry in shown["top"]] == [(1, 100)]
    seen_on_a = host_a.get(f"/api/v1/attempts/{attempt['id']}", token=token).json["attempt"]
    assert seen_on_a["status"] == "submitted" and seen_on_a["result"]["score"] == 100


def test_concurrent_submits_on_both_hosts_never_regress_the_board(deploy, shared_redis_url):
    deployment = deploy(shared_redis_url)
    host_a, host_b = deployment.host("a"), deployment.host("b")
    phones = deployment.citizens(8)
    tokens = {phone: host_a.token(phone) for phone in phones}

    def better_then_worse(phone):
        token = tokens[phone]
        good = start_attempt(host_a, token)
        answer(host_b, token, good, how=cheat(deployment, good), count=10)
        good_replies = submit_on_both(host_a, host_b, token, good["id"])
        poor = start_attempt(host_b, token)
        answer(host_a, token, poor, count=3, how=lambda q: [q["options"][-1]["key"]])
        poor_replies = submit_on_both(host_a, host_b, token, poor["id"])
        return phone, good_replies, poor_replies

    with ThreadPoolExecutor(len(phones)) as pool:
        outcomes = [f.result() for f in [pool.submit(better_then_worse, phone) for phone in phones]]

    best = {}
    for phone, good_replies, poor_replies in outcomes:
        for replies in (good_replies, poor_replies):
            assert [r.status for r in replies] == [200, 200], replies
            assert replies[0].json["result"]["score"] == replies[1].json["result"]["score"]
        good_score = good_replies[0].json["result"]["score"]
        assert good_score >= 50 > poor_replies[0].json["result"]["score"]
        best[phone] = good_score

    # Two attempts per citizen in SQL; the board keeps each citizen's better one, on both hosts.
    rows = deployment.sql("SELECT u.phone, COUNT(*) AS n FROM attempts a JOIN users u ON u.id = a.user_id "
                          "WHERE a.status = 'submitted' GROUP BY u.phone")
    assert {row.phone: row.n for row in rows} == dict.fromkeys(phones, 2)
    for host in (host_a, host_b):
        top = board(host)
        assert top.json["total"] == len(phones)
        assert sorted(e["score"] for e in top.json["entries"]) == sorted(best.values())
        for phone in phones:
            assert host.get("/api/v1/me", token=tokens[phone]).json["best"]["score"] == best[phone]
    assert sum(d["attempts"] for d in host_b.get("/api/v1/districts").json["districts"]) == 2 * len(phones)
