"""Workbook (.xlsx) banks, without a database: the template, the cell mappings, and every
rejection case of tests/banks as a workbook naming its sheet and cell.

Workbooks are built here with openpyxl from tests/banks/good.yaml laid out in the template
(题目 row 2 safety-001 single, row 3 safety-002 multiple, row 4 health-001 judge; columns
A 编号, B 题型, C 分类, D 难度, E 题干, F-M 选项A-H, N 答案, O 解析, P 来源, Q 分值, R 标签).
"""
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from quiz.bank import spreadsheet
from quiz.bank.export import valid_bank_document
from quiz.bank.validator import BankInvalid, validate_bank

BANKS = Path(__file__).resolve().parent.parent / "banks"
GOOD = validate_bank((BANKS / "good.yaml").read_bytes())
GOOD_XLSX = spreadsheet.write_workbook(valid_bank_document(GOOD))


def edited(*edits, book_bytes: bytes = GOOD_XLSX) -> bytes:
    """The good workbook with cells changed: ("题目", "N2", "E"), or a callable taking the book."""
    book = load_workbook(io.BytesIO(book_bytes))
    for edit in edits:
        if callable(edit):
            edit(book)
        else:
            sheet, ref, value = edit
            book[sheet][ref] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems_of(raw: bytes, **kw) -> list[tuple]:
    with pytest.raises(BankInvalid) as caught:
        validate_bank(raw, **kw)
    return [(p.cell, p.question, p.message) for p in caught.value.problems]


def questions_of(bank) -> list[tuple]:
    return [(q.qid, q.type, q.category, q.difficulty, q.stem, q.options, q.answer, q.explanation, q.points,
             q.tags, q.source) for q in bank.questions]


def test_the_good_bank_as_a_workbook_is_the_same_bank():
    bank = validate_bank(GOOD_XLSX)
    assert (bank.slug, bank.title, bank.version, bank.categories) == (GOOD.slug, GOOD.title, GOOD.version, GOOD.categories)
    assert questions_of(bank) == questions_of(GOOD)
    assert [str(q.line) for q in bank.questions] == ["题目!A2", "题目!A3", "题目!A4"]


def test_the_template_has_three_sheets_their_headers_and_two_valid_examples():
    raw = spreadsheet.template_workbook()
    book = load_workbook(io.BytesIO(raw))
    assert book.sheetnames == ["题库信息", "分类", "题目"]
    assert [row[0] for row in book["题库信息"].iter_rows(values_only=True)] == ["标识", "名称", "版本"]
    assert next(book["分类"].iter_rows(values_only=True)) == ("代码", "名称")
    header = next(book["题目"].iter_rows(values_only=True))
    assert header == ("编号", "题型", "分类", "难度", "题干", *(f"选项{k}" for k in "ABCDEFGH"),
                      "答案", "解析", "来源", "分值", "标签")
    bank = validate_bank(raw)
    assert [(q.type, q.answer) for q in bank.questions] == [("multiple", ["A", "C"]), ("judge", ["false"])]
    assert [row[13] for row in book["题目"].iter_rows(min_row=2, values_only=True)] == ["AC", "错"]


def test_cells_are_mapped_to_the_yaml_values():
    raw = edited(("题目", "B2", " 单选 "), ("题目", "N3", "A、C, D"), ("题目", "N4", "对"), ("题目", "D2", 3.0),
                 ("题目", "R2", "常识、用药；安全"), ("题目", "Q2", 0), ("题目", "F2", 1921), ("题目", "I2", None))
    single, multiple, judge = validate_bank(raw).questions
    assert (single.type, single.difficulty, single.tags, single.points) == ("single", 3, ["常识", "用药", "安全"], 0)
    assert single.options == [["A", "1921"], ["B", "切断电源"], ["C", "打开窗户"]]  # the empty 选项D is skipped
    assert multiple.answer == ["A", "C", "D"] and judge.answer == ["true"]


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out():
    def reorder(book):
        sheet = book["题目"]
        sheet.move_range("A1:A4", cols=18)  # 编号 moves to S
        sheet.delete_cols(16, 3)  # 来源, 分值, 标签
    bank = validate_bank(edited(reorder))
    assert [q.qid for q in bank.questions] == ["safety-001", "safety-002", "health-001"]
    assert bank.questions[2].points is None


def test_a_text_beginning_with_an_equals_sign_stays_text():
    doc = valid_bank_document(GOOD)
    doc["questions"][0]["stem"] = "=SUM(A1:A2) 是什么？"
    assert validate_bank(spreadsheet.write_workbook(doc)).questions[0].stem == "=SUM(A1:A2) 是什么？"


def test_a_problem_is_printed_and_sent_with_its_sheet_and_cell():
    with pytest.raises(BankInvalid) as caught:
        validate_bank(edited(("题目", "N2", "E")))
    (problem,) = caught.value.problems
    assert problem.format("题库.xlsx") == "题库.xlsx:题目!N2: 题目 safety-001：答案 E 不在选项中"
    assert problem.as_json() == {"line": 2, "cell": "题目!N2", "question": "safety-001",
                                 "message": "答案 E 不在选项中"}


# Every tests/banks/bad-*.yaml case that a workbook can express, by file (see BAD_FILES in
# tests/functional/test_bank_import.py). Without a meaning in a sheet, and covered below by
# what a workbook can get wrong instead:
#   bad-not-yaml, bad-not-mapping: a workbook's structure is its sheets -> not a workbook, missing sheet
#   bad-duplicate-key: a row holds each column once -> a header, a 题库信息 label or a category code twice
#   bad-python-tag, generated-alias-bomb: cells hold values, never tags or aliases -> the zip bomb guards
#   generated-not-utf8: the text of a workbook is XML, decoded by the reader
#   generated-too-big: the same limit (test_the_size_limit_is_checked_before_unpacking)
BAD_CASES = [
    ("bad-missing-top-key", [lambda b: b["题库信息"].delete_rows(2)],
     ("题库信息!A1", None, "缺少顶层键“title”")),
    ("bad-missing-top-key (empty cell)", [("题库信息", "B2", None)],
     ("题库信息!B2", None, "缺少顶层键“title”")),
    ("bad-unknown-top-key", [("题库信息", "A4", "作者"), ("题库信息", "B4", "张三")],
     ("题库信息!A4", None, "未知的项“作者”（A 列只能是 标识、名称、版本）")),
    ("bad-missing-question-key", [("题目", "D4", None)],
     ("题目!D4", "health-001", "题目缺少键“difficulty”")),
    ("bad-missing-question-key (text)", [("题目", "O4", None)],
     ("题目!O4", "health-001", "解析为空")),
    ("bad-unknown-question-key", [("题目", "S1", "提示"), ("题目", "S2", "想想电")],
     ("题目!S1", None, "未知的列“提示”")),
    ("bad-duplicate-id", [("题目", "A4", "safety-001")],
     ("题目!A4", "safety-001", "题目编号重复（题目!A2也有）")),
    ("bad-unknown-type", [("题目", "B2", "填空")],
     ("题目!B2", "safety-001", "未知的题型“填空”（只能是 single、multiple 或 judge）")),
    ("bad-option-count", [("题目", "G2", None), ("题目", "H2", None), ("题目", "I2", None), ("题目", "N2", "A")],
     ("题目!F2", "safety-001", "每题需要 2 到 8 个选项，现在有 1 个")),
    ("bad-option-keys", [("题目", "H2", None)],
     ("题目!I2", "safety-001", "选项字母必须依次是 A, B, C，不能是 A, B, D")),
    ("bad-duplicate-option", [("题目", "H3", "躲在坚固的桌子下")],
     ("题目!H3", "safety-002", "选项 A 和 C 的内容相同")),
    ("bad-answer-not-option", [("题目", "N2", "E")],
     ("题目!N2", "safety-001", "答案 E 不在选项中")),
    ("bad-multiple-one-key", [("题目", "N3", "A")],
     ("题目!N3", "safety-002", "多选题的答案至少要有两个选项")),
    ("bad-judge-options", [("题目", "F4", "对"), ("题目", "G4", "错")],
     ("题目!F4", "health-001", "判断题不能有选项")),
    ("bad-judge-answer", [("题目", "N4", "是")],
     ("题目!N4", "health-001", "判断题的答案必须是 true 或 false，不能是 '是'")),
    ("bad-empty-stem", [("题目", "E3", None)],
     ("题目!E3", "safety-002", "题干为空")),
    ("bad-undeclared-category", [("题目", "C4", "food")],
     ("题目!C4", "health-001", "分类“food”没有在 categories 中声明")),
    ("bad-difficulty", [("题目", "D3", 4)],
     ("题目!D3", "safety-002", "难度必须是 1、2 或 3，不能是 4")),
    ("bad-wrong-type", [("题目", "Q4", "2")],  # a text cell, as a quoted "2" in YAML
     ("题目!Q4", "health-001", "分值必须是非负整数，不能是 '2'")),
    ("bad-duplicate-key (header)", [("题目", "S1", "题干")],
     ("题目!S1", None, "列“题干”出现了两次（第一次在 题目!E1）")),
    ("bad-duplicate-key (label)", [("题库信息", "A4", "版本"), ("题库信息", "B4", 2)],
     ("题库信息!A4", None, "“版本”写了两次（第一次在 题库信息!B3）")),
    ("bad-duplicate-key (category)", [("分类", "A4", "safety"), ("分类", "B4", "又是安全")],
     ("分类!A4", None, "分类代码“safety”重复（第一次在 分类!A2）")),
    ("category without a name", [("分类", "B3", None)],
     ("分类!A3", None, "分类“health”需要显示名称")),
    ("value under no header", [("题目", "T3", "漏掉的")],
     ("题目!T3", None, "T 列没有表头，这个值不会被读取")),
]


@pytest.mark.parametrize("edits,expected", [case[1:] for case in BAD_CASES], ids=[case[0] for case in BAD_CASES])
def test_each_rejection_case_names_its_sheet_and_cell(edits, expected):
    problems = problems_of(edited(*edits))
    assert len(problems) == 1, problems
    cell, question, message = problems[0]
    assert (cell, question) == expected[:2]
    assert expected[2] in message


def test_all_problems_of_a_workbook_are_listed_in_sheet_row_column_order():
    raw = edited(("题库信息", "A4", "作者"), ("题目", "D2", 0), ("题目", "N2", "E"), ("题目", "A4", "safety-001"),
                 ("题目", "C4", "food"))
    assert problems_of(raw) == [
        ("题库信息!A4", None, "未知的项“作者”（A 列只能是 标识、名称、版本）"),
        ("题目!D2", "safety-001", "难度必须是 1、2 或 3，不能是 0"),
        ("题目!N2", "safety-001", "答案 E 不在选项中"),
        ("题目!A4", "safety-001", "题目编号重复（题目!A2也有）"),
        ("题目!C4", "safety-001", "分类“food”没有在 categories 中声明"),
    ]


def test_a_missing_sheet_or_required_column_stops_the_check():
    assert problems_of(edited(lambda b: b.remove(b["分类"]), lambda b: b.create_sheet("说明"))) == [
        ("分类!A1", None, "缺少工作表“分类”"),
        ("说明!A1", None, "未知的工作表“说明”（只能有 题库信息、分类、题目）"),  # unknown sheets after the three
    ]
    assert problems_of(edited(lambda b: b["题目"].delete_cols(15))) == [(("题目!A1", None, "缺少列“解析”（表头在第 1 行）"))]
    assert problems_of(edited(("题目", "G1", None))) == [
        ("题目!A1", None, "选项列必须从 选项A 起连续，不能是 选项A、选项C、选项D、选项E、选项F、选项G、选项H")]


@pytest.mark.parametrize("raw", [b"PK\x03\x04 not really a zip", b"not a workbook at all", b""])
def test_a_file_named_xlsx_that_is_no_workbook_is_one_problem(raw):
    with pytest.raises(BankInvalid) as caught:
        validate_bank(raw, filename="题库.xlsx")
    (problem,) = caught.value.problems
    assert problem.line == 1 and "Excel 工作簿" in problem.message


def test_a_zip_that_is_no_workbook_is_one_problem():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    (problem,) = problems_of(out.getvalue())
    assert problem == (None, None, "不是 Excel 工作簿（.xlsx）：缺少 xl/workbook.xml")


def test_the_size_limit_is_checked_before_unpacking():
    assert problems_of(GOOD_XLSX, max_bytes=1000) == [(None, None, f"文件有 {len(GOOD_XLSX)} 字节；最多 1000 字节")]


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    out = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(GOOD_XLSX))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            archive.writestr(name, source.read(name))
        archive.writestr("xl/media/padding.bin", bytes(spreadsheet.MAX_UNPACKED_BYTES))  # 100 MB of zeros: 100 KB
    assert len(out.getvalue()) < 200_000
    assert problems_of(out.getvalue()) == [(None, None, "工作簿解压后超过 100 MB，不能导入")]


@pytest.mark.parametrize("ref,message", [
    ("A20003", "工作表用到了第 20003 行；最多 20001 行（表头和 20000 道题）"),
    ("AA2", "工作表用到了第 AA 列；最多 26 列（A 到 Z）"),
])
def test_a_far_away_cell_is_refused_before_the_sheet_is_read(ref, message):
    # One value far out would make the reader allocate every cell up to it.
    assert problems_of(edited(("题目", ref, "x"))) == [("题目!A1", None, message)]


def test_a_formatted_empty_cell_far_away_is_no_problem():
    # Formatting without a value is written as <c r="AA30000" s="1"/>; the reader allocates nothing for it.
    bank = validate_bank(edited(lambda book: setattr(book["题目"]["AA30000"], "font", Font(bold=True))))
    assert len(bank.questions) == 3


def test_a_workbook_is_told_from_yaml_by_its_name_or_its_bytes():
    assert spreadsheet.is_workbook(GOOD_XLSX) and spreadsheet.is_workbook(b"", "bank.XLSX")
    assert not spreadsheet.is_workbook((BANKS / "good.yaml").read_bytes(), "good.yaml")


def test_empty_rows_are_skipped_and_a_question_row_may_follow_them():
    def spaced(book):
        sheet = book["题目"]
        sheet.move_range("A4:R4", rows=3)  # health-001 moves to row 7
    bank = validate_bank(edited(spaced))
    assert [str(q.line) for q in bank.questions] == ["题目!A2", "题目!A3", "题目!A7"]


def test_a_bank_built_from_scratch_in_a_workbook():
    book = Workbook()
    info = book.active
    info.title = "题库信息"
    for row in (["标识", "scratch"], ["名称", "从零开始"], ["版本", 1]):
        info.append(row)
    book.create_sheet("分类").append(["代码", "名称"])
    book["分类"].append(["misc", "杂项"])
    questions = book.create_sheet("题目")
    questions.append(["编号", "题型", "分类", "难度", "题干", "选项A", "选项B", "答案", "解析"])
    questions.append(["q-1", "单选", "misc", 1, "一加一等于几？", 2, 3, "A", "算术。"])
    out = io.BytesIO()
    book.save(out)
    (question,) = validate_bank(out.getvalue()).questions
    assert (question.options, question.answer, question.source, question.tags) == ([["A", "2"], ["B", "3"]], ["A"], None, [])
