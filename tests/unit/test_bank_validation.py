"""The bank validator and its safe YAML loader, without a database or a request.
(Each bad file of tests/banks is checked end to end in tests/functional/test_bank_import.py.)"""
from pathlib import Path

import pytest
import yaml

from quiz.bank import loader
from quiz.bank.validator import BankInvalid, validate_bank

BANKS = Path(__file__).resolve().parent.parent / "banks"
GOOD = (BANKS / "good.yaml").read_bytes()
SAMPLE = Path(__file__).resolve().parent.parent.parent / "question_bank" / "cz-science-2021.yaml"


def problems_of(raw: bytes, **kw) -> list[tuple]:
    with pytest.raises(BankInvalid) as caught:
        validate_bank(raw, **kw)
    return [(p.line, p.question, p.message) for p in caught.value.problems]


def test_uses_the_c_parser():
    assert loader._Loader is yaml.CSafeLoader


def test_good_bank_is_normalised():
    bank = validate_bank(GOOD)
    assert (bank.slug, bank.title, bank.version) == ("test-bank", "测试题库", 1)
    assert bank.categories == {"safety": "安全常识", "health": "健康卫生"}
    single, multiple, judge = bank.questions
    assert single.options == [["A", "用水浇灭"], ["B", "切断电源"], ["C", "打开窗户"], ["D", "继续观察"]]
    assert (single.answer, single.line) == (["B"], 9)
    assert multiple.answer == ["A", "C"]
    assert (judge.options, judge.answer, judge.points) == ([], ["false"], 2)
    assert bank.counts() == {"type": {"single": 1, "multiple": 1, "judge": 1},
                             "category": {"safety": 2, "health": 1}, "difficulty": {1: 1, 2: 1, 3: 1}}


def test_sample_bank_is_valid():
    bank = validate_bank(SAMPLE.read_bytes())
    assert len(bank.questions) == 462
    assert len(bank.categories) == 12


def test_byte_order_mark_is_allowed():
    assert validate_bank(b"\xef\xbb\xbf" + GOOD).slug == "test-bank"


def test_size_is_checked_before_parsing():
    # An unparseable file over the limit reports only its size: the parser never saw it.
    raw = b"{{{{ not yaml " * 100
    assert problems_of(raw, max_bytes=1000) == [(1, None, f"file is {len(raw)} bytes; the limit is 1000 bytes")]


def test_alias_bomb_is_refused_at_the_first_anchor():
    bomb = b"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    bomb += b"".join(f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]\n".encode() for n in range(9))
    assert problems_of(bomb) == [(1, None, "YAML anchors (&name) are not allowed")]


def test_alias_without_anchor_is_refused():
    assert problems_of(b"bank: x\ntitle: *t\n")[0][:2] == (2, None)


@pytest.mark.parametrize("text,line,tag", [
    ("stem: !!python/name:os.system\n", 1, "!!python/name:os.system"),
    ("x: 1\nstem: !!python/object/new:os.system [ls]\n", 2, "!!python/object/new:os.system"),
    ("stem: !!python/object:quiz.models.User {name: x}\n", 1, "!!python/object:quiz.models.User"),
    ("stem: !custom text\n", 1, "!custom"),
    ("stem: !!binary aGVsbG8=\n", 1, "!!binary"),
    ("stem: !!set {a, b}\n", 1, "!!set"),
])
def test_object_building_tags_are_refused(text, line, tag):
    assert problems_of(text.encode()) == [(line, None, f"YAML tag {tag} is not allowed")]


def test_deep_nesting_is_refused():
    raw = ("a: " + "[" * 50 + "]" * 50 + "\n").encode()
    assert problems_of(raw) == [(1, None, "nesting deeper than 20 levels")]


@pytest.mark.parametrize("raw,message", [
    (b"", "the file is empty"),
    (b"# only a comment\n", "the file is empty"),
    (b"bank: a\n---\nbank: b\n", "only one YAML document is allowed"),
    (b"just some text\n", "the file must be a YAML mapping"),
    (b"bank: [unclosed\n", "not valid YAML"),
])
def test_text_that_is_not_a_bank_mapping(raw, message):
    (problem,) = problems_of(raw)
    assert message in problem[2]


def test_duplicate_keys_everywhere_are_all_listed_with_their_question():
    raw = GOOD.replace(b"version: 1\n", b"version: 1\nversion: 2\n")  # top level: line 5
    raw = raw.replace("      B: \"切断电源\"\n".encode(), "      B: \"切断电源\"\n      B: \"再说一次\"\n".encode())  # line 18
    raw = raw.replace(b"    points: 2\n", b"    points: 2\n    points: 3\n")  # line 45
    assert problems_of(raw) == [
        (5, None, "duplicate key 'version' (first on line 4)"),
        (18, "safety-001", "duplicate key 'B' (first on line 17)"),
        (45, "health-001", "duplicate key 'points' (first on line 44)"),
    ]


def test_duplicate_id_names_both_lines_even_when_the_question_has_other_problems():
    raw = GOOD.replace(b"  - id: health-001\n    type: judge\n", b"  - id: safety-001\n    type: essay\n")
    assert problems_of(raw) == [
        (35, "safety-001", "duplicate question id (also on line 9)"),
        (36, "safety-001", "unknown type 'essay' (single, multiple or judge)"),
    ]


@pytest.mark.parametrize("old,new,line,message", [
    (b"    answer: B\n", b"    answer: [B]\n", 19, "a single-choice answer must be one option key"),
    (b"    answer: [A, C]\n", b"    answer: [A, A]\n", 32, "a multiple-choice answer needs at least two keys"),
    (b"    answer: [A, C]\n", b"    answer: [A, C, C]\n", 32, "a multiple-choice answer lists a key twice"),
    (b"    answer: [A, C]\n", b"    answer: AC\n", 32, "a multiple-choice answer must be a list of option keys"),
    (b"    answer: false\n", b"    answer: \"false\"\n", 40, "a judge answer must be true or false, not 'false'"),
    (b"    difficulty: 1\n", b"    difficulty: \"1\"\n", 12, "difficulty must be 1, 2 or 3, not '1'"),
    (b"    difficulty: 1\n", b"    difficulty: true\n", 12, "difficulty must be 1, 2 or 3, not True"),
    ("    stem: \"抗生素可以治疗病毒性感冒。\"\n".encode(), b"    stem: [a, b]\n", 39, "stem must be text, not ['a', 'b']"),
    ("    stem: \"抗生素可以治疗病毒性感冒。\"\n".encode(), b"    stem:\n", 39, "stem is empty"),
    ("      C: \"打开窗户\"\n".encode(), b"      C: \"  \"\n", 17, "option C must be non-empty text"),
])
def test_question_rules(old, new, line, message):
    assert old in GOOD
    (problem,) = problems_of(GOOD.replace(old, new, 1))
    assert problem[0] == line
    assert message in problem[2]


@pytest.mark.parametrize("old,new,line,message", [
    (b"version: 1\n", b"version: \"1\"\n", 4, "version must be a positive integer, not '1'"),
    (b"bank: test-bank\n", b"bank: Test Bank\n", 2, "bank must be a slug"),
    ("title: 测试题库\n".encode(), b"title: \"\"\n", 3, "title must be non-empty text"),
    ("  health: 健康卫生\n".encode(), b"  health:\n", 7, "category 'health' needs a display name"),
])
def test_top_level_rules(old, new, line, message):
    problems = problems_of(GOOD.replace(old, new, 1))
    assert (line, None) == problems[0][:2]
    assert message in problems[0][2]


def test_nine_options_are_too_many():
    extra = "".join(f"      {k}: \"选项{k}\"\n" for k in "EFGHI").encode()
    raw = GOOD.replace("      D: \"继续观察\"\n".encode(), "      D: \"继续观察\"\n".encode() + extra, 1)
    assert problems_of(raw)[0] == (14, "safety-001", "a question needs 2 to 8 options, not 9")
