"""Issue 14, the smaller holes: logs without SQL values, YAML that costs no more than its size,
exports that refuse a district they cannot name, a bounded leaderboard cache, a private instance/."""
import logging
import stat
from pathlib import Path

import pytest
import redis as redis_lib
from admin_console import make_organizer, page_token, sign_in
from sqlalchemy import text

from quiz import config as settings
from quiz import create_app, embedded_redis, leaderboard
from quiz.auth import public
from quiz.bank.validator import MAX_PROBLEMS, BankInvalid, validate_bank
from quiz.db import embedded_postgres
from quiz.extensions import db

PHONE = "13812345678"


def mode(path) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


# ---- database errors in the logs ------------------------------------------------------

FAILING = {
    # the value is both a parameter and quoted by the server ('value "138…" is out of range')
    "out_of_range": ["SELECT CAST(:phone AS integer)"],
    # ... or in the server's DETAIL ('Key (phone)=(138…) already exists')
    "unique_violation": ["CREATE TEMP TABLE probe (phone text PRIMARY KEY) ON COMMIT DROP",
                         "INSERT INTO probe VALUES (:phone), (:phone)"],
}


@pytest.mark.parametrize("kind", FAILING)
def test_a_database_error_is_logged_without_its_parameters_or_values(app_with, caplog, kind):
    app = app_with()  # an app of its own: a route is added to it
    def failing_view():
        for statement in FAILING[kind]:
            db.session.execute(text(statement), {"phone": PHONE})
        return "unreachable"

    app.add_url_rule(f"/api/test-db-error-{kind}", view_func=public(failing_view))
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().get(f"/api/test-db-error-{kind}")
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal"
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert PHONE not in logged and PHONE[3:] not in logged
    assert "unhandled database error" in logged and "sqlstate=" in logged  # still says what failed, and where
    assert FAILING[kind][-1].split("(")[0] in logged  # the statement, up to its first parameter


# ---- YAML that costs more than its size -----------------------------------------------

def bank_with(questions: str) -> bytes:
    head = "bank: test-bank\ntitle: 测试题库\nversion: 1\ncategories:\n  safety: 安全常识\nquestions:\n"
    return (head + questions).encode()


def one_question(qid: str, difficulty: str = "1", option_a: str = '"用水浇灭"') -> str:
    return (f"  - id: {qid}\n    type: single\n    category: safety\n    difficulty: {difficulty}\n"
            f"    stem: \"家用电器着火时，首先应该怎么做？\"\n    options:\n      A: {option_a}\n"
            f"      B: \"切断电源\"\n    answer: B\n    explanation: \"先切断电源。\"\n")


@pytest.mark.parametrize("scalar", [
    ":".join(["1"] + ["59"] * 2000),  # base-60 integer: 2,000 multiplications of a growing integer
    "1:2:3:4",
    "-1:30.5",  # base-60 float
    "9" * 4000,  # a numeral of 4,000 digits
    "0b" + "1" * 500,
])
def test_a_base_60_or_huge_number_is_refused_with_its_line(runner, tmp_path, scalar):
    raw = bank_with(one_question("safety-001") + one_question("safety-002", option_a=scalar))
    with pytest.raises(BankInvalid) as refused:
        validate_bank(raw)
    line = raw.decode().splitlines().index(f"      A: {scalar}") + 1
    assert [(p.line, p.question) for p in refused.value.problems] == [(line, None)]
    assert "数字" in refused.value.problems[0].message and "请加引号" in refused.value.problems[0].message
    assert len(refused.value.problems[0].message) < 200  # the scalar is not echoed whole

    path = tmp_path / "bank.yaml"
    path.write_bytes(raw)
    result = runner.invoke(args=["bank", "validate", str(path)])
    assert result.exit_code == 1 and f"{path}:{line}: " in result.output
    assert len(result.output) < 1000
    # Quoted, the same characters are text and the bank is valid.
    assert validate_bank(bank_with(one_question("safety-001", option_a=f'"{scalar}"'))).questions


def test_a_file_of_thousands_of_mistakes_lists_the_first_200_and_counts_the_rest(runner, tmp_path):
    wrong = 1000
    raw = bank_with("".join(one_question(f"q-{n:04d}", difficulty="9") for n in range(wrong)))
    with pytest.raises(BankInvalid) as refused:
        validate_bank(raw)
    problems = refused.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    kept = problems[:-1]
    assert [p.question for p in kept] == [f"q-{n:04d}" for n in range(MAX_PROBLEMS)]  # the first by line
    assert all("难度必须是 1、2 或 3" in p.message for p in kept)
    assert problems[-1].message == f"……还有 {wrong - MAX_PROBLEMS} 个问题"
    assert problems[-1].line > kept[-1].line

    path = tmp_path / "bank.yaml"
    path.write_bytes(raw)
    result = runner.invoke(args=["bank", "validate", str(path)])
    assert result.exit_code == 1
    assert result.output.count(f"{path}:") == MAX_PROBLEMS + 1
    assert f"……还有 {wrong - MAX_PROBLEMS} 个问题" in result.output


def test_thousands_of_duplicate_keys_are_bounded_too():
    doubled = "".join(f"  k{n}: 1\n  k{n}: 2\n" for n in range(1000))
    raw = ("bank: test-bank\ntitle: 测试题库\nversion: 1\nsource_of_trouble:\n" + doubled).encode()
    with pytest.raises(BankInvalid) as refused:
        validate_bank(raw)
    problems = refused.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].message.startswith("……还有 ") and problems[-1].message.endswith(" 个问题")
    shown = len(problems) - 1 + int(problems[-1].message.split()[1])
    assert shown == 1000 + 3  # every duplicate, the unknown key, the missing categories and questions


# ---- exports of a district that cannot be a file name ---------------------------------

@pytest.mark.parametrize("district", ["wujin\r\nSet-Cookie: x=1", "武进", "nowhere"])
def test_an_export_of_an_unknown_district_is_a_400_page(client, contest, district):
    sign_in(client, make_organizer("city"))
    token = page_token(client.get(f"/admin/exports?contest={contest.id}").get_data(as_text=True))
    with client.post(f"/admin/exports?contest={contest.id}",  # closed: a streamed download holds a transaction
                     data={"csrf_token": token, "kind": "results", "fmt": "csv", "district": district}) as response:
        assert response.status_code == 400
        assert "没有这个区县，请从列表中选择。" in response.get_data(as_text=True)
        assert "Content-Disposition" not in response.headers


@pytest.mark.parametrize("district", ["wujin\nx", "武进", "nowhere"])
def test_the_export_command_refuses_an_unknown_district(runner, contest, tmp_path, district):
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["export", "results", "--contest", contest.slug, "--out", str(out),
                                 "--district", district])
    assert result.exit_code == 2, result.output
    assert "未知的区县" in result.output and "wujin" in result.output  # names the known codes
    assert not out.exists()
    assert runner.invoke(args=["export", "results", "--contest", contest.slug, "--out", str(out),
                               "--district", "wujin"]).exit_code == 0


# ---- the leaderboard's shared cache ---------------------------------------------------

def test_a_hundred_distinct_offsets_do_not_make_a_hundred_cache_keys(client, open_contest, redis):
    for offset in range(1, 101):
        response = client.get(f"/api/v1/leaderboard?offset={offset}&limit=20")
        assert response.status_code == 200 and response.get_json()["entries"] == []
    for limit in range(1, 101):
        assert client.get(f"/api/v1/leaderboard?limit={limit}&district=wujin").status_code == 200
    cached = redis.keys(f"quiz:{{{open_contest.slug}}}:cache:*")
    pages = len(leaderboard.CACHED_LIMITS) * leaderboard.CACHED_PAGES
    assert 0 < len(cached) <= 2 * pages, sorted(cached)  # city and wujin: at most the bounded set of each
    assert len(redis.keys(f"quiz:{{{open_contest.slug}}}:cache-lock:*")) <= 2 * pages


# ---- instance/ readable by its owner only ---------------------------------------------

def test_the_instance_folder_key_and_embedded_redis_files_are_owner_only(service_urls, tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    database_url, redis_url, workdir = service_urls
    instance = tmp_path / "fresh" / "instance"
    create_app(settings.TestConfig(str(instance), database_url, redis_url))
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600

    folder = tmp_path / "redis-instance"
    url = embedded_redis.ensure_running(str(folder))
    try:
        with redis_lib.Redis.from_url(url) as client:
            client.set("k", "v")
            client.save()
    finally:
        embedded_redis.stop(str(folder))
    assert mode(folder) == 0o700
    for name in ("redis.rdb", "redis.log", "redis.lock"):
        assert mode(folder / name) == 0o600, name

    if embedded_postgres.instance_for_url(database_url) is not None:  # the suite's embedded server
        data = Path(embedded_postgres.instance_for_url(database_url)) / "postgres"
        assert mode(data) == 0o700
