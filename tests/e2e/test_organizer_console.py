"""An organizer checks and imports question banks and exports the results."""
import csv
import io
import re
from pathlib import Path

import pytest

from e2e.steps import (
    ADMIN_PASSWORD,
    ADMIN_PHONE,
    DESKTOP,
    api_perfect_attempt,
    expect,
    log_in,
    new_phone,
    screenshot,
)
from quiz.bank.validator import BankInvalid, validate_bank

pytestmark = pytest.mark.e2e

BROKEN_BANK = """\
bank: e2e-extra
title: 端到端测试题库
version: 1
author: 张三
categories:
  safety: 安全常识
questions:
  - id: safety-001
    type: single
    category: safety
    difficulty: 0
    stem: "家用电器着火时，首先应该怎么做？"
    options:
      A: "用水浇灭"
      B: "切断电源"
    answer: E
    explanation: "先切断电源。"
  - id: safety-002
    type: judge
    category: food
    difficulty: 1
    stem: "抗生素可以治疗病毒性感冒。"
    answer: false
    explanation: "抗生素对病毒无效。"
  - id: safety-001
    type: judge
    category: safety
    difficulty: 1
    stem: "发现燃气泄漏时应立即开灯检查。"
    answer: false
    explanation: "开灯可能产生电火花。"
"""

GOOD_BANK = """\
bank: e2e-extra
title: 端到端测试题库
version: 1
categories:
  safety: 安全常识
questions:
  - id: safety-001
    type: single
    category: safety
    difficulty: 1
    stem: "家用电器着火时，首先应该怎么做？"
    options:
      A: "用水浇灭"
      B: "切断电源"
    answer: B
    explanation: "先切断电源。"
  - id: safety-002
    type: judge
    category: safety
    difficulty: 1
    stem: "发现燃气泄漏时应立即开灯检查。"
    answer: false
    explanation: "开灯可能产生电火花。"
"""


def expected_problems(text: str) -> list:
    with pytest.raises(BankInvalid) as caught:
        validate_bank(text.encode())
    return caught.value.problems


def test_organizer_sees_every_bank_problem_imports_a_good_bank_and_exports_results(
        server, contexts, bank_answers, tmp_path):
    citizen_phone = new_phone()
    api_perfect_attempt(server, citizen_phone, "林志强", "wujin", bank_answers)  # a row to export
    broken, good = tmp_path / "broken.yaml", tmp_path / "e2e-extra.yaml"
    broken.write_text(BROKEN_BANK, encoding="utf-8")
    good.write_text(GOOD_BANK, encoding="utf-8")
    problems = expected_problems(BROKEN_BANK)
    assert len(problems) >= 4

    page = contexts(DESKTOP, phone=False).new_page()
    log_in(page, server.base_url, ADMIN_PHONE, ADMIN_PASSWORD, touch=False, path="/login?next=/admin/banks")
    page.wait_for_url(re.compile(r"/admin/banks$"))

    # The broken file: every problem with its line, and nothing imported, by dry run and by import.
    for button in ("#bank-dry-run", "#bank-import"):
        page.locator("#bank-upload input[name=file]").set_input_files(broken)
        page.locator(button).click()
        listed = page.locator("#bank-problems li")
        expect(listed).to_have_count(len(problems))
        texts = listed.all_inner_texts()
        for problem, text in zip(problems, texts, strict=True):
            assert f"第 {problem.line} 行" in text and problem.message in text, (problem, text)
        expect(page.locator("#bank-list")).not_to_contain_text("e2e-extra")
    screenshot(page, "admin-bank-problems", full_page=True)

    # The good file: checked first, then imported without choosing it again.
    page.locator("#bank-upload input[name=file]").set_input_files(good)
    page.locator("#bank-dry-run").click()
    expect(page.locator("#bank-problems li")).to_have_count(0)
    expect(page.locator("#bank-check-result")).to_contain_text("检查通过")
    expect(page.locator("#bank-pending")).to_be_visible()
    page.locator("#bank-import").click()
    page.wait_for_url(re.compile(r"/admin/banks$"))
    expect(page.locator(".flash-info")).to_contain_text("已导入题库")
    expect(page.locator("#bank-list")).to_contain_text("e2e-extra")

    # The results as CSV.
    page.goto(server.base_url + "/admin/exports")
    page.locator("#export-form [name=kind]").select_option("results")
    page.locator("#export-form [name=fmt]").select_option("csv")
    with page.expect_download() as download_info:
        page.locator("#export-submit").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["答题编号", "姓名", "手机号", "区县"]
    assert {"得分", "满分", "用时（秒）"} <= set(rows[0])
    mine = [row for row in rows[1:] if citizen_phone in row]
    assert len(mine) == 1 and mine[0][rows[0].index("得分")] == "100"

    page.goto(server.base_url + "/admin")
    expect(page.locator("#nav-admin")).to_be_visible()
    screenshot(page, "admin-console", readme="admin.png")
    # Chromium logs the 422 answer to a bad upload as a failed load; anything else is a fault.
    assert [e for e in contexts.errors.items if "status of 422" not in e] == []
