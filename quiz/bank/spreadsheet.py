"""Question banks as .xlsx workbooks in the console's template (题库模板.xlsx).

read_workbook turns the three sheets into the document that quiz/bank/loader.py builds from
YAML (LineDict/LineList), each mapping and value remembering its cell (loader.Cell), so that
the one validator (quiz/bank/validator.py) decides; write_workbook lays a bank out the same way.

  题库信息  a row each: 标识 | the bank slug, 名称 | title, 版本 | version (label in A, value in B)
  分类      header 代码, 名称; a category a row
  题目      header 编号, 题型, 分类, 难度, 题干, 选项A … 选项H, 答案, 解析, 来源, 分值, 标签
            (any order; 来源, 分值, 标签 and the 选项 columns may be left out); a question a row

Cells are mapped here, not judged: 题型 单选/多选/判断 -> single/multiple/judge; 答案 "AC" ->
[A, C] for 多选, 对/错 -> true/false for 判断; a whole number (a workbook stores 2 as 2.0) -> 2;
标签 split at 、 , ; (and their full-width forms); empty trailing options are skipped, so a gap
reaches the validator as keys out of order. An empty cell of a required column is a missing
key located at that cell. Whatever does not map is handed on as it is, for the validator to name.
This module refuses only what the validator cannot see: a file that is no workbook, a missing
or unknown sheet, a missing, unknown or repeated header, a value under no header, a label or
category code given twice, and a workbook too large to unpack.

The workbook is read with python-calamine, fast enough for 10,000 questions (docs/benchmarks.md).
calamine holds the shared strings and each sheet's dense cell range in memory, so first every
member of the zip is inflated here against MAX_UNPACKED_BYTES and every sheet's cell references
are checked against MAX_ROWS and MAX_COLUMNS (a single cell at XFD1048576 would otherwise ask
for 17 billion cells).
"""
import io
import re
import zipfile
import zlib
from xml.etree import ElementTree

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils.exceptions import IllegalCharacterError
from python_calamine import CalamineError, CalamineWorkbook

from quiz.bank.loader import Cell, LineDict, LineList, Problem, column_letters
from quiz.i18n import _

INFO, CATEGORIES, QUESTIONS = "题库信息", "分类", "题目"
SHEETS = (INFO, CATEGORIES, QUESTIONS)
INFO_ROWS = {"标识": "bank", "名称": "title", "版本": "version"}
CATEGORY_COLUMNS = {"代码": "code", "名称": "name"}
OPTION_COLUMNS = {f"选项{key}": key for key in "ABCDEFGH"}
QUESTION_COLUMNS = {  # header -> question key, in the template's order
    "编号": "id", "题型": "type", "分类": "category", "难度": "difficulty", "题干": "stem",
    **{name: "options" for name in OPTION_COLUMNS},
    "答案": "answer", "解析": "explanation", "来源": "source", "分值": "points", "标签": "tags",
}
REQUIRED_QUESTION_COLUMNS = ("编号", "题型", "分类", "难度", "题干", "答案", "解析")
TYPE_WORDS = {"单选": "single", "多选": "multiple", "判断": "judge"}
JUDGE_WORDS = {"对": True, "错": False}
TAG_SEPARATORS = re.compile(r"[、,，;；]")
ANSWER_SEPARATORS = re.compile(r"[\s,，、;；]+")
_STRIPPED = {"id", "type", "category", "answer", "tags"}  # codes, where a stray space is never meant
_TEXT = {"stem", "explanation"}  # an empty one is "stem is empty", as in YAML

MAX_ROWS = 20_001  # a header and 20,000 questions (twice the largest bank we know)
MAX_COLUMNS = 26  # A to Z; the template has 18
MAX_MEMBERS = 1000
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # a 10,000-question workbook unpacks to about 10 MB
ZIP_MAGIC = b"PK\x03\x04"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_ANY_CELL = re.compile(rb"<(?:\w+:)?c[\s/>]")
_CELL_REF = re.compile(rb"<(?:\w+:)?c\s[^>]*?\br=\"([A-Z]+)([0-9]+)\"[^>]*?(/?)>")  # "/": <c .../> holds no value


class WorkbookRefused(Exception):
    """The file cannot be read as a bank workbook; `problems` say why (nothing else is checked)."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems[0].message)
        self.problems = problems


def is_workbook(raw: bytes, filename: str = "") -> bool:
    return filename.lower().endswith(".xlsx") or raw[:4] == ZIP_MAGIC


class RowCells(dict):
    """key -> column of one sheet row, as LineDict.key_lines; the Cell is made only when a
    location is asked for (150,000 cells of a large bank, and only problems need theirs)."""

    __slots__ = ("order", "sheet", "row")

    def __getitem__(self, key) -> Cell:
        return Cell(self.order, self.sheet, self.row, dict.__getitem__(self, key))

    def get(self, key, default=None):
        column = dict.get(self, key)
        return default if column is None else Cell(self.order, self.sheet, self.row, column)


def _row_cells(sheet: str, row: int) -> RowCells:
    cells = RowCells()
    cells.order, cells.sheet, cells.row = SHEETS.index(sheet), sheet, row
    return cells


def _cell(sheet: str, row: int, column: int) -> Cell:
    return Cell(SHEETS.index(sheet) if sheet in SHEETS else len(SHEETS), sheet, row, column)


def read_workbook(raw: bytes) -> tuple[LineDict, list[Problem]]:
    """The bank document of a workbook and the problems of its layout; raises WorkbookRefused
    when it cannot be read or a sheet or required column is missing."""
    _check_archive(raw)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(raw))
        names = list(book.sheet_names)
        rows = {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in SHEETS if name in names}
    except (CalamineError, ValueError, OSError) as exc:
        raise WorkbookRefused([Problem(1, _("cannot be read as an Excel workbook (.xlsx): %(reason)s", reason=exc))]) from None
    problems = [Problem(_cell(name, 1, 0), _("unknown sheet '%(name)s' (only %(sheets)s)", name=name, sheets="、".join(SHEETS)))
                for name in names if name not in SHEETS]
    missing = [Problem(_cell(name, 1, 0), _("missing sheet '%(name)s'", name=name)) for name in SHEETS if name not in rows]
    if missing:
        raise WorkbookRefused(problems + missing)
    category_header = _header(rows[CATEGORIES], CATEGORIES, CATEGORY_COLUMNS, tuple(CATEGORY_COLUMNS), problems)
    question_header = _header(rows[QUESTIONS], QUESTIONS, QUESTION_COLUMNS, REQUIRED_QUESTION_COLUMNS, problems)
    if category_header is None or question_header is None:
        raise WorkbookRefused(problems)

    doc = LineDict()
    doc.line = _cell(INFO, 1, 0)
    doc.key_lines = {"categories": _cell(CATEGORIES, 1, 0), "questions": _cell(QUESTIONS, 1, 0)}
    _read_info(rows[INFO], doc, problems)
    doc["categories"] = _read_categories(rows[CATEGORIES], category_header, problems)
    doc["questions"] = _read_questions(rows[QUESTIONS], question_header, problems)
    return doc, problems


def _check_archive(raw: bytes) -> None:
    """Inflate every member against the budget (a member's declared size may lie) and check
    the cell references of each worksheet before calamine allocates its range."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise WorkbookRefused([Problem(1, _("the workbook has %(count)s parts; at most %(limit)s", count=len(members), limit=MAX_MEMBERS))])
        budget = MAX_UNPACKED_BYTES
        unpacked = {}
        for member in members:
            keep = member.filename.startswith("xl/worksheets/") or member.filename in ("xl/workbook.xml",
                                                                                        "xl/_rels/workbook.xml.rels")
            chunks = []
            with archive.open(member) as stream:
                while budget >= 0 and (chunk := stream.read(min(budget + 1, 1 << 20))):
                    budget -= len(chunk)
                    if keep:
                        chunks.append(chunk)
            if budget < 0:
                raise WorkbookRefused([Problem(1, _("the workbook unpacks to more than %(mb)s MB and cannot be imported",
                                                             mb=MAX_UNPACKED_BYTES // (1024 * 1024)))])
            if keep:
                unpacked[member.filename] = b"".join(chunks)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError, RuntimeError, ValueError,
            OSError):  # encrypted (RuntimeError), unknown compression (NotImplementedError), corrupt data (zlib)
        raise WorkbookRefused([Problem(1, _("not a valid Excel workbook (.xlsx): it cannot be opened as a zip file"))]) from None
    if "xl/workbook.xml" not in unpacked:
        raise WorkbookRefused([Problem(1, _("not an Excel workbook (.xlsx): xl/workbook.xml is missing"))])
    sheet_names = _sheet_paths(unpacked)
    problems = []
    for path, xml in unpacked.items():
        if not path.startswith("xl/worksheets/") or not path.endswith(".xml"):
            continue
        name = sheet_names.get(path, path)
        refs = _CELL_REF.findall(xml)
        if len(_ANY_CELL.findall(xml)) != len(refs):
            problems.append(Problem(_cell(name, 1, 0), _("the sheet has cells without a position (r attribute) and cannot be read")))
            continue
        cells = [(letters, row) for letters, row, empty in refs if not empty]
        wide = next((letters for letters, _ in cells if len(letters) > 1), None)
        if wide is not None:
            problems.append(Problem(_cell(name, 1, 0), _("the sheet uses column %(column)s; at most %(limit)s columns (A to Z)",
                                                             column=wide.decode(), limit=MAX_COLUMNS)))
        last = max((int(row) for _, row in cells), default=0)
        if last > MAX_ROWS:
            problems.append(Problem(_cell(name, 1, 0), _("the sheet uses row %(row)s; at most %(limit)s rows (the header and %(questions)s questions)",
                                                             row=last, limit=MAX_ROWS, questions=MAX_ROWS - 1)))
    if problems:
        raise WorkbookRefused(problems)


def _sheet_paths(unpacked: dict) -> dict:
    """zip path of each worksheet -> its sheet name (from workbook.xml and its relationships)."""
    try:
        targets = {rel.get("Id"): rel.get("Target", "") for rel in
                   ElementTree.fromstring(unpacked.get("xl/_rels/workbook.xml.rels", b"<r/>")).iter(f"{_RELS}Relationship")}
        sheets = ElementTree.fromstring(unpacked["xl/workbook.xml"]).iter(f"{_MAIN}sheet")
    except ElementTree.ParseError:
        return {}
    paths = {}
    for sheet in sheets:
        target = targets.get(sheet.get(_REL_ID), "")
        paths[target.lstrip("/") if target.startswith("/") else f"xl/{target}"] = sheet.get("name", "")
    return paths


def _plain(value):
    """A workbook stores every number as a float: a whole one is the integer it shows."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _empty(value) -> bool:
    return value is None or value == ""


def _header(rows: list, sheet: str, columns: dict, required: tuple, problems: list) -> dict | None:
    """column -> header name of the sheet's first row; None when a required one is missing."""
    header, seen = {}, {}
    for column, value in enumerate(rows[0] if rows else []):
        if _empty(value):
            continue
        name = value.strip() if isinstance(value, str) else value
        if name not in columns:
            problems.append(Problem(_cell(sheet, 1, column), _("unknown column '%(name)s' (the columns: %(columns)s)", name=name,
                                                                   columns="、".join(columns))))
        elif name in seen:
            problems.append(Problem(_cell(sheet, 1, column), _("column '%(name)s' appears twice (first at %(cell)s)", name=name,
                                                                   cell=_cell(sheet, 1, seen[name]))))
        else:
            seen[name] = column
            header[column] = name
    missing = [name for name in required if name not in seen]
    for name in missing:
        problems.append(Problem(_cell(sheet, 1, 0), _("missing column '%(name)s' (the header is row 1)", name=name)))
    options = [key for name, key in OPTION_COLUMNS.items() if name in seen]
    if options != list("ABCDEFGH"[: len(options)]):
        problems.append(Problem(_cell(sheet, 1, 0), _("the option columns must run on from 选项A, not %(columns)s",
                                                              columns="、".join("选项" + k for k in options))))
        return None
    return None if missing else header


def _beyond_header(rows: list, sheet: str, header: dict, problems: list) -> None:
    """A value in a column without a header would be silently lost: name the first one of each column."""
    for column in (c for c in range(len(rows[0]) if rows else 0) if _empty(rows[0][c])):  # unknown ones are named
        row_number = next((n for n, row in enumerate(rows[1:], 2) if not _empty(row[column])), None)
        if row_number is not None:
            problems.append(Problem(_cell(sheet, row_number, column), _("column %(column)s has no header; this value is not read",
                                                                                column=column_letters(column))))


def _read_info(rows: list, doc: LineDict, problems: list) -> None:
    for row_number, row in enumerate(rows, 1):
        if all(_empty(v) for v in row):
            continue
        label = row[0].strip() if isinstance(row[0], str) else _plain(row[0])
        if label not in INFO_ROWS:
            problems.append(Problem(_cell(INFO, row_number, 0), _("unknown item '%(label)s' (column A holds only %(items)s)", label=label,
                                                                      items="、".join(INFO_ROWS))))
            continue
        key = INFO_ROWS[label]
        if key in doc.key_lines:
            problems.append(Problem(_cell(INFO, row_number, 0), _("'%(label)s' is given twice (first at %(cell)s)", label=label,
                                                                      cell=doc.key_lines[key])))
            continue
        extra = next((c for c in range(2, len(row)) if not _empty(row[c])), None)
        if extra is not None:
            problems.append(Problem(_cell(INFO, row_number, extra), _("the bank information uses columns A and B only")))
        doc.key_lines[key] = _cell(INFO, row_number, 1)
        value = _plain(row[1]) if len(row) > 1 else ""
        if not _empty(value):  # empty: "missing top-level key" at this cell
            doc[key] = value.strip() if isinstance(value, str) and key == "bank" else value


def _read_categories(rows: list, header: dict, problems: list) -> LineDict:
    categories = LineDict()
    categories.line = _cell(CATEGORIES, 1, 0)
    categories.key_lines = {}
    column_of = {name: column for column, name in header.items()}
    _beyond_header(rows, CATEGORIES, header, problems)
    for row_number, row in enumerate(rows[1:], 2):
        code, name = (_plain(row[column_of[n]]) for n in CATEGORY_COLUMNS)
        if _empty(code) and _empty(name):
            continue
        code = code.strip() if isinstance(code, str) else code
        where = _cell(CATEGORIES, row_number, column_of["代码"])
        if code in categories.key_lines:
            problems.append(Problem(where, _("duplicate category code '%(code)s' (first at %(cell)s)", code=code,
                                                    cell=categories.key_lines[code])))
            continue
        categories.key_lines[code] = where
        categories[code] = None if _empty(name) else name
    return categories


def _read_questions(rows: list, header: dict, problems: list) -> LineList:
    questions = LineList()
    questions.line = _cell(QUESTIONS, 1, 0)
    _beyond_header(rows, QUESTIONS, header, problems)
    columns = [(column, QUESTION_COLUMNS[name], OPTION_COLUMNS.get(name)) for column, name in header.items()]
    first_option = min((column for column, key, _ in columns if key == "options"), default=None)
    for row_number, row in enumerate(rows[1:], 2):
        if all(_empty(row[column]) for column, _, _ in columns):
            continue
        item = LineDict()
        item.line = _cell(QUESTIONS, row_number, 0)
        item.key_lines = cells = _row_cells(QUESTIONS, row_number)
        options = LineDict()
        options.key_lines = _row_cells(QUESTIONS, row_number)
        for column, key, option in columns:
            value = _plain(row[column])
            if option is not None:
                if not _empty(value):
                    options[option] = value
                    options.key_lines[option] = column
                continue
            if isinstance(value, str) and key in _STRIPPED:
                value = value.strip()
            cells[key] = column  # also for an empty cell: the validator names it there
            if not _empty(value):
                item[key] = value
            elif key in _TEXT:
                item[key] = ""
        if options:
            first = min(dict.values(options.key_lines))
            options.line = _cell(QUESTIONS, row_number, first)
            cells["options"] = first
            item["options"] = options
        elif first_option is not None:
            cells["options"] = first_option
        _map_words(item)
        questions.append(item)
    return questions


def _map_words(item: LineDict) -> None:
    qtype = item.get("type")
    if isinstance(qtype, str):
        item["type"] = qtype = TYPE_WORDS.get(qtype, qtype)
    answer = item.get("answer")
    if isinstance(answer, str):
        if qtype == "judge":
            item["answer"] = JUDGE_WORDS.get(answer, answer)
        elif qtype == "multiple":
            item["answer"] = list(ANSWER_SEPARATORS.sub("", answer))
    tags = item.get("tags")
    if isinstance(tags, str):
        item["tags"] = [tag.strip() for tag in TAG_SEPARATORS.split(tags) if tag.strip()]


# ---- writing ---------------------------------------------------------------------

TYPE_NAMES = {qtype: word for word, qtype in TYPE_WORDS.items()}


def write_workbook(bank: dict) -> bytes:
    """The template's workbook of a bank given in the YAML form ({"bank", "title", "version",
    "categories": {slug: name}, "questions": [{"id", "type", ..., "options": {key: text}, ...}]}).
    Raises ValueError naming the question when a text holds a character a workbook cannot."""
    book = Workbook(write_only=True)
    info = book.create_sheet(INFO)
    info.column_dimensions["A"].width, info.column_dimensions["B"].width = 10, 40
    for label, key in INFO_ROWS.items():
        info.append([label, _text_cell(info, bank[key])])
    categories = book.create_sheet(CATEGORIES)
    categories.column_dimensions["A"].width, categories.column_dimensions["B"].width = 20, 30
    categories.append(list(CATEGORY_COLUMNS))
    for slug, name in bank["categories"].items():
        categories.append([_text_cell(categories, slug), _text_cell(categories, name)])
    sheet = book.create_sheet(QUESTIONS)
    for column, width in {"A": 16, "E": 50, "O": 50}.items():
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    sheet.append(list(QUESTION_COLUMNS))
    for question in bank["questions"]:
        try:
            sheet.append([_text_cell(sheet, value) for value in _question_row(question)])
        except IllegalCharacterError:
            raise ValueError(_("question %(id)s holds a control character that a workbook cannot hold",
                               id=question["id"])) from None
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _question_row(question: dict) -> list:
    options = dict(question.get("options") or {})
    qtype, answer = question["type"], question["answer"]
    if qtype == "judge":
        answer = "对" if answer else "错"
    elif qtype == "multiple":
        answer = "".join(answer)
    tags = question.get("tags") or []
    return [question["id"], TYPE_NAMES[qtype], question["category"], question["difficulty"], question["stem"],
            *(options.get(key) for key in OPTION_COLUMNS.values()), answer, question["explanation"],
            question.get("source"), question.get("points"), "、".join(tags) if tags else None]


def _text_cell(sheet, value):
    """A text beginning with "=" stays text: openpyxl would otherwise write it as a formula."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


TEMPLATE_BANK = {
    "bank": "example-bank", "title": "示例题库", "version": 1,
    "categories": {"safety": "安全常识", "health": "健康卫生"},
    "questions": [
        {"id": "safety-001", "type": "multiple", "category": "safety", "difficulty": 2,
         "stem": "下列哪些是地震时正确的避险做法？",
         "options": {"A": "躲在坚固的桌子下", "B": "乘电梯逃生", "C": "用手护住头部", "D": "跳楼逃生"},
         "answer": ["A", "C"], "explanation": "就近躲避并保护头部；不要乘电梯，更不能跳楼。",
         "source": "《公民科学素质读本》", "tags": ["应急", "地震"]},
        {"id": "health-001", "type": "judge", "category": "health", "difficulty": 1,
         "stem": "抗生素可以治疗病毒性感冒。", "answer": False,
         "explanation": "抗生素对病毒无效，滥用会导致细菌耐药。", "points": 2},
    ],
}


def template_workbook() -> bytes:
    """题库模板.xlsx: the three sheets, their headers and two example questions (多选 and 判断)."""
    return write_workbook(TEMPLATE_BANK)
