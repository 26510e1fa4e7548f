"""Safe YAML loading that keeps line numbers.

PyYAML's loaders silently keep the last of two duplicate keys, expand
aliases (billion-laughs bombs) and can recurse until RecursionError. We read
the event stream of the C parser (pure Python where libyaml is missing) and
build plain dicts and lists ourselves, refusing duplicates, anchors, aliases,
explicit tags and deep nesting, and remembering the line of every key.
Numbers whose construction costs more than linear time (YAML 1.1's base-60 integers
such as 1:2:3:4, and very long numerals) are refused too.
"""
from dataclasses import dataclass

import yaml

from quiz.i18n import _

try:  # the C parser where present: an order of magnitude faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader

MAX_DEPTH = 20
MAX_NUMBER_CHARS = 100  # no bank or contest needs a longer numeral; PyYAML's are quadratic in it
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class Cell(int):
    """Where a workbook (.xlsx) bank holds a value, standing where a YAML file has a line number:
    its int value orders problems as lines do (sheet, then row, then column) and str() is the
    reference, e.g. 题目!M12. The sheet's place in the workbook's order is `sheet_order`."""

    def __new__(cls, sheet_order: int, sheet: str, row: int, column: int):
        cell = super().__new__(cls, (sheet_order << 26) | (min(row, (1 << 20) - 1) << 6) | min(column, 63))
        cell.sheet, cell.row, cell.column = sheet, row, column  # column 0 is A
        return cell

    def __str__(self) -> str:
        return f"{self.sheet}!{column_letters(self.column)}{self.row}"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def column_letters(column: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def place(line) -> str:
    """How a message names another location: "line 9" in a YAML file, "题目!A3" in a workbook."""
    return str(line) if isinstance(line, Cell) else _("line %(line)s", line=line)


@dataclass(frozen=True)
class Problem:
    line: int  # a YAML line, or a Cell of a workbook
    message: str
    question: str | None = None

    @property
    def cell(self) -> str | None:
        """SHEET!CELL for a workbook's problem, None for a YAML file's."""
        return str(self.line) if isinstance(self.line, Cell) else None

    def format(self, filename: str) -> str:
        prefix = _("question %(id)s: ", id=self.question) if self.question else ""
        return f"{filename}:{self.line}: {prefix}{self.message}"

    def as_json(self) -> dict:
        if isinstance(self.line, Cell):  # "line" is the row in the sheet that "cell" names
            return {"line": self.line.row, "cell": str(self.line), "question": self.question, "message": self.message}
        return {"line": self.line, "question": self.question, "message": self.message}


class YamlRefused(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


class LineDict(dict):
    """A mapping that remembers its own line and the line of each key."""

    __slots__ = ("line", "key_lines")  # no __dict__ each: a 5 MB file can hold 500,000 mappings
    line: int
    key_lines: dict


class LineList(list):
    __slots__ = ("line",)
    line: int


_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALAR_TAGS = _STANDARD_TAGS - {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_PLAIN = (True, False)
_MISSING = object()


def _scalar(event, plain_cache: dict) -> object:
    tag = event.tag
    if tag is not None and tag != "!" and tag not in _STANDARD_TAGS:
        raise YamlRefused(Problem(event.start_mark.line + 1, _("YAML tag %(tag)s is not allowed", tag=_short(tag))))
    value = event.value
    if tag is None or tag == "!":
        if tag == "!" or event.style:  # quoted: always a string (most stems and options)
            return value
        # Plain scalars repeat (keys, types, option keys, categories): resolve each text once per file.
        cached = plain_cache.get(value, _MISSING)
        if cached is not _MISSING:
            return cached
        tag = _resolver.resolve(yaml.ScalarNode, value, _PLAIN)
        result = _construct(tag, value, event)
        if len(value) <= 40:
            plain_cache[value] = result
        return result
    return _construct(tag, value, event)


def _construct(tag: str, value: str, event) -> object:
    if tag == _STR:
        return value
    if tag == _TIMESTAMP or tag not in _SCALAR_TAGS:
        return value  # dates stay text (contest.definition parses ISO 8601 itself); !!map on a scalar too
    if tag in _NUMBER_TAGS:
        _check_number(value, event)
    node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark)
    try:  # the constructor directly: construct_object would remember every node of the file
        return _constructor.yaml_constructors[tag](_constructor, node)
    except (yaml.YAMLError, ValueError):
        return value


def _check_number(value: str, event) -> None:
    """Refuse numerals whose value PyYAML computes in super-linear time: a base-60 integer
    (1:2:3:4, each part a multiplication of a growing integer) and any numeral longer than
    MAX_NUMBER_CHARS. Quoted, either is plain text."""
    line = event.start_mark.line + 1
    if ":" in value:
        shown = value if len(value) <= 20 else value[:20] + "…"
        raise YamlRefused(Problem(line, _("'%(value)s' is a YAML base-60 number, which is not allowed; "
                                          "quote it if it is text", value=shown)))
    if len(value) > MAX_NUMBER_CHARS:
        raise YamlRefused(Problem(line, _("a number of %(length)s characters is not allowed (at most "
                                          "%(limit)s); quote it if it is text", length=len(value), limit=MAX_NUMBER_CHARS)))


def load(text: str | bytes, duplicates: list | None = None):
    """Parse one YAML document into LineDict/LineList/scalars. Raises YamlRefused.

    A duplicate key raises too, unless a `duplicates` list is given: then
    (Problem, [enclosing containers, outermost first]) is appended there, the
    first value kept and parsing goes on, so a validator can report it beside
    every other problem of the file and name the question it is in.
    """
    stack: list = []  # containers being built; mappings carry a pending key
    root = _NOTHING = object()
    _DISCARD = object()  # pending "key" of a duplicate whose value is dropped
    pending_keys: list = []
    plain_cache: dict = {}
    parser = _Loader(text)
    # Events straight from the parser, tested by exact class (this loop runs once per scalar).
    get_event = parser.get_event
    scalar_event, mapping_start, sequence_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    collection_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    try:
        while True:
            event = get_event()
            if event is None:
                break
            cls = event.__class__
            if cls is scalar_event:
                if event.anchor:
                    raise YamlRefused(Problem(event.start_mark.line + 1, _("YAML anchors (&name) are not allowed")))
                value = _scalar(event, plain_cache)
            elif cls is mapping_start or cls is sequence_start:
                line = event.start_mark.line + 1
                if event.anchor:
                    raise YamlRefused(Problem(line, _("YAML anchors (&name) are not allowed")))
                if event.tag and event.tag not in _STANDARD_TAGS:
                    raise YamlRefused(Problem(line, _("YAML tag %(tag)s is not allowed", tag=_short(event.tag))))
                if len(stack) >= MAX_DEPTH:
                    raise YamlRefused(Problem(line, _("nesting deeper than %(depth)s levels", depth=MAX_DEPTH)))
                if cls is mapping_start:
                    value = LineDict()
                    value.key_lines = {}
                else:
                    value = LineList()
                value.line = line
                stack.append(value)
                pending_keys.append(_NOTHING)
                continue
            elif cls in collection_end:
                value = stack.pop()
                pending_keys.pop()
            elif cls is yaml.AliasEvent:
                raise YamlRefused(Problem(event.start_mark.line + 1, _("YAML aliases (*name) are not allowed")))
            elif cls is yaml.DocumentStartEvent:
                if root is not _NOTHING:
                    raise YamlRefused(Problem(event.start_mark.line + 1, _("only one YAML document is allowed")))
                continue
            else:  # stream start and end, document end
                continue
            if not stack:
                root = value
                continue
            parent = stack[-1]
            if parent.__class__ is LineList:
                parent.append(value)
            elif pending_keys[-1] is _NOTHING:
                line = event.start_mark.line + 1
                if isinstance(value, (dict, list)):
                    raise YamlRefused(Problem(line, _("a mapping key must be a plain value")))
                if value in parent.key_lines:
                    problem = Problem(line, _("duplicate key '%(key)s' (first on line %(line)s)", key=value, line=parent.key_lines[value]))
                    if duplicates is None:
                        raise YamlRefused(problem)
                    duplicates.append((problem, list(stack)))
                    pending_keys[-1] = _DISCARD
                    continue
                parent.key_lines[value] = line
                pending_keys[-1] = value
            else:
                if pending_keys[-1] is not _DISCARD:
                    parent[pending_keys[-1]] = value
                pending_keys[-1] = _NOTHING
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlRefused(Problem(line, _("not valid YAML: %(reason)s", reason=_(exc.problem) if exc.problem else exc))) from None
    except yaml.YAMLError as exc:
        raise YamlRefused(Problem(1, _("not valid YAML: %(reason)s", reason=exc))) from None
    except RecursionError:
        raise YamlRefused(Problem(1, _("nesting too deep"))) from None
    finally:
        parser.dispose()
    if root is _NOTHING:
        raise YamlRefused(Problem(1, _("the file is empty")))
    return root


def decode(raw: bytes, max_bytes: int) -> str:
    """Check size before parsing and decode UTF-8 (a BOM is allowed)."""
    if len(raw) > max_bytes:
        raise YamlRefused(Problem(1, _("file is %(size)s bytes; the limit is %(limit)s bytes", size=len(raw), limit=max_bytes)))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlRefused(Problem(line, _("file is not UTF-8 text"))) from None


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")
