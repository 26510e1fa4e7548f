"""Chinese throughout (issue 19): the console pages and what the CLI prints hold no English
sentence, for the problem cases (every broken bank, a broken contest file), the bank summary,
the audit log after an export and an import, and every console page an organizer can open.

What counts as an English sentence: three or more ASCII words of two or more letters in a row
(`[A-Za-z]{2,}( [A-Za-z]{2,}){2,}`) in the visible text. Left out before looking:
- <script>, <style>, <code> and <pre> blocks, tag attributes (not visible text);
- file paths and names, slugs and key=value codes (tokens holding / . = _ - or a digit), as a
  bank's problem names its file and a key such as `questions_per_attempt`;
- ALLOWED below: names a user types or reads as names (commands, products), not sentences.
"""
import ast
import html
import io
import re
from pathlib import Path

import pytest
from admin_console import make_organizer, page_token, sign_in
from conftest import BANKS, SAMPLE_CONTEST
from flask import g
from test_admin_access import admin_rules, walk_world  # noqa: F401  (the walk's fixture)
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from quiz.accounts import mask_phone

ENGLISH = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")
HIDDEN = re.compile(r"<(script|style|code|pre)\b.*?</\1>", re.S | re.I)
TAG = re.compile(r"<[^>]+>")
CODE_TOKEN = re.compile(r"\S*[/._=\-\d]\S*")
ALLOWED = (
    "flask leaderboard rebuild",  # the command to run, quoted in a message
)
BAD_BANKS = sorted(BANKS.glob("bad-*.yaml"))


def visible_text(page: str) -> str:
    return html.unescape(TAG.sub(" ", HIDDEN.sub(" ", page)))


def english_sentences(text: str) -> list[str]:
    """The English sentences of `text`, once paths, codes and the allowed names are taken out."""
    for allowed in ALLOWED:
        text = text.replace(allowed, " ")
    text = CODE_TOKEN.sub(" ", text)
    return ENGLISH.findall(re.sub(r"[ \t]+", " ", text))


def test_the_scan_finds_english_and_passes_chinese():
    assert english_sentences("tests/banks/bad.yaml:5: missing question key 'answer'") == ["missing question key"]
    assert english_sentences(visible_text("<p>题目缺少键“answer”</p><code>flask bank import FILE here</code>")) == []
    assert english_sentences(visible_text('<a title="not shown to anyone">题库</a>')) == []


@pytest.fixture
def city(client, app):
    organizer = make_organizer("city", name="王组织")
    sign_in(client, organizer)
    return organizer


def upload(client, raw: bytes, name: str, action: str = "dry-run"):
    token = page_token(client.get("/admin/banks").get_data(as_text=True))
    boundary, body = encode_multipart({"csrf_token": token, "action": action, "file": FileStorage(io.BytesIO(raw), name)})
    return client.post("/admin/banks", data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize("path", BAD_BANKS, ids=lambda p: p.stem)
def test_each_broken_bank_is_explained_in_chinese_in_the_console(client, city, path):
    response = upload(client, path.read_bytes(), path.name)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    problems = re.search(r'<ul id="bank-problems".*?</ul>', page, re.S).group(0)
    messages = re.findall(r'<span class="problem-message">(.*?)</span>', problems, re.S)
    assert messages and all(re.search(r"[\u4e00-\u9fff]", m) for m in messages), messages
    assert english_sentences(visible_text(page)) == []


@pytest.mark.parametrize("command", ["validate", "import"])
def test_each_broken_bank_is_explained_in_chinese_by_the_cli(runner, command):
    for path in BAD_BANKS:
        result = runner.invoke(args=["bank", command, str(path)])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        for line in lines[:-1]:  # FILE:LINE: [题目 ID：]message, the location prefix as before
            assert re.match(rf"{re.escape(str(path))}:\d+: ", line), line
        assert re.fullmatch(r"共 \d+ 个问题；没有做任何改动。", lines[-1]), lines[-1]
        assert english_sentences(result.output) == [], (path.name, result.output)


def test_a_version_conflict_says_raise_the_version_in_chinese(client, city, runner, tmp_path):
    good = (BANKS / "good.yaml").read_bytes()
    assert runner.invoke(args=["bank", "import", str(BANKS / "good.yaml")]).exit_code == 0
    changed = tmp_path / "good.yaml"
    changed.write_bytes(good.replace("测试题库".encode(), "测试题库（改）".encode()))
    result = runner.invoke(args=["bank", "import", str(changed)])
    assert result.exit_code == 1
    assert "请提高版本号" in result.output and english_sentences(result.output) == []
    page = upload(client, changed.read_bytes(), "good.yaml").get_data(as_text=True)
    assert "请提高版本号" in page and english_sentences(visible_text(page)) == []


def test_the_bank_summary_names_types_and_difficulties_in_chinese(client, city, runner):
    page = upload(client, (BANKS / "good.yaml").read_bytes(), "good.yaml").get_data(as_text=True)
    text = visible_text(page)
    assert "题型：单选 1 题，多选 1 题，判断 1 题" in text
    assert "分类：健康卫生 1 题，安全常识 2 题" in text
    assert "难度：1 级 1 题，2 级 1 题，3 级 1 题" in text
    assert english_sentences(text) == []
    result = runner.invoke(args=["bank", "validate", str(BANKS / "good.yaml")])
    assert "题型：单选 1 题，多选 1 题，判断 1 题" in result.output and english_sentences(result.output) == []


def test_lint_figures_and_warnings_of_an_upload_are_chinese(client, city, runner):
    path = BANKS / "cz-science-2021-v1.yaml"  # blind strategies and giveaways to warn about
    page = upload(client, path.read_bytes(), path.name).get_data(as_text=True)
    warnings = re.search(r'<ul id="bank-lint-warnings".*?</ul>', page, re.S).group(0)
    assert "泄题" in warnings and "不看题的最佳策略" in page
    assert english_sentences(visible_text(page)) == []
    result = runner.invoke(args=["bank", "lint", str(path)])
    assert "泄题" in result.output and english_sentences(result.output) == []


def test_a_broken_contest_file_is_explained_in_chinese(app, runner, tmp_path):
    broken = SAMPLE_CONTEST.read_text(encoding="utf-8")
    broken = re.sub(r"(?m)^starts_at: .*$", "starts_at: 2021-05-22T08:00:00", broken, count=1)
    broken = re.sub(r"(?m)^max_attempts: .*$", "max_attempts: 0", broken, count=1)
    path = tmp_path / "broken.contest.yaml"
    path.write_text(broken + "language: zh\n", encoding="utf-8")
    result = runner.invoke(args=["contest", "validate", str(path)])
    assert result.exit_code == 1
    assert "starts_at 必须是带时区的 ISO 8601 时间" in result.output and "未知的键“language”" in result.output
    assert english_sentences(result.output) == [], result.output

    client = app.test_client()
    sign_in(client, make_organizer("city"))
    token = page_token(client.get("/admin/contests").get_data(as_text=True))
    boundary, body = encode_multipart({"csrf_token": token, "file": FileStorage(io.BytesIO(path.read_bytes()), path.name)})
    response = client.post("/admin/contests/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    problems = re.search(r'<ul id="contest-problems".*?</ul>', page, re.S).group(0)
    assert "未知的键“language”" in problems and "max_attempts 必须是 1 到 10000 之间的整数" in problems
    assert english_sentences(visible_text(page)) == []


def test_the_audit_log_names_actions_and_operators_in_chinese(client, app, city, runner, contest):
    assert upload(client, (BANKS / "good.yaml").read_bytes(), "good.yaml", action="import").status_code == 302
    token = page_token(client.get("/admin/exports").get_data(as_text=True))
    client.post("/admin/exports", data={"csrf_token": token, "kind": "results", "fmt": "csv", "district": ""}).get_data()
    created = runner.invoke(args=["admin", "create", "--phone", "13900000002", "--name", "李四", "--role", "city"],
                            input="another-pass-1\n")
    assert created.exit_code == 0, created.output
    for key in list(g):  # the CLI ran in the app context the client's requests share
        g.pop(key)
    sign_in(client, city)
    page = client.get("/admin/audit").get_data(as_text=True)
    actions = re.findall(r'<td class="audit-action"[^>]*>(.*?)</td>', page)
    operators = re.findall(r'<td class="audit-operator">(.*?)</td>', page)
    assert {"导入题库", "导出", "创建组织者"} <= set(actions), actions
    assert f"王组织（{mask_phone(city.phone)}）" in operators and "命令行" in operators
    assert city.phone not in visible_text(page)  # the name and a masked phone, not the full phone
    assert english_sentences(visible_text(page)) == []


def test_every_console_page_is_chinese(app, walk_world):  # noqa: F811
    city = walk_world["city"]
    checked = []
    for rule in admin_rules(app):
        if "GET" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        path = rule.build({k: walk_world["args"][k] for k in rule.arguments}, append_unknown=False)[1]
        for key in list(g):
            g.pop(key)
        client = app.test_client()
        sign_in(client, city)
        response = client.get(path)
        if response.mimetype != "text/html":
            response.get_data()
            continue
        assert response.status_code == 200, path
        assert english_sentences(visible_text(response.get_data(as_text=True))) == [], path
        checked.append(path)
    assert "/admin/audit" in checked and "/admin/banks" in checked


CLI_PROBLEMS = [
    ["bank", "export", "no-such-bank", "--out", "{tmp}/x.yaml"],
    ["bank", "export", "test-bank", "--version", "9", "--out", "{tmp}/x.yaml"],
    ["bank", "lint", str(BANKS / "good.yaml")],
    ["contest", "validate", str(BANKS / "bad-not-yaml.yaml")],
    ["contest", "unfreeze", "no-such-contest"],
    ["admin", "totp", "--phone", "13900000009"],
    ["citizens", "mark-staff", "13900000009"],
    ["leaderboard", "rebuild", "no-such-contest"],
    ["attempts", "finalize-expired"],
    ["review", "flags", "--contest", "no-such-contest"],
    ["awards", "assign", "no-such-contest"],
    ["standings", "export", "--contest", "no-such-contest", "--out", "{tmp}/s.csv"],
]


@pytest.mark.parametrize("args", CLI_PROBLEMS, ids=lambda a: " ".join(a[:2]))
def test_cli_commands_print_chinese(runner, tmp_path, args):
    result = runner.invoke(args=[a.replace("{tmp}", str(tmp_path)) for a in args])
    output = result.output.replace("Error: ", "")  # click's own prefix of a refusal
    assert re.search(r"[\u4e00-\u9fff]", output), output  # short refusals too ("没有竞赛 SLUG")
    assert english_sentences(output) == [], output


def test_cli_commands_that_succeed_print_chinese(app, runner, tmp_path, contest, citizens):
    citizen = citizens.make(district="wujin", name="张三")
    commands = [
        ["bank", "import", "--dry-run", str(BANKS / "good.yaml")],
        ["bank", "import", str(BANKS / "good.yaml")],
        ["bank", "import", str(BANKS / "good.yaml")],  # unchanged
        ["bank", "validate", str(BANKS / "good.yaml")],
        ["bank", "export", "test-bank", "--out", str(tmp_path / "bank.yaml")],
        ["contest", "validate", str(SAMPLE_CONTEST)],
        ["contest", "import", str(SAMPLE_CONTEST)],
        ["citizens", "mark-staff", citizen.phone],
        ["citizens", "mark-staff", citizen.phone],  # unchanged
        ["citizens", "unmark-staff", citizen.phone],
        ["leaderboard", "rebuild", contest.slug],
        ["standings", "export", "--contest", contest.slug, "--out", str(tmp_path / "standings.csv")],
        ["export", "results", "--contest", contest.slug, "--out", str(tmp_path / "results.csv")],
    ]
    for args in commands:
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)
        assert english_sentences(result.output) == [], (args, result.output)


def test_the_catalogue_is_complete_and_compiled():
    """Every msgid has a zh_CN translation, none fuzzy, and the committed .mo says the same as the .po
    (scripts/translations.sh compile after an edit)."""
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    from quiz.i18n import TRANSLATIONS

    folder = TRANSLATIONS / "zh_CN" / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as po_file, open(folder / "messages.mo", "rb") as mo_file:
        po, mo = read_po(po_file), read_mo(mo_file)
    entries = [m for m in po if m.id]
    assert entries and not [m.id for m in entries if not (m.string[0] if isinstance(m.string, tuple) else m.string)]
    assert not [m.id for m in entries if m.fuzzy]

    def plain(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    assert {plain(m.id): plain(m.string) for m in entries} == {plain(m.id): plain(m.string) for m in mo if m.id}


# ---- the console's own text comes from the catalogue ------------------------------------------
# A later English console needs only a catalogue: the admin modules and templates hold no Chinese
# outside the msgids of _() (and _l, _n, N_, ngettext), docstrings and comments aside.
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
CATALOGUE_CALLS = {"_", "_l", "_n", "N_"}
TEMPLATE_MSGID = re.compile(r"""\b(?:_|ngettext)\((?:\s*(?:"[^"]*"|'[^']*')\s*,?)+""")
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def chinese_outside_catalogue_py(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal with Chinese in it that is neither a msgid
    (a literal argument of _, _l, _n or N_) nor a docstring; comments are not literals."""
    tree = ast.parse(source)
    allowed = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                allowed.add(id(first.value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CATALOGUE_CALLS:
            allowed.update(id(arg) for arg in node.args if isinstance(arg, ast.Constant))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value)
            and id(node) not in allowed]


def chinese_outside_catalogue_template(source: str) -> list[tuple[int, str]]:
    """(line, text) of each line of a Jinja template with Chinese left once Jinja comments and the
    literal msgids of _("…") / _('…') / ngettext("…", "…") are blanked out (newlines kept)."""
    def blank(match):
        return re.sub(r"[^\n]", " ", match.group(0))

    text = TEMPLATE_MSGID.sub(blank, JINJA_COMMENT.sub(blank, source))
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if CJK.search(line)]


def test_the_source_scan_finds_chinese_outside_the_catalogue():
    python = '''"""题库 in a docstring."""
# 注释
LABEL = _l("Bank")
def view():
    """视图。"""
    flash(_("Saved %(name)s.", name=name))
    flash("已保存。")
    return f"{name}（{code}）"
'''
    assert sorted(chinese_outside_catalogue_py(python)) == [(7, "已保存。"), (8, "（"), (8, "）")]
    template = ('{# 注释 #}<h1>{{ _("Banks") }}</h1>\n<p>{{ _("中文 msgid") }} {{ ngettext("%(num)s x", "%(num)s xs", n) }}</p>\n'
                '<p>还没有竞赛。</p>\n<td>{{ "已停用" if q.retired else _("in use") }}</td>\n')
    assert [line for line, text in chinese_outside_catalogue_template(template)] == [3, 4]


ROOT = Path(__file__).resolve().parents[2]
ADMIN_MODULES = sorted((ROOT / "quiz" / "web" / "admin").glob("*.py"))
ADMIN_TEMPLATES = sorted((ROOT / "quiz" / "templates" / "admin").glob("*.html"))


@pytest.mark.parametrize("path", ADMIN_MODULES, ids=lambda p: p.name)
def test_admin_modules_hold_no_chinese_outside_the_catalogue(path):
    assert chinese_outside_catalogue_py(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", ADMIN_TEMPLATES, ids=lambda p: p.name)
def test_admin_templates_hold_no_chinese_outside_the_catalogue(path):
    assert chinese_outside_catalogue_template(path.read_text(encoding="utf-8")) == []


def test_the_scan_covers_the_console():
    assert {p.name for p in ADMIN_MODULES} >= {"routes.py", "forms.py", "review_routes.py", "banks.py"}
    assert {p.name for p in ADMIN_TEMPLATES} >= {"banks.html", "dashboard.html", "report.html", "review.html"}
