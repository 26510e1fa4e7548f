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
    assert problems_of(raw, max_bytes=1000) == [(1, None, f"文件有 {len(raw)} 字节；最多 1000 字节")]


def test_alias_bomb_is_refused_at_the_first_anchor():
    bomb = b"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    bomb += b"".join(f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]\n".encode() for n in range(9))
    assert problems_of(bomb) == [(1, None, "不允许使用 YAML 锚点（&name）")]


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
    assert problems_of(text.encode()) == [(line, None, f"不允许使用 YAML 标签 {tag}")]


def test_deep_nesting_is_refused():
    raw = ("a: " + "[" * 50 + "]" * 50 + "\n").encode()
    assert problems_of(raw) == [(1, None, "嵌套超过 20 层")]


@pytest.mark.parametrize("raw,message", [
    (b"", "文件是空的"),
    (b"# only a comment\n", "文件是空的"),
    (b"bank: a\n---\nbank: b\n", "只能有一个 YAML 文档"),
    (b"just some text\n", "的 YAML 映射"),
    (b"bank: [unclosed\n", "不是有效的 YAML"),
])
def test_text_that_is_not_a_bank_mapping(raw, message):
    (problem,) = problems_of(raw)
    assert message in problem[2]


def test_duplicate_keys_everywhere_are_all_listed_with_their_question():
    raw = GOOD.replace(b"version: 1\n", b"version: 1\nversion: 2\n")  # top level: line 5
    raw = raw.replace("      B: \"切断电源\"\n".encode(), "      B: \"切断电源\"\n      B: \"再说一次\"\n".encode())  # line 18
    raw = raw.replace(b"    points: 2\n", b"    points: 2\n    points: 3\n")  # line 45
    assert problems_of(raw) == [
        (5, None, "键“version”重复（第一次出现在第 4 行）"),
        (18, "safety-001", "键“B”重复（第一次出现在第 17 行）"),
        (45, "health-001", "键“points”重复（第一次出现在第 44 行）"),
    ]


def test_duplicate_id_names_both_lines_even_when_the_question_has_other_problems():
    raw = GOOD.replace(b"  - id: health-001\n    type: judge\n", b"  - id: safety-001\n    type: essay\n")
    assert problems_of(raw) == [
        (35, "safety-001", "题目编号重复（第 9 行也有）"),
        (36, "safety-001", "未知的题型“essay”（只能是 single、multiple 或 judge）"),
    ]


@pytest.mark.parametrize("old,new,line,message", [
    (b"    answer: B\n", b"    answer: [B]\n", 19, "单选题的答案必须是一个选项字母"),
    (b"    answer: [A, C]\n", b"    answer: [A, A]\n", 32, "多选题的答案至少要有两个选项"),
    (b"    answer: [A, C]\n", b"    answer: [A, C, C]\n", 32, "多选题的答案中有重复的选项"),
    (b"    answer: [A, C]\n", b"    answer: AC\n", 32, "多选题的答案必须是选项字母的列表"),
    (b"    answer: false\n", b"    answer: \"false\"\n", 40, "判断题的答案必须是 true 或 false，不能是 'false'"),
    (b"    difficulty: 1\n", b"    difficulty: \"1\"\n", 12, "难度必须是 1、2 或 3，不能是 '1'"),
    (b"    difficulty: 1\n", b"    difficulty: true\n", 12, "难度必须是 1、2 或 3，不能是 True"),
    ("    stem: \"抗生素可以治疗病毒性感冒。\"\n".encode(), b"    stem: [a, b]\n", 39, "题干必须是文字，不能是 ['a', 'b']"),
    ("    stem: \"抗生素可以治疗病毒性感冒。\"\n".encode(), b"    stem:\n", 39, "题干为空"),
    ("      C: \"打开窗户\"\n".encode(), b"      C: \"  \"\n", 17, "选项 C 不能为空"),
])
def test_question_rules(old, new, line, message):
    assert old in GOOD
    (problem,) = problems_of(GOOD.replace(old, new, 1))
    assert problem[0] == line
    assert message in problem[2]


@pytest.mark.parametrize("old,new,line,message", [
    (b"version: 1\n", b"version: \"1\"\n", 4, "version 必须是正整数，不能是 '1'"),
    (b"bank: test-bank\n", b"bank: Test Bank\n", 2, "bank 只能由小写字母、数字和连字符组成"),
    ("title: 测试题库\n".encode(), b"title: \"\"\n", 3, "title 不能为空"),
    ("  health: 健康卫生\n".encode(), b"  health:\n", 7, "分类“health”需要显示名称"),
])
def test_top_level_rules(old, new, line, message):
    problems = problems_of(GOOD.replace(old, new, 1))
    assert (line, None) == problems[0][:2]
    assert message in problems[0][2]


def test_nine_options_are_too_many():
    extra = "".join(f"      {k}: \"选项{k}\"\n" for k in "EFGHI").encode()
    raw = GOOD.replace("      D: \"继续观察\"\n".encode(), "      D: \"继续观察\"\n".encode() + extra, 1)
    assert problems_of(raw)[0] == (14, "safety-001", "每题需要 2 到 8 个选项，现在有 9 个")
