"""Issue 2: every bad bank file is refused the same way by the CLI and the API, with
its line, its question and a clear message, and the database stays as it was."""
import re
from pathlib import Path

import pytest
from conftest import BANKS, DURING
from sqlalchemy import func, select

from quiz.accounts import create_organizer
from quiz.bank.importer import import_bank
from quiz.contest import attempts
from quiz.contest.definition import import_contest
from quiz.extensions import db
from quiz.models import Attempt, Bank, Question

GOOD = BANKS / "good.yaml"
ORGANIZER_PHONE = "13800000001"
ORGANIZER_PASSWORD = "organizer-pass-1"

# file in tests/banks (or a generated one, see bad_bytes): line, question, part of the message
BAD_FILES = [
    ("bad-not-yaml.yaml", 10, None, "不是有效的 YAML"),
    ("bad-not-mapping.yaml", 2, None, "的 YAML 映射"),
    ("bad-missing-top-key.yaml", 2, None, "缺少顶层键“title”"),
    ("bad-unknown-top-key.yaml", 5, None, "未知的顶层键“author”"),
    ("bad-missing-question-key.yaml", 35, "health-001", "题目缺少键“explanation”"),
    ("bad-unknown-question-key.yaml", 20, "safety-001", "未知的题目键“hint”"),
    ("bad-duplicate-id.yaml", 35, "safety-001", "题目编号重复（第 9 行也有）"),
    ("bad-duplicate-key.yaml", 27, "safety-002", "键“stem”重复（第一次出现在第 26 行）"),
    ("bad-unknown-type.yaml", 10, "safety-001", "未知的题型“fill”"),
    ("bad-option-count.yaml", 14, "safety-001", "需要 2 到 8 个选项，现在有 1 个"),
    ("bad-option-keys.yaml", 17, "safety-001", "选项字母必须依次是 A, B, C, D"),
    ("bad-duplicate-option.yaml", 30, "safety-002", "选项 A 和 C 的内容相同"),
    ("bad-answer-not-option.yaml", 19, "safety-001", "答案 E 不在选项中"),
    ("bad-multiple-one-key.yaml", 32, "safety-002", "多选题的答案至少要有两个选项"),
    ("bad-judge-options.yaml", 40, "health-001", "判断题不能有选项"),
    ("bad-judge-answer.yaml", 40, "health-001", "判断题的答案必须是 true 或 false"),
    ("bad-empty-stem.yaml", 26, "safety-002", "题干为空"),
    ("bad-undeclared-category.yaml", 37, "health-001", "分类“food”没有在 categories 中声明"),
    ("bad-difficulty.yaml", 25, "safety-002", "难度必须是 1、2 或 3，不能是 4"),
    ("bad-wrong-type.yaml", 42, "health-001", "分值必须是非负整数，不能是 '2'"),
    ("bad-python-tag.yaml", 13, None, "不允许使用 YAML 标签 !!python/object/apply:os.system"),
    ("generated-alias-bomb.yaml", 44, None, "不允许使用 YAML 锚点（&name）"),
    ("generated-too-big.yaml", 1, None, "最多 5242880 字节"),
    ("generated-not-utf8.yaml", 13, None, "文件不是 UTF-8 编码的文本"),
]

# All five problems of one file, in line order.
MULTI_PROBLEM = [
    (5, None, "未知的顶层键“author”"),
    (13, "safety-001", "难度必须是 1、2 或 3，不能是 0"),
    (20, "safety-001", "答案 E 不在选项中"),
    (36, "safety-001", "题目编号重复（第 10 行也有）"),
    (38, "safety-001", "分类“food”没有在 categories 中声明"),
]


def bad_bytes(name: str) -> bytes:
    """A bad file's content; the big ones are derived from good.yaml here rather than committed."""
    good = GOOD.read_bytes()
    if name == "generated-alias-bomb.yaml":
        # billion laughs: 9 levels of 9 aliases each would expand to 9**9 strings
        levels = ["  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        levels += [f"  l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 9)]
        return good + ("bomb:\n" + "\n".join(levels) + "\n").encode()  # line 43 is "bomb:"
    if name == "generated-too-big.yaml":
        padding = b"# " + b"x" * 1000 + b"\n"
        return good + padding * (5 * 1024 * 1024 // len(padding) + 1)  # just over 5 MB, under MAX_CONTENT_LENGTH
    if name == "generated-not-utf8.yaml":
        return good.replace("家用电器".encode(), "家用电器".encode("gbk"))
    return (BANKS / name).read_bytes()


def bad_path(name: str, tmp_path: Path) -> Path:
    if name.startswith("generated-"):
        path = tmp_path / name
        path.write_bytes(bad_bytes(name))
        return path
    return BANKS / name


def counts() -> tuple[int, int]:
    return db.session.scalar(select(func.count(Bank.id))), db.session.scalar(select(func.count(Question.id)))


def expected_line(path, line, question, message) -> str:
    prefix = f"{path}:{line}: " + (f"题目 {question}：" if question else "")
    return prefix, message


@pytest.fixture
def good_bank(app):
    """The good bank already imported, so 'unchanged' means rows that exist stay as they are."""
    return import_bank(db.session, GOOD.read_bytes(), GOOD.name).bank


@pytest.fixture
def organizer_api(app, api):
    create_organizer(db.session, ORGANIZER_PHONE, "组织者", ORGANIZER_PASSWORD, "city", None, DURING)
    return api.login(ORGANIZER_PHONE, ORGANIZER_PASSWORD)


def assert_cli_refused(result, path, problems):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(f"{path}:")]
    assert len(lines) == len(problems), result.output
    for line, (number, question, message) in zip(lines, problems, strict=True):
        prefix, part = expected_line(path, number, question, message)
        assert line.startswith(prefix), line
        assert part in line[len(prefix):], line
        assert re.match(rf"^{re.escape(str(path))}:\d+: ", line)
    assert f"共 {len(problems)} 个问题；没有做任何改动。" in result.output


@pytest.mark.parametrize("command", ["validate", "import"])
@pytest.mark.parametrize("name,line,question,message", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_cli_refuses_bad_file(runner, good_bank, tmp_path, command, name, line, question, message):
    path = bad_path(name, tmp_path)
    before = counts()
    result = runner.invoke(args=["bank", command, str(path)])
    assert_cli_refused(result, path, [(line, question, message)])
    assert counts() == before


@pytest.mark.parametrize("upload", ["raw", "multipart"])
@pytest.mark.parametrize("name,line,question,message", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_api_refuses_bad_file(organizer_api, good_bank, upload, name, line, question, message):
    before = counts()
    response = post_bank(organizer_api, bad_bytes(name), upload, name)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["line"] == line
    assert errors[0]["question"] == question
    assert message in errors[0]["message"]
    assert counts() == before


def post_bank(api, raw: bytes, upload: str = "raw", filename: str = "bank.yaml"):
    if upload == "raw":
        return api.post("/api/v1/admin/banks", data=raw, content_type="application/x-yaml")
    # Encoded here: the test client spools a large multipart body to a temporary file it never closes.
    boundary = "quiz-test-boundary-7MA4YWxkTrZu0gW"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/x-yaml\r\n\r\n").encode() + raw + f"\r\n--{boundary}--\r\n".encode()
    return api.post("/api/v1/admin/banks", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_cli_lists_every_problem_of_a_file(runner, good_bank):
    path = BANKS / "bad-multi-problem.yaml"
    before = counts()
    assert_cli_refused(runner.invoke(args=["bank", "import", str(path)]), path, MULTI_PROBLEM)
    assert counts() == before


def test_api_lists_every_problem_of_a_file(organizer_api, good_bank):
    before = counts()
    response = post_bank(organizer_api, (BANKS / "bad-multi-problem.yaml").read_bytes())
    assert response.status_code == 422
    assert [(e["line"], e["question"]) for e in response.get_json()["errors"]] == [(n, q) for n, q, _ in MULTI_PROBLEM]
    for error, (_, _, message) in zip(response.get_json()["errors"], MULTI_PROBLEM, strict=True):
        assert message in error["message"]
    assert counts() == before


def test_validate_success_prints_counts(runner):
    result = runner.invoke(args=["bank", "validate", str(GOOD)])
    assert result.exit_code == 0, result.output
    assert f"{GOOD}: 检查通过：题库 test-bank 第 1 版，共 3 题" in result.output
    assert "题型：单选 1 题，多选 1 题，判断 1 题" in result.output
    assert "分类：健康卫生 1 题，安全常识 2 题" in result.output
    assert "难度：1 级 1 题，2 级 1 题，3 级 1 题" in result.output
    assert counts() == (0, 0)  # validating never writes


def test_import_then_identical_reimport_is_unchanged(runner):
    first = runner.invoke(args=["bank", "import", str(GOOD)])
    assert first.exit_code == 0, first.output
    assert "已导入题库 test-bank 第 1 版（共 3 题）" in first.output
    assert counts() == (1, 3)
    again = runner.invoke(args=["bank", "import", str(GOOD)])
    assert again.exit_code == 0, again.output
    assert "没有变化" in again.output
    assert counts() == (1, 3)


def test_api_import_then_identical_reimport_is_unchanged(organizer_api):
    first = post_bank(organizer_api, GOOD.read_bytes())
    assert first.status_code == 201
    assert first.get_json()["created"] is True
    assert first.get_json()["counts"]["type"] == {"single": 1, "multiple": 1, "judge": 1}
    again = post_bank(organizer_api, GOOD.read_bytes(), "multipart")
    assert again.status_code == 200
    assert again.get_json()["created"] is False
    assert "unchanged" in again.get_json()["message"]
    assert counts() == (1, 3)


# Two tests, not one: the app fixture keeps an app context pushed, so flask.g (where
# auth.api_user caches the token's user) would carry over from one request to the next.
def test_upload_without_token_is_401(client):
    response = client.post("/api/v1/admin/banks", data=GOOD.read_bytes(), content_type="application/x-yaml")
    assert response.status_code == 401
    assert counts() == (0, 0)


def test_upload_by_citizen_is_403(citizens, api):
    citizen = citizens.make()
    response = api.login(citizen.phone).post("/api/v1/admin/banks", data=GOOD.read_bytes(), content_type="application/x-yaml")
    assert response.status_code == 403
    assert counts() == (0, 0)


def version(raw: bytes, number: int, change: str | None = None) -> bytes:
    """good.yaml as another version, optionally with safety-001's stem changed."""
    raw = raw.replace(b"version: 1", f"version: {number}".encode())
    if change:
        raw = raw.replace("家用电器着火时，首先应该怎么做？".encode(), change.encode())
    return raw


def test_new_version_keeps_old_questions_for_past_attempts(app, good_bank, citizens, rng):
    contest, _ = import_contest(db.session, (BANKS / "contest.yaml").read_bytes())
    citizen = citizens.make()
    attempt, _ = attempts.start_attempt(db.session, citizen, contest, DURING, rng)
    old_ids = {item.question_id for item in attempt.items}

    v2 = import_bank(db.session, version(GOOD.read_bytes(), 2, "电器着火，第一步做什么？"), "good-v2.yaml")
    assert v2.created and v2.bank.version == 2
    assert counts() == (2, 6)

    db.session.expire_all()
    old = db.session.get(Attempt, attempt.id)
    assert {item.question_id for item in old.items} == old_ids
    assert {item.question.bank.version for item in old.items} == {1}
    done = attempts.submit_attempt(db.session, citizen, attempt.id, DURING)
    review = attempts.result_payload(done, None)["review"]
    stems = {row["stem"] for row in review}
    assert len(review) == 3  # the paper takes the whole 3-question bank
    assert "家用电器着火时，首先应该怎么做？" in stems
    assert "电器着火，第一步做什么？" not in stems

    # the next attempt still draws from version 1: the contest is pinned until imported again (issue 14)
    other = citizens.make()
    fresh, _ = attempts.start_attempt(db.session, other, contest, DURING, rng)
    assert {item.question.bank.version for item in fresh.items} == {1}
    contest, _ = import_contest(db.session, (BANKS / "contest.yaml").read_bytes())
    newer, _ = attempts.start_attempt(db.session, citizens.make(), contest, DURING, rng)
    assert {item.question.bank.version for item in newer.items} == {2}


@pytest.mark.parametrize("number,message", [
    (1, "题库 test-bank 的第 1 版已经用不同的内容导入过；请提高版本号"),
    (0, "version 必须是正整数"),
])
def test_same_version_with_other_content_is_refused(runner, good_bank, tmp_path, number, message):
    path = tmp_path / "changed.yaml"
    path.write_bytes(version(GOOD.read_bytes(), number, "另一个题干？"))
    before = counts()
    assert_cli_refused(runner.invoke(args=["bank", "import", str(path)]), path, [(4, None, message)])
    assert counts() == before


def test_lower_version_is_refused(runner, organizer_api, good_bank, tmp_path):
    import_bank(db.session, version(GOOD.read_bytes(), 3), "good-v3.yaml")
    path = tmp_path / "v2.yaml"
    path.write_bytes(version(GOOD.read_bytes(), 2, "另一个题干？"))
    before = counts()
    assert_cli_refused(runner.invoke(args=["bank", "import", str(path)]), path,
                       [(4, None, "题库 test-bank 已经是第 3 版；新导入的版本号必须更高")])
    response = post_bank(organizer_api, path.read_bytes())
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{
        "line": 4, "question": None,
        "message": "题库 test-bank 已经是第 3 版；新导入的版本号必须更高",
    }]
    assert counts() == before


def test_dry_run_checks_versions_and_changes_nothing(runner, good_bank, tmp_path):
    path = tmp_path / "v2.yaml"
    path.write_bytes(version(GOOD.read_bytes(), 2, "另一个题干？"))
    result = runner.invoke(args=["bank", "import", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert "试运行：题库 test-bank 第 2 版可以导入（共 3 题）；没有做任何改动" in result.output
    assert counts() == (1, 3)

    path.write_bytes(version(GOOD.read_bytes(), 1, "另一个题干？"))
    refused = runner.invoke(args=["bank", "import", "--dry-run", str(path)])
    assert_cli_refused(refused, path, [(4, None, "已经用不同的内容导入过")])
    assert counts() == (1, 3)
