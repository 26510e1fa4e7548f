"""The banks page: dry run with every problem, import, the 5 MB limit, browsing, retiring."""
import html
import io
import re
from pathlib import Path

import pytest
from admin_console import finished_attempt, make_organizer, page_token, sign_in
from conftest import BANKS, DURING
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from quiz.clock import utcnow
from quiz.contest import attempts
from quiz.extensions import db
from quiz.models import AuditEntry, Bank, Question


@pytest.fixture
def city(client, app):
    organizer = make_organizer("city")
    sign_in(client, organizer)
    return organizer


def upload(client, action, raw=None, name="bank.yaml", **extra):
    token = page_token(client.get("/admin/banks").get_data(as_text=True))
    data = {"csrf_token": token, "action": action, **extra}
    if raw is not None:
        data["file"] = FileStorage(io.BytesIO(raw), name)
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(data)
    return client.post("/admin/banks", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def bank_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Bank))


def test_dry_run_lists_every_problem_with_line_and_question(client, city):
    response = upload(client, "dry-run", (BANKS / "bad-duplicate-id.yaml").read_bytes(), "bad.yaml")
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    problems = re.search(r'<ul id="bank-problems"[^>]*>(.*?)</ul>', page, re.S).group(1)
    items = re.findall(r"<li>(.*?)</li>", problems, re.S)
    assert len(items) == 1
    assert "第 35 行" in items[0] and "safety-001" in items[0] and "题目编号重复（第 9 行也有）" in items[0]
    assert bank_count() == 0


def test_dry_run_keeps_the_file_then_import_uses_it(client, app, city):
    raw = (BANKS / "good.yaml").read_bytes()
    response = upload(client, "dry-run", raw, "good.yaml")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "检查通过" in page and bank_count() == 0
    digest = re.search(r'name="pending" value="([0-9a-f]{64})"', page).group(1)
    kept = Path(app.instance_path) / "uploads" / f"{digest}.yaml"
    assert kept.read_bytes() == raw

    response = upload(client, "import", None, pending=digest, pending_name="good.yaml")
    assert response.status_code == 302
    bank = db.session.scalar(select(Bank))
    assert (bank.slug, bank.filename) == ("test-bank", "good.yaml")
    assert not kept.exists()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "bank.import"))
    assert entry.actor == city.phone and "test-bank v1" in entry.detail
    assert "已导入题库" in client.get("/admin/banks").get_data(as_text=True)


def test_import_straight_from_a_chosen_file_and_again_changes_nothing(client, city):
    raw = (BANKS / "good.yaml").read_bytes()
    assert upload(client, "import", raw).status_code == 302
    assert upload(client, "import", raw).status_code == 302
    assert bank_count() == 1
    assert "已经导入过" in client.get("/admin/banks").get_data(as_text=True)


def test_a_pending_digest_that_was_never_uploaded_imports_nothing(client, city):
    response = upload(client, "import", None, pending="0" * 64)
    assert "请选择要上传的题库文件" in response.get_data(as_text=True)
    assert bank_count() == 0


def test_files_over_5_mb_are_refused(client, city):
    raw = (BANKS / "good.yaml").read_bytes() + b"#" * (5 * 1024 * 1024)
    response = upload(client, "dry-run", raw)
    assert "不能超过 5 MB" in response.get_data(as_text=True)
    assert bank_count() == 0


def test_browse_and_search_questions(client, city, sample_bank):
    base = f"/admin/banks/{sample_bank.id}"
    page = client.get(base).get_data(as_text=True)
    assert "共 462 题" in page
    page = client.get(base, query_string={"q": "人造地球卫星", "type": "single"}).get_data(as_text=True)
    assert "东方红一号" in page and "achievements-002" in page
    page = client.get(base, query_string={"category": "spirit"}).get_data(as_text=True)
    assert "achievements-" not in page and "spirit-" in page
    page = client.get(base, query_string={"q": "100%_不存在"}).get_data(as_text=True)
    assert "共 0 题" in page


def test_retired_question_is_no_longer_drawn_but_past_attempts_keep_it(client, city, contest, citizens):
    question = db.session.scalar(select(Question).where(Question.qid == "achievements-002"))
    citizen = citizens.make(district="wujin")
    finished_attempt(contest, citizen, DURING, [(question, list(question.answer), 20)])
    token = page_token(client.get(f"/admin/banks/{question.bank_id}").get_data(as_text=True))

    response = client.post(f"/admin/questions/{question.id}/retire", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(question)
    assert question.retired
    assert db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "question.retire")).endswith("achievements-002")

    # 60 practice papers of 20 from 461 active questions, each with 4 of the 119 achievements questions:
    # a retired question that was still drawn would show up with probability 1 − (1 − 4/119 − 16/461)^60 > 98%.
    learner = citizens.make(district="wujin")
    for _ in range(60):
        practice, _ = attempts.start_practice(db.session, learner, contest, utcnow(), per_day=60)
        assert question.id not in {item.question_id for item in practice.items}
        attempts.submit_attempt(db.session, learner, practice.id, utcnow())

    page = client.get(f"/admin/results/citizens/{citizen.id}").get_data(as_text=True)
    assert "东方红一号" in page  # the past attempt still shows it

    client.post(f"/admin/questions/{question.id}/restore", data={"csrf_token": token})
    db.session.refresh(question)
    assert not question.retired


def test_district_organizers_browse_but_cannot_upload(client, sample_bank):
    sign_in(client, make_organizer("district", "wujin"))
    page = client.get("/admin/banks").get_data(as_text=True)
    assert "浏览题目" in page and 'id="bank-upload"' not in page
    assert 'action="/admin/questions/' not in client.get(f"/admin/banks/{sample_bank.id}").get_data(as_text=True)
