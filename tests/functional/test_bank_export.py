"""Issue 17, spreadsheet banks end to end: export (YAML and the xlsx template), the round trip
through a new bank, the command line's exit codes and output, and the console's xlsx upload
(dry run, the kept file, import) and template download."""
import html
import io
import re
from pathlib import Path

import pytest
from admin_console import make_organizer, page_token, sign_in
from conftest import BANKS, DURING
from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from quiz.accounts import create_organizer
from quiz.bank.export import export_bank
from quiz.bank.importer import import_bank
from quiz.bank.spreadsheet import XLSX_MIMETYPE, template_workbook
from quiz.bank.validator import validate_bank
from quiz.extensions import db
from quiz.models import Bank, Question

FIELDS = ("qid", "type", "category", "difficulty", "stem", "options", "answer", "explanation", "points", "tags",
          "source", "retired")


def stored_questions(bank: Bank) -> list[tuple]:
    return [tuple(getattr(q, f) for f in FIELDS)
            for q in db.session.scalars(select(Question).where(Question.bank_id == bank.id).order_by(Question.id))]


def renamed_workbook(raw: bytes, slug: str, version: int = 1) -> bytes:
    """An exported workbook edited as an organizer would: another 标识 and 版本 in 题库信息."""
    book = load_workbook(io.BytesIO(raw))
    assert (book["题库信息"]["A1"].value, book["题库信息"]["A3"].value) == ("标识", "版本")
    book["题库信息"]["B1"], book["题库信息"]["B3"] = slug, version
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_sample_bank_round_trips_through_the_xlsx_template(app, sample_bank):
    exported = export_bank(db.session, sample_bank.slug, None, "xlsx")
    assert (exported.questions, exported.retired_left_out) == (462, 0)
    raw = renamed_workbook(exported.content, "cz-science-2021-copy", 7)
    outcome = import_bank(db.session, raw, "题库.xlsx")
    assert outcome.created and (outcome.bank.slug, outcome.bank.version) == ("cz-science-2021-copy", 7)
    assert outcome.bank.title == sample_bank.title and outcome.bank.categories == sample_bank.categories
    assert stored_questions(outcome.bank) == stored_questions(sample_bank)
    # The stored line of a workbook's question is its row in 题目.
    assert db.session.scalars(select(Question.line).where(Question.bank_id == outcome.bank.id)
                              .order_by(Question.id).limit(2)).all() == [2, 3]


def test_sample_bank_round_trips_through_yaml(app, sample_bank, runner, tmp_path):
    exported = export_bank(db.session, sample_bank.slug, None, "yaml")
    path = tmp_path / "copy.yaml"
    path.write_bytes(exported.content.replace(b"\nbank: cz-science-2021\n", b"\nbank: cz-science-2021-copy\n", 1))
    result = runner.invoke(args=["bank", "validate", str(path)])
    assert result.exit_code == 0 and "检查通过：题库 cz-science-2021-copy 第 2 版，共 462 题" in result.output
    outcome = import_bank(db.session, path.read_bytes(), path.name)
    assert stored_questions(outcome.bank) == stored_questions(sample_bank)
    assert validate_bank(exported.content).slug == sample_bank.slug  # as exported, valid too


def test_retired_questions_are_left_out_and_counted(app, sample_bank, runner, tmp_path):
    question = db.session.scalar(select(Question).where(Question.qid == "achievements-002"))
    question.retired = True
    db.session.commit()
    out = tmp_path / "bank.xlsx"
    result = runner.invoke(args=["bank", "export", sample_bank.slug, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{out}: 已将题库 cz-science-2021 第 2 版导出为 xlsx（共 461 题；未包含 1 道已停用的题）"
    assert "achievements-002" not in {q.qid for q in validate_bank(out.read_bytes()).questions}


def test_cli_export_then_import_as_a_new_bank(app, runner, tmp_path):
    assert runner.invoke(args=["bank", "import", str(BANKS / "good.yaml")]).exit_code == 0
    out = tmp_path / "good.xlsx"
    result = runner.invoke(args=["bank", "export", "test-bank", "--version", "1", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0
    assert result.output == f"{out}: 已将题库 test-bank 第 1 版导出为 xlsx（共 3 题）\n"
    out.write_bytes(renamed_workbook(out.read_bytes(), "test-bank", 2))
    result = runner.invoke(args=["bank", "import", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{out}: 已导入题库 test-bank 第 2 版（共 3 题）" in result.output
    old, new = db.session.scalars(select(Bank).order_by(Bank.version)).all()
    assert [q[1:] for q in stored_questions(new)] == [q[1:] for q in stored_questions(old)]
    assert "没有变化" in runner.invoke(args=["bank", "import", str(out)]).output


def test_cli_refuses_a_bad_workbook_with_sheet_and_cell(app, runner, tmp_path):
    assert runner.invoke(args=["bank", "import", str(BANKS / "good.yaml")]).exit_code == 0
    out = tmp_path / "题库.xlsx"
    runner.invoke(args=["bank", "export", "test-bank", "--out", str(out)])
    book = load_workbook(out)
    book["题目"]["N2"], book["题目"]["D3"] = "E", 4
    book.save(out)
    for command in ("validate", "import"):
        result = runner.invoke(args=["bank", command, str(out)])
        assert result.exit_code == 1
        assert result.output.splitlines() == [
            f"{out}:题目!N2: 题目 safety-001：答案 E 不在选项中",
            f"{out}:题目!D3: 题目 safety-002：难度必须是 1、2 或 3，不能是 4",
            "共 2 个问题；没有做任何改动。",
        ]
    assert db.session.scalar(select(func.count()).select_from(Bank)) == 1


def test_cli_refuses_a_file_named_xlsx_that_is_not_one(app, runner, tmp_path):
    path = tmp_path / "bank.xlsx"
    path.write_bytes((BANKS / "good.yaml").read_bytes())
    result = runner.invoke(args=["bank", "import", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{path}:1: 不是有效的 Excel 工作簿（.xlsx）：无法作为 zip 文件打开"
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args,message", [
    (["no-such-bank"], "Error: 没有题库 no-such-bank"),
    (["test-bank", "--version", "9"], "Error: 题库 test-bank 没有第 9 版"),
])
def test_cli_export_of_an_unknown_bank_exits_1(app, runner, tmp_path, args, message):
    import_bank(db.session, (BANKS / "good.yaml").read_bytes(), "good.yaml")
    result = runner.invoke(args=["bank", "export", *args, "--out", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_api_takes_a_workbook_and_names_the_cell_of_a_problem(app, api):
    create_organizer(db.session, "13800000001", "组织者", "organizer-pass-1", "city", None, DURING)
    api.login("13800000001", "organizer-pass-1")

    def post(raw: bytes):
        boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(raw), "题库.xlsx")})
        return api.post("/api/v1/admin/banks", data=body, content_type=f"multipart/form-data; boundary={boundary}")

    book = load_workbook(io.BytesIO(template_workbook()))
    book["题目"]["D3"] = 5
    bad = io.BytesIO()
    book.save(bad)
    response = post(bad.getvalue())
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"line": 3, "cell": "题目!D3", "question": "health-001",
                                              "message": "难度必须是 1、2 或 3，不能是 5"}]
    assert post(template_workbook()).status_code == 201


def test_api_takes_a_workbook_as_the_raw_body(app, api):
    create_organizer(db.session, "13800000001", "组织者", "organizer-pass-1", "city", None, DURING)
    api.login("13800000001", "organizer-pass-1")
    response = api.post("/api/v1/admin/banks", data=template_workbook(), content_type=XLSX_MIMETYPE)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["bank"]["version"] == 1
    unsupported = api.post("/api/v1/admin/banks", data=template_workbook(), content_type="application/zip")
    assert unsupported.status_code == 415 and unsupported.get_json()["error"]["code"] == "unsupported_media_type"


# ---- the console ------------------------------------------------------------------

@pytest.fixture
def city(client, app):
    organizer = make_organizer("city")
    sign_in(client, organizer)
    return organizer


def upload(client, action, raw=None, name="题库.xlsx", **extra):
    token = page_token(client.get("/admin/banks").get_data(as_text=True))
    data = {"csrf_token": token, "action": action, **extra}
    if raw is not None:
        data["file"] = FileStorage(io.BytesIO(raw), name)
    boundary, body = encode_multipart(data)
    return client.post("/admin/banks", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_console_template_download(client, city):
    page = client.get("/admin/banks").get_data(as_text=True)
    assert 'href="/admin/banks/template.xlsx"' in page and ".xlsx" in re.search(r'accept="([^"]+)"', page).group(1)
    response = client.get("/admin/banks/template.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX_MIMETYPE
    assert "%E9%A2%98%E5%BA%93%E6%A8%A1%E6%9D%BF.xlsx" in response.headers["Content-Disposition"]  # 题库模板.xlsx
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["题库信息", "分类", "题目"]
    assert len(validate_bank(response.data).questions) == 2


def test_the_template_is_for_organizers_only(client, app):
    assert client.get("/admin/banks/template.xlsx").status_code == 302  # to the login page
    sign_in(client, make_organizer("district", "wujin"))
    assert client.get("/admin/banks/template.xlsx").status_code == 200


def test_console_xlsx_dry_run_keeps_the_file_then_imports_it(client, app, city):
    import_bank(db.session, (BANKS / "good.yaml").read_bytes(), "good.yaml")
    raw = renamed_workbook(export_bank(db.session, "test-bank", None, "xlsx").content, "sheet-bank")
    response = upload(client, "dry-run", raw)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "检查通过" in page and "sheet-bank" in page
    digest = re.search(r'name="pending" value="([0-9a-f]{64})"', page).group(1)
    assert (Path(app.instance_path) / "uploads" / f"{digest}.yaml").read_bytes() == raw
    response = upload(client, "import", None, pending=digest, pending_name="题库.xlsx")
    assert response.status_code == 302
    bank = db.session.scalar(select(Bank).where(Bank.slug == "sheet-bank"))
    assert bank.filename == "题库.xlsx" and len(stored_questions(bank)) == 3


def test_console_shows_a_workbook_problem_with_its_sheet_and_cell(client, city):
    book = load_workbook(io.BytesIO(client.get("/admin/banks/template.xlsx").data))
    book["题目"]["N2"] = "AE"
    out = io.BytesIO()
    book.save(out)
    response = upload(client, "dry-run", out.getvalue())
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    items = re.findall(r"<li>(.*?)</li>", re.search(r'<ul id="bank-problems"[^>]*>(.*?)</ul>', page, re.S).group(1), re.S)
    assert len(items) == 1
    assert "题目!N2" in items[0] and "行" not in items[0] and "答案 E 不在选项中" in items[0]
    assert db.session.scalar(select(func.count()).select_from(Bank)) == 0

