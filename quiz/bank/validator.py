"""Bank validation: every problem of a file, each with its line and question
(the first MAX_PROBLEMS of them by line, then how many more).

A YAML file and a workbook (.xlsx, quiz/bank/spreadsheet.py) become the same document of
LineDict/LineList, the workbook's remembering cells (loader.Cell) where YAML's remember
lines, and the same checks below decide for both."""
import heapq
import re
from collections import Counter
from dataclasses import dataclass, field

from quiz.bank import spreadsheet
from quiz.bank.loader import LineDict, LineList, Problem, YamlRefused, decode, load, place
from quiz.i18n import _, _n, question_type_name

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TYPES = ("single", "multiple", "judge")
OPTION_KEYS = "ABCDEFGH"
TOP_KEYS = {"bank", "title", "version", "categories", "questions"}
REQUIRED_QUESTION_KEYS = {"id", "type", "category", "difficulty", "stem", "answer", "explanation"}
OPTIONAL_QUESTION_KEYS = {"options", "points", "tags", "source"}
MAX_PROBLEMS = 200  # a 5 MB file of mistakes made 1.3 million messages: nobody reads past these


@dataclass
class ValidQuestion:
    qid: str
    type: str
    category: str
    difficulty: int
    stem: str
    options: list  # [[key, text], ...]
    answer: list  # sorted keys, or ["true"]/["false"]
    explanation: str
    points: int | None
    tags: list
    source: str | None
    line: int


@dataclass
class ValidBank:
    slug: str
    title: str
    version: int
    categories: dict
    questions: list[ValidQuestion] = field(default_factory=list)
    version_line: int = 1  # where the importer points when the version is refused

    def counts(self) -> dict:
        return {
            "type": dict(Counter(q.type for q in self.questions)),
            "category": dict(Counter(q.category for q in self.questions)),
            "difficulty": dict(Counter(q.difficulty for q in self.questions)),
        }


class FirstProblems:
    """Collects problems but keeps only the MAX_PROBLEMS first by line (in the order found
    among equal lines) and counts the rest, so memory stays bounded however bad the file.
    `line_of` gives an item's line (items may carry more than a Problem)."""

    def __init__(self, limit: int = MAX_PROBLEMS, line_of=lambda problem: problem.line):
        self.limit, self.line_of = limit, line_of
        self._heap: list = []  # (-line, -order, item): the worst kept item on top
        self._order = 0
        self.more = 0  # items found beyond the limit
        self.first_left_out: int | None = None  # the smallest line among them

    def append(self, item) -> None:
        self._order += 1
        line = self.line_of(item)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, (-line, -self._order, item))
            return
        if line < -self._heap[0][0]:  # earlier than the worst kept one: keep it instead
            line = self.line_of(heapq.heapreplace(self._heap, (-line, -self._order, item))[2])
        self.more += 1
        if self.first_left_out is None or line < self.first_left_out:
            self.first_left_out = line

    def extend(self, items) -> None:
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return len(self._heap) + self.more

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __iter__(self):
        """The kept items in line order (not the count of the rest)."""
        return (item for _, _, item in sorted(self._heap, key=lambda e: (-e[0], -e[1])))

    def problems(self) -> list[Problem]:
        """The kept problems in line order and, past the limit, one "… and N more problems"."""
        kept = list(self)
        if self.more:
            kept.append(Problem(self.first_left_out, _n("… and %(num)s more problem", "… and %(num)s more problems", self.more)))
        return kept


class BankInvalid(Exception):
    def __init__(self, problems):
        """problems: a list or a FirstProblems; at most MAX_PROBLEMS are kept (see FirstProblems)."""
        if not isinstance(problems, FirstProblems):
            collected = FirstProblems()
            collected.extend(problems)
            problems = collected
        super().__init__(_n("%(num)s problem", "%(num)s problems", len(problems)))
        self.problems = problems.problems()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonempty_str(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def validate_bank(raw: bytes, max_bytes: int = 5 * 1024 * 1024, filename: str = "") -> ValidBank:
    """Return the validated bank or raise BankInvalid listing every problem.

    A workbook (a name ending .xlsx, or the zip magic) is read by quiz/bank/spreadsheet.py,
    anything else parsed as YAML; both are then checked here, the same way."""
    if spreadsheet.is_workbook(raw, filename):
        return _validate_workbook(raw, max_bytes)
    duplicates = FirstProblems(line_of=lambda found: found[0].line)  # (problem, containers) from the loader
    try:
        doc = load(decode(raw, max_bytes), duplicates=duplicates)
    except YamlRefused as exc:
        problems = FirstProblems()
        problems.extend(problem for problem, _ in duplicates)
        problems.append(exc.problem)
        _count_left_out(problems, duplicates)
        raise BankInvalid(problems) from None
    problems = FirstProblems()
    if not isinstance(doc, LineDict):
        raise BankInvalid([Problem(getattr(doc, "line", 1), _("the file must be a YAML mapping with bank, title, version, categories and questions"))])
    return _validate_document(doc, problems, duplicates)


def _validate_workbook(raw: bytes, max_bytes: int) -> ValidBank:
    if len(raw) > max_bytes:  # before unpacking, as a YAML file's size is checked before parsing
        raise BankInvalid([Problem(1, _("file is %(size)s bytes; the limit is %(limit)s bytes", size=len(raw), limit=max_bytes))])
    try:
        doc, found = spreadsheet.read_workbook(raw)
    except spreadsheet.WorkbookRefused as exc:
        raise BankInvalid(exc.problems) from None
    problems = FirstProblems()
    problems.extend(found)
    return _validate_document(doc, problems, FirstProblems())


def _validate_document(doc: LineDict, problems: FirstProblems, duplicates: FirstProblems) -> ValidBank:
    """The checks of a bank document; `problems` may already hold some (a workbook's layout),
    `duplicates` are the loader's duplicate keys with their containers."""

    def key_line(mapping, key):
        return mapping.key_lines.get(key, mapping.line)

    for key in doc:
        if key not in TOP_KEYS:
            problems.append(Problem(key_line(doc, key), _("unknown top-level key '%(key)s'", key=key)))
    for key in sorted(TOP_KEYS - set(doc)):
        problems.append(Problem(key_line(doc, key), _("missing top-level key '%(key)s'", key=key)))  # a workbook's empty cell has a line

    slug = doc.get("bank")
    if "bank" in doc and not (isinstance(slug, str) and SLUG.match(slug)):
        problems.append(Problem(key_line(doc, "bank"), _("bank must be a slug of lowercase letters, digits and hyphens")))
    title = doc.get("title")
    if "title" in doc and not _nonempty_str(title):
        problems.append(Problem(key_line(doc, "title"), _("title must be non-empty text")))
    version = doc.get("version")
    if "version" in doc and not (_is_int(version) and version >= 1):
        problems.append(Problem(key_line(doc, "version"), _("version must be a positive integer, not %(value)r", value=version)))

    categories = doc.get("categories")
    category_names: dict = {}
    if "categories" in doc:
        if not isinstance(categories, LineDict) or not categories:
            problems.append(Problem(key_line(doc, "categories"), _("categories must be a mapping of slug: display name")))
        else:
            for cslug, name in categories.items():
                line = categories.key_lines[cslug]
                if not (isinstance(cslug, str) and SLUG.match(cslug)):
                    problems.append(Problem(line, _("category '%(slug)s' must be a slug", slug=cslug)))
                elif not _nonempty_str(name):
                    problems.append(Problem(line, _("category '%(slug)s' needs a display name", slug=cslug)))
                else:
                    category_names[cslug] = name

    questions = doc.get("questions")
    valid: list[ValidQuestion] = []
    if "questions" in doc:
        if not isinstance(questions, LineList) or not questions:
            problems.append(Problem(key_line(doc, "questions"), _("questions must be a non-empty list")))
        else:
            seen_ids: dict = {}
            for item in questions:
                question = _validate_question(item, categories if isinstance(categories, dict) else {}, problems)
                # Checked even when the question has other problems, so that all are listed at once.
                qid = item.get("id") if isinstance(item, LineDict) else None
                if isinstance(qid, str) and qid in seen_ids:
                    problems.append(Problem(item.key_lines["id"], _("duplicate question id (also on %(place)s)", place=place(seen_ids[qid])), qid))
                    continue
                if isinstance(qid, str):
                    seen_ids[qid] = item.key_lines["id"]
                if question is not None:
                    valid.append(question)
    problems.extend(_label_by_question(duplicates, questions))
    _count_left_out(problems, duplicates)
    if problems:
        raise BankInvalid(problems)
    return ValidBank(slug, title, version, dict(category_names), valid, key_line(doc, "version"))


def _count_left_out(problems: FirstProblems, duplicates: FirstProblems) -> None:
    """Add the duplicate keys the loader found beyond the limit to the count of the rest."""
    if duplicates.more:
        problems.more += duplicates.more
        first = duplicates.first_left_out
        problems.first_left_out = first if problems.first_left_out is None else min(problems.first_left_out, first)


def _label_by_question(duplicates: list, questions) -> list[Problem]:
    """Name the question that holds each duplicate key found while parsing."""
    labelled = []
    for problem, containers in duplicates:
        # containers: [document, questions list, question mapping, ...] for a key inside a question
        inside = len(containers) >= 3 and containers[1] is questions and isinstance(containers[2], LineDict)
        qid = containers[2].get("id") if inside else None
        labelled.append(Problem(problem.line, problem.message, qid if isinstance(qid, str) else None))
    return labelled


def _validate_question(item, categories: dict, problems: FirstProblems) -> ValidQuestion | None:
    line = getattr(item, "line", 0)
    if not isinstance(item, LineDict):
        problems.append(Problem(line, _("each question must be a mapping")))
        return None
    qid = item.get("id")
    label = qid if isinstance(qid, (str, int)) and not isinstance(qid, bool) else None
    label = str(label) if label is not None else None
    before = len(problems)

    def problem(key, message):
        problems.append(Problem(item.key_lines.get(key, item.line), message, label))

    for key in item:
        if key not in REQUIRED_QUESTION_KEYS | OPTIONAL_QUESTION_KEYS:
            problem(key, _("unknown question key '%(key)s'", key=key))
    for key in sorted(REQUIRED_QUESTION_KEYS - set(item)):
        problem(key, _("missing question key '%(key)s'", key=key))  # the question's line, or a workbook's empty cell

    if "id" in item and not (isinstance(qid, str) and SLUG.match(qid)):
        problem("id", _("id must be text of lowercase letters, digits and hyphens"))
    qtype = item.get("type")
    if "type" in item and qtype not in TYPES:
        problem("type", _("unknown type '%(type)s' (single, multiple or judge)", type=qtype))
    category = item.get("category")
    if "category" in item and category not in categories:
        problem("category", _("category '%(category)s' is not declared in categories", category=category))
    difficulty = item.get("difficulty")
    if "difficulty" in item and not (_is_int(difficulty) and 1 <= difficulty <= 3):
        problem("difficulty", _("difficulty must be 1, 2 or 3, not %(value)r", value=difficulty))
    stem = item.get("stem")
    if "stem" in item and not _nonempty_str(stem):
        problem("stem", _("stem is empty") if isinstance(stem, str) or stem is None else _("stem must be text, not %(value)r", value=stem))
    explanation = item.get("explanation")
    if "explanation" in item and not _nonempty_str(explanation):
        problem("explanation", _("explanation is empty") if isinstance(explanation, str) or explanation is None
                else _("explanation must be text, not %(value)r", value=explanation))
    points = item.get("points")
    if "points" in item and not (_is_int(points) and points >= 0):
        problem("points", _("points must be a non-negative integer, not %(value)r", value=points))
    tags = item.get("tags", [])
    if "tags" in item and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        problem("tags", _("tags must be a list of text, not %(value)r", value=tags))
    source = item.get("source")
    if "source" in item and not isinstance(source, str):
        problem("source", _("source must be text, not %(value)r", value=source))

    options: list = []
    answer = item.get("answer")
    normalised_answer: list = []
    if qtype == "judge":
        if "options" in item:
            problem("options", _("a judge question has no options"))
        if "answer" in item:
            if isinstance(answer, bool):
                normalised_answer = ["true" if answer else "false"]
            else:
                problem("answer", _("a judge answer must be true or false, not %(value)r", value=answer))
    elif qtype in ("single", "multiple"):
        raw_options = item.get("options")
        if raw_options is None:
            problem("options", _("a %(type)s question needs 2 to 8 options", type=question_type_name(qtype)))
        elif not isinstance(raw_options, LineDict):
            problem("options", _("options must be a mapping of key: text"))
        else:
            keys = list(raw_options)
            expected = list(OPTION_KEYS[: len(keys)])
            if not 2 <= len(keys) <= 8:
                problem("options", _("a question needs 2 to 8 options, not %(count)s", count=len(keys)))
            elif [str(k) for k in keys] != expected:
                wrong = next(k for k, e in zip(keys, expected, strict=True) if str(k) != e)
                problems.append(Problem(
                    raw_options.key_lines[wrong],
                    _("option keys must be %(expected)s in order, not %(keys)s", expected=", ".join(expected),
                      keys=", ".join(map(str, keys))), label,
                ))
            texts: dict = {}
            for key, text in raw_options.items():
                if not _nonempty_str(text) and not (isinstance(text, (int, float)) and not isinstance(text, bool)):
                    problems.append(Problem(raw_options.key_lines[key], _("option %(key)s must be non-empty text", key=key), label))
                    continue
                text = str(text).strip()
                if text in texts:
                    problems.append(
                        Problem(raw_options.key_lines[key], _("options %(first)s and %(second)s have the same text", first=texts[text], second=key), label)
                    )
                texts.setdefault(text, key)
                options.append([str(key), text])
        option_keys = {k for k, _ in options}
        if "answer" in item:
            if qtype == "single":
                if not isinstance(answer, str):
                    problem("answer", _("a single-choice answer must be one option key"))
                elif options and answer not in option_keys:
                    problem("answer", _("answer %(answer)s is not one of the options", answer=answer))
                else:
                    normalised_answer = [answer]
            else:
                if not (isinstance(answer, list) and all(isinstance(a, str) for a in answer)):
                    problem("answer", _("a multiple-choice answer must be a list of option keys"))
                elif len(set(answer)) < 2:
                    problem("answer", _("a multiple-choice answer needs at least two keys"))
                elif len(set(answer)) != len(answer):
                    problem("answer", _("a multiple-choice answer lists a key twice"))
                else:
                    missing = [a for a in answer if options and a not in option_keys]
                    if missing:
                        problem("answer", _("answer %(answer)s is not one of the options", answer=", ".join(missing)))
                    normalised_answer = sorted(answer)
    if len(problems) > before:
        return None
    return ValidQuestion(
        qid=qid, type=qtype, category=category, difficulty=difficulty, stem=stem.strip(),
        options=options, answer=normalised_answer, explanation=explanation.strip(),
        points=points, tags=list(tags), source=source, line=item.line,
    )
