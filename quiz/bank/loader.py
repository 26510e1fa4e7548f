"""Safe YAML loading that keeps line numbers.

PyYAML's loaders silently keep the last of two duplicate keys, expand
aliases (billion-laughs bombs) and can recurse until RecursionError. We read
the event stream of the C parser (pure Python where libyaml is missing) and
build plain dicts and lists ourselves, refusing duplicates, anchors, aliases,
explicit tags and deep nesting, and remembering the line of every key.
"""
from dataclasses import dataclass

import yaml

try:  # the C parser where present: an order of magnitude faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader

MAX_DEPTH = 20
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    question: str | None = None

    def format(self, filename: str) -> str:
        prefix = f"question {self.question}: " if self.question else ""
        return f"{filename}:{self.line}: {prefix}{self.message}"

    def as_json(self) -> dict:
        return {"line": self.line, "question": self.question, "message": self.message}


class YamlRefused(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


class LineDict(dict):
    """A mapping that remembers its own line and the line of each key."""

    line: int
    key_lines: dict


class LineList(list):
    line: int


_resolver = yaml.resolver.Resolver()
_constructor = yaml.constructor.SafeConstructor()


def _scalar(event) -> object:
    if event.tag and event.tag not in ("!", *_STANDARD_TAGS):
        raise YamlRefused(Problem(event.start_mark.line + 1, f"YAML tag {_short(event.tag)} is not allowed"))
    if event.tag in _STANDARD_TAGS:
        tag = event.tag
    elif event.tag == "!" or event.style:  # quoted: always a string
        tag = "tag:yaml.org,2002:str"
    else:
        tag = _resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == "tag:yaml.org,2002:timestamp":
        return event.value  # dates stay text; contest.definition parses ISO 8601 itself
    if tag not in _STANDARD_TAGS:
        return event.value
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
    try:
        return _constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError):
        return event.value


def load(text: str | bytes):
    """Parse one YAML document into LineDict/LineList/scalars. Raises YamlRefused."""
    stack: list = []  # containers being built; mappings carry a pending key
    root = _NOTHING = object()
    pending_keys: list = []
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, yaml.DocumentStartEvent):
                if root is not _NOTHING:
                    raise YamlRefused(Problem(event.start_mark.line + 1, "only one YAML document is allowed"))
                continue
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                raise YamlRefused(Problem(line, "YAML aliases (*name) are not allowed"))
            if getattr(event, "anchor", None):
                raise YamlRefused(Problem(line, "YAML anchors (&name) are not allowed"))
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if event.tag and event.tag not in _STANDARD_TAGS:
                    raise YamlRefused(Problem(line, f"YAML tag {_short(event.tag)} is not allowed"))
                if len(stack) >= MAX_DEPTH:
                    raise YamlRefused(Problem(line, f"nesting deeper than {MAX_DEPTH} levels"))
                value = LineDict() if isinstance(event, yaml.MappingStartEvent) else LineList()
                value.line = line
                if isinstance(value, LineDict):
                    value.key_lines = {}
                stack.append(value)
                pending_keys.append(_NOTHING)
                continue
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                value = stack.pop()
                pending_keys.pop()
            else:  # ScalarEvent
                value = _scalar(event)
            if not stack:
                root = value
                continue
            parent = stack[-1]
            if isinstance(parent, LineList):
                parent.append(value)
            elif pending_keys[-1] is _NOTHING:
                if isinstance(value, (dict, list)):
                    raise YamlRefused(Problem(line, "a mapping key must be a plain value"))
                if value in parent.key_lines:
                    raise YamlRefused(
                        Problem(line, f"duplicate key '{value}' (first on line {parent.key_lines[value]})")
                    )
                parent.key_lines[value] = line
                pending_keys[-1] = value
            else:
                parent[pending_keys[-1]] = value
                pending_keys[-1] = _NOTHING
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlRefused(Problem(line, f"not valid YAML: {exc.problem or exc}")) from None
    except yaml.YAMLError as exc:
        raise YamlRefused(Problem(1, f"not valid YAML: {exc}")) from None
    except RecursionError:
        raise YamlRefused(Problem(1, "nesting too deep")) from None
    if root is _NOTHING:
        raise YamlRefused(Problem(1, "the file is empty"))
    return root


def decode(raw: bytes, max_bytes: int) -> str:
    """Check size before parsing and decode UTF-8 (a BOM is allowed)."""
    if len(raw) > max_bytes:
        raise YamlRefused(Problem(1, f"file is {len(raw)} bytes; the limit is {max_bytes} bytes"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlRefused(Problem(line, "file is not UTF-8 text")) from None


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")
