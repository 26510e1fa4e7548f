"""Issue 14, contest integrity: practice never shows a running contest's keys (item 1), the
daily limit holds against racing starts (item 2), a bank upload does not change a running
contest until it is imported again (item 5), and practice papers are bounded per day."""
import io
import re
import threading
from datetime import timedelta

import pytest
from admin_console import make_organizer, page_token, sign_in
from conftest import BANKS, DURING, PRACTICE_BANK, SAMPLE_BANK, SAMPLE_CONTEST, ApiClient
from sqlalchemy import func, select

from quiz.bank.importer import import_bank
from quiz.clock import iso, utcnow
from quiz.contest import attempts
from quiz.contest.definition import import_contest
from quiz.extensions import db
from quiz.models import Attempt, AttemptQuestion, AuditEntry, Bank, Contest, Question

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class Phone:
    """A citizen's browser without JavaScript: cookies and the last page's CSRF token."""

    def __init__(self, app):
        self.client = app.test_client()
        self.token = None

    def get(self, path) -> str:
        html = self.client.get(path).get_data(as_text=True)
        match = CSRF.search(html)
        if match:
            self.token = match.group(1) or match.group(2)
        return html

    def post(self, path, page, data=None):
        self.get(page)
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})})

    def login(self, phone):
        response = self.post("/login", "/login", {"phone": phone, "password": "password123"})
        assert response.status_code == 302, response.get_data(as_text=True)
        return self

    def start_practice(self) -> str:
        """POST /practice/start, then the /practice page it leads to."""
        response = self.post("/practice/start", "/practice")
        assert response.status_code == 302 and response.headers["Location"] == "/practice"
        return self.get("/practice")


def practice_attempts(user) -> list[Attempt]:
    db.session.expire_all()
    return db.session.scalars(select(Attempt).where(Attempt.user_id == user.id, Attempt.practice.is_(True))).all()


def paper_banks(attempt: Attempt) -> set[int]:
    return set(db.session.scalars(select(Question.bank_id).join(AttemptQuestion, AttemptQuestion.question_id == Question.id)
                                  .where(AttemptQuestion.attempt_id == attempt.id)))


def sample_contest(**lines) -> bytes:
    """The sample contest file with some top-level lines replaced or added (key: value)."""
    text = SAMPLE_CONTEST.read_text(encoding="utf-8")
    for key, value in lines.items():
        if re.search(rf"^{key}:", text, re.M):
            text = re.sub(rf"^{key}:.*$", f"{key}: {value}", text, flags=re.M)
        else:
            text += f"\n{key}: {value}\n"
    return text.encode("utf-8")


def shanghai(moment) -> str:
    return iso(moment)  # a naive-UTC instant as the file writes it, with its +08:00 offset


# ---- item 1: practice gives away the live answer key ------------------------------------

def test_practice_is_closed_while_the_contest_runs_without_a_practice_bank(app, open_contest, citizens):
    citizen = citizens.make()
    phone = Phone(app).login(citizen.phone)
    page = phone.get("/practice")
    assert 'id="start-practice"' not in page
    assert "竞赛进行中，练习暂停" in page and 'id="practice-blocked"' in page
    page = phone.start_practice()
    assert "flash-error" in page and "竞赛进行中，练习暂停" in page
    assert practice_attempts(citizen) == []


def test_practice_is_closed_before_the_contest_opens(app, sample_bank, citizens):
    now = utcnow()
    import_contest(db.session, sample_contest(starts_at=shanghai(now + timedelta(days=2)),
                                              ends_at=shanghai(now + timedelta(days=9))))
    citizen = citizens.make()
    page = Phone(app).login(citizen.phone).start_practice()
    assert "竞赛尚未开始，练习暂未开放" in page
    assert practice_attempts(citizen) == []


def test_post_contest_practice_waits_until_no_timed_attempt_can_run(app, sample_bank, citizens):
    """An attempt started just before the end runs on for the time limit: practice on the
    contest's bank opens after that, not at ends_at."""
    now = utcnow()
    import_contest(db.session, sample_contest(starts_at=shanghai(now - timedelta(days=1)),
                                              ends_at=shanghai(now - timedelta(seconds=60))))
    citizen = citizens.make()
    page = Phone(app).login(citizen.phone).start_practice()
    assert "赛后练习将于" in page and 'id="start-practice"' not in page
    assert practice_attempts(citizen) == []


def test_after_the_contest_practice_draws_from_its_pinned_bank(app, contest, citizens):
    citizen = citizens.make()
    page = Phone(app).login(citizen.phone).start_practice()
    assert 'id="quiz-form"' in page
    [practice] = practice_attempts(citizen)
    assert paper_banks(practice) == {contest.bank_id}


def test_a_practice_bank_serves_practice_during_the_contest_and_never_the_contest_bank(app, open_practice_contest, citizens):
    citizen = citizens.make()
    page = Phone(app).login(citizen.phone).start_practice()
    assert 'id="quiz-form"' in page and 'id="countdown"' not in page
    [practice] = practice_attempts(citizen)
    practice_bank = db.session.scalar(select(Bank.id).where(Bank.slug == "test-bank"))
    assert paper_banks(practice) == {practice_bank} != {open_practice_contest.bank_id}


def test_practice_is_refused_while_a_timed_attempt_runs(app, open_practice_contest, citizens):
    citizen = citizens.make()
    phone = Phone(app).login(citizen.phone)
    assert phone.post("/quiz/start", "/").headers["Location"] == "/quiz"
    page = phone.start_practice()
    assert "您有正在进行的正式答题，交卷后才能练习" in page and 'id="start-practice"' not in page
    assert practice_attempts(citizen) == []


def test_practice_papers_are_bounded_per_day(app_with, open_practice_contest, citizens):
    citizen = citizens.make()
    phone = Phone(app_with(PRACTICE_PER_DAY=2)).login(citizen.phone)
    for _ in range(2):
        assert 'id="quiz-form"' in phone.start_practice()
        practice = max(practice_attempts(citizen), key=lambda a: a.id)
        response = phone.post(f"/quiz/{practice.id}/answers", "/practice", {"action": "submit"})
        assert response.headers["Location"] == f"/result/{practice.id}"
    page = phone.start_practice()
    assert "今天的 2 次练习机会已用完" in page and 'id="start-practice"' not in page
    assert len(practice_attempts(citizen)) == 2


def test_the_contest_file_names_a_practice_bank_that_is_another_imported_bank(app, runner, sample_bank, tmp_path):
    def contest_import(raw: bytes):
        path = tmp_path / "contest.yaml"
        path.write_bytes(raw)
        return runner.invoke(args=["contest", "import", str(path)])

    same = contest_import(sample_contest(practice_bank="cz-science-2021"))
    assert same.exit_code == 1 and "practice_bank 必须是与 bank 不同的题库" in same.output
    missing = contest_import(sample_contest(practice_bank="test-bank"))
    assert missing.exit_code == 1 and "练习题库“test-bank”还没有导入" in missing.output

    copy = SAMPLE_BANK.read_text(encoding="utf-8").replace("bank: cz-science-2021", "bank: cz-copy", 1)
    (tmp_path / "copy.yaml").write_text(copy, encoding="utf-8")
    assert runner.invoke(args=["bank", "import", str(tmp_path / "copy.yaml")]).exit_code == 0
    copied = contest_import(sample_contest(practice_bank="cz-copy"))
    assert copied.exit_code == 1 and "练习题库“cz-copy”与题库“cz-science-2021”有 462 道相同的题" in copied.output
    assert db.session.scalar(select(func.count()).select_from(Contest)) == 0

    assert runner.invoke(args=["bank", "import", str(PRACTICE_BANK)]).exit_code == 0
    named = contest_import(sample_contest(practice_bank="test-bank"))
    assert named.exit_code == 0, named.output
    assert db.session.scalar(select(Contest.practice_bank_slug)) == "test-bank"


# ---- item 2: the daily limit can be raced -------------------------------------------------

def _at_once(count: int, work) -> tuple[list, list]:
    """Run work(i) in `count` threads released together: (results, exceptions)."""
    barrier = threading.Barrier(count)
    results, failures = [], []

    def run(i):
        barrier.wait(timeout=10)
        try:
            results.append(work(i))
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a start hung"
    return results, failures


def _token_for(app, citizen) -> str:
    return ApiClient(app.test_client()).login(citizen.phone).token


def _timed_attempts(citizen) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Attempt)
                             .where(Attempt.user_id == citizen.id, Attempt.practice.is_(False)))


def test_simultaneous_starts_make_one_attempt_and_resume_it(app, open_contest, citizens):
    citizen = citizens.make()
    token = _token_for(app, citizen)

    def start(_i):
        client = ApiClient(app.test_client())  # each request in its own app context
        client.token = token
        response = client.post("/api/v1/attempts")
        return response.status_code, response.get_json()

    results, failures = _at_once(8, start)
    assert not failures
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 7 + [201], results
    assert len({body["attempt"]["id"] for _, body in results}) == 1
    assert _timed_attempts(citizen) == 1


def test_starts_racing_a_hand_in_never_exceed_attempts_per_day(app, open_contest, citizens):
    assert open_contest.attempts_per_day == 1
    for trial in range(10):
        citizen = citizens.make()
        token = _token_for(app, citizen)

        def start_and_hand_in(_i, token=token):
            client = ApiClient(app.test_client())
            client.token = token
            started = client.post("/api/v1/attempts")
            outcome = [started.status_code, started.get_json()]
            if started.status_code in (200, 201):
                submitted = client.post(f"/api/v1/attempts/{started.get_json()['attempt']['id']}/submit")
                outcome.append(submitted.status_code)
            return outcome

        results, failures = _at_once(4, start_and_hand_in)
        assert not failures
        for outcome in results:
            assert outcome[0] in (200, 201, 429), (trial, outcome)
            if outcome[0] == 429:
                assert outcome[1]["error"]["code"] == "daily_limit"
            else:
                assert outcome[2] == 200, (trial, outcome)
        assert _timed_attempts(citizen) == 1, (trial, results)


# ---- item 5: a bank upload silently changes a running contest -------------------------------

GOOD = PRACTICE_BANK.read_text(encoding="utf-8")
ONE_QUESTION = GOOD[:GOOD.index("  - id: safety-002")].replace("version: 1", "version: 2")
EXTENDED = GOOD.replace("version: 1", "version: 3") + """
  - id: health-002
    type: single
    category: health
    difficulty: 1
    stem: "饭前便后应该怎么做？"
    options:
      A: "洗手"
      B: "不用管"
    answer: A
    explanation: "勤洗手可以预防肠道传染病。"
"""


def _pinned(slug="test-contest") -> tuple[str, int]:
    db.session.expire_all()
    bank = db.session.scalar(select(Bank).join(Contest, Contest.bank_id == Bank.id).where(Contest.slug == slug))
    return bank.slug, bank.version


def test_a_contest_keeps_its_bank_version_until_imported_again_and_a_short_version_is_refused(
        app, runner, citizens, rng, tmp_path):
    contest_file = str(BANKS / "contest.yaml")
    assert runner.invoke(args=["bank", "import", str(PRACTICE_BANK)]).exit_code == 0
    imported = runner.invoke(args=["contest", "import", contest_file])
    assert imported.exit_code == 0, imported.output
    assert "试卷从题库 test-bank 第 1 版抽题" in imported.output

    (tmp_path / "v2.yaml").write_text(ONE_QUESTION, encoding="utf-8")
    uploaded = runner.invoke(args=["bank", "import", str(tmp_path / "v2.yaml")])
    assert uploaded.exit_code == 0 and "第 2 版（共 1 题）" in uploaded.output
    assert _pinned() == ("test-bank", 1)  # the upload changed nothing
    contest = db.session.scalar(select(Contest).where(Contest.slug == "test-contest"))
    attempt, _ = attempts.start_attempt(db.session, citizens.make(), contest, DURING, rng)
    assert attempt.question_count == 3  # a full paper from version 1, not a one-question paper

    refused = runner.invoke(args=["contest", "import", contest_file])
    assert refused.exit_code == 1
    assert "题库 test-bank 第 2 版不够组成试卷；竞赛 test-contest 继续使用 test-bank 第 1 版" in refused.output
    assert "第 2 条抽题规则（category=health）要求 1 道题，但题库中符合条件的只有 0 道" in refused.output
    assert "questions_per_attempt 是 3，但题库只有 1 道未停用的题" in refused.output
    assert _pinned() == ("test-bank", 1)

    (tmp_path / "v3.yaml").write_text(EXTENDED, encoding="utf-8")
    assert runner.invoke(args=["bank", "import", str(tmp_path / "v3.yaml")]).exit_code == 0
    assert _pinned() == ("test-bank", 1)
    switched = runner.invoke(args=["contest", "import", contest_file])
    assert switched.exit_code == 0, switched.output
    assert "试卷从题库 test-bank 第 3 版抽题（由 test-bank 第 1 版切换而来）" in switched.output
    assert _pinned() == ("test-bank", 3)


def test_the_console_switches_a_running_contest_to_a_new_bank_version_only_when_confirmed(client, open_contest):
    sign_in(client, make_organizer("city"))
    import_bank(db.session, SAMPLE_BANK.read_bytes().replace(b"version: 2", b"version: 3", 1), "v3.yaml")
    page = client.get(f"/admin/contests/{open_contest.id}/edit").get_data(as_text=True)
    assert "cz-science-2021 第 2 版" in page and "题库已有第 3 版" in page
    same_rules = sample_contest(starts_at=iso(open_contest.starts_at), ends_at=iso(open_contest.ends_at))

    def upload(**extra):
        token = page_token(client.get("/admin/contests").get_data(as_text=True))
        return client.post("/admin/contests/upload", content_type="multipart/form-data", data={
            "csrf_token": token, "file": (io.BytesIO(same_rules), "contest.yaml"), **extra})

    unconfirmed = upload()
    assert unconfirmed.status_code == 409 and "bank_version" in unconfirmed.get_data(as_text=True)
    assert _pinned("cz-2021-3rd") == ("cz-science-2021", 2)
    assert upload(confirm="y").status_code == 302
    assert _pinned("cz-2021-3rd") == ("cz-science-2021", 3)
    detail = db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "contest.edit_running"))
    assert detail == "cz-2021-3rd: bank_version"


@pytest.mark.parametrize("when", ["before", "after"])
def test_practice_per_day_counts_the_shanghai_day(practice_contest, citizens, rng, when):
    """Two practice papers at 23:59 and 00:01 Asia/Shanghai fall on two days."""
    citizen = citizens.make()
    evening = DURING.replace(hour=15, minute=59)  # 23:59 Shanghai
    first, _ = attempts.start_practice(db.session, citizen, practice_contest, evening, rng, per_day=1)
    attempts.submit_attempt(db.session, citizen, first.id, evening)
    later = evening + timedelta(minutes=2 if when == "after" else 0, seconds=30)
    if when == "after":
        second, created = attempts.start_practice(db.session, citizen, practice_contest, later, rng, per_day=1)
        assert created
    else:
        with pytest.raises(attempts.ContestError) as refused:
            attempts.start_practice(db.session, citizen, practice_contest, later, rng, per_day=1)
        assert refused.value.code == "practice_limit"
