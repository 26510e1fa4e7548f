"""The big-screen board lays out on upright and lying screens from 768 to 3840 px wide and on a
phone: every column of both tables inside the screen, headers on one line, the ranking rows the
largest text, the 扫码参赛 QR code on screen. Measured from the element boxes, not looked at;
the four README pictures are docs/screenshots/display-<w>x<h>.png."""
import io

import pytest
from pypdf import PdfReader

from e2e.conftest import SAMPLE_CONTEST, _server
from e2e.steps import (
    ARTIFACTS,
    PHONE,
    api_perfect_attempt,
    assert_no_sideways_scroll,
    expect,
    log_in,
    new_phone,
    run_axe,
    screenshot,
)

pytestmark = pytest.mark.e2e

README_SIZES = [(1080, 1920), (768, 1024), (1920, 1080), (390, 844)]
OTHER_SIZES = [(3840, 2160), (2160, 3840), (1024, 768), (844, 390)]  # the ends of the range, a phone sideways
PHONE_SIDE = 600  # a shorter side: a phone (touch, device pixels 2:1), tables stacked
# Kiosk screens cannot be scrolled: there the whole top 20 and the QR code must be on screen.
KIOSKS = {(1080, 1920), (1920, 1080), (3840, 2160), (2160, 3840)}

# Long names and the longest district name, so that the widest cells are on the board.
PEOPLE = [("阿卜杜热合曼", "jingkai"), ("欧阳振华", "zhonglou"), ("张三丰", "wujin"), ("李四", "xinbei"),
          ("王小明", "liyang"), ("司马相如", "jintan"), ("赵钱孙", "tianning")]

MEASURE = """() => {
    const width = window.innerWidth;
    const box = el => { const r = el.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
    const lines = el => { const range = document.createRange(); range.selectNodeContents(el);
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        return tops.size; };
    const table = selector => {
        const t = document.querySelector(selector);
        const cells = Array.from(t.querySelectorAll('th, td')).map(c => ({text: c.textContent.trim(), tag: c.tagName,
            box: box(c), lines: lines(c), visible: getComputedStyle(c).visibility === 'visible' && c.offsetParent !== null,
            clipped: c.scrollWidth > c.clientWidth + 1}));
        const panel = t.parentElement;
        return {box: box(t), scrollWidth: t.scrollWidth, clientWidth: t.clientWidth,
                panelScroll: panel.scrollWidth, panelClient: panel.clientWidth,
                headers: Array.from(t.querySelectorAll('th')).map(th => th.textContent.trim()), cells: cells,
                rows: t.querySelectorAll('tbody tr').length};
    };
    const font = selector => parseFloat(getComputedStyle(document.querySelector(selector)).fontSize);
    return {width: width, height: window.innerHeight, top: table('table.top'), districts: table('table.districts'),
            topFont: font('#top-table tr td:nth-child(2)'), districtFont: font('#district-table tr td:nth-child(1)'),
            qr: box(document.querySelector('#invite-qr svg')), heading: box(document.querySelector('#invite-heading'))};
}"""


@pytest.fixture(scope="module")
def board(tmp_path_factory, prepared_instance, server_pool, bank_answers):
    """A server of its own (the other tests' new results stay in their top 20) with twenty-one
    results on the sample contest's board (the top 20 full), from every district."""
    server = _server(tmp_path_factory, prepared_instance, server_pool, "e2e-layout-server", SAMPLE_CONTEST)
    for n in range(21):
        name, district = PEOPLE[n % len(PEOPLE)]
        api_perfect_attempt(server, new_phone(), name, district, bank_answers)
    yield server
    server.terminate()


def check_table(found: dict, headers: list[str], width: int, label: str) -> None:
    assert found["headers"] == headers, label
    assert found["rows"] > 0, f"{label}: no rows"
    assert found["scrollWidth"] <= found["clientWidth"], f"{label}: the table scrolls sideways {found}"
    assert found["panelScroll"] <= found["panelClient"], f"{label}: the table is wider than its panel"
    for cell in found["cells"]:
        where = f"{label} {cell['tag']} {cell['text']!r} at {cell['box']}"
        assert cell["visible"], f"{where} is hidden"
        assert cell["box"]["width"] > 0 and cell["box"]["left"] >= 0 and cell["box"]["right"] <= width + 0.5, \
            f"{where} is outside the {width} px screen"
        assert cell["box"]["right"] <= found["box"]["right"] + 0.5, f"{where} sticks out of its table"
        assert not cell["clipped"], f"{where} is clipped"
        if cell["tag"] == "TH":
            assert cell["lines"] == 1, f"{where} wraps onto {cell['lines']} lines"


@pytest.mark.parametrize("size", README_SIZES + OTHER_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_column_is_on_screen_at_every_size(board, contexts, size):
    width, height = size
    phone = min(size) < PHONE_SIDE
    page = contexts(size, phone=phone).new_page()
    page.goto(board.base_url + "/display")
    expect(page.locator("#top-table tr.entry")).to_have_count(20)
    page.wait_for_load_state("networkidle")
    assert_no_sideways_scroll(page)
    found = page.evaluate(MEASURE)
    label = f"{width}x{height}"
    check_table(found["top"], ["名次", "姓名", "区县", "得分", "用时"], width, f"{label} top")
    check_table(found["districts"], ["区县", "参赛人数", "答题次数", "平均分", "每万人参赛"], width, f"{label} districts")
    assert found["topFont"] >= found["districtFont"], f"{label}: ranking rows smaller than district rows"
    assert found["qr"]["width"] >= min(width, height) * 0.12 and found["qr"]["right"] <= width
    if size in KIOSKS:
        assert found["top"]["box"]["bottom"] <= height, f"{label}: the top 20 run off the screen"
        assert found["qr"]["bottom"] <= height, f"{label}: the QR code is off the screen"
    if height > width or phone:  # upright or a phone: the tables stacked, the ranking above the districts
        assert found["districts"]["box"]["top"] >= found["top"]["box"]["bottom"]
    else:
        assert found["districts"]["box"]["left"] >= found["top"]["box"]["right"]
    readme = f"display-{width}x{height}.png" if size in README_SIZES else None
    screenshot(page, f"display-{label}", readme=readme)
    assert contexts.errors.items == []


def test_the_poster_prints_on_one_a4_page_with_the_qr_code(board, contexts):
    page = contexts((1280, 800), phone=False).new_page()
    page.goto(board.base_url + "/display/poster?district=wujin")
    expect(page.locator("#poster-scope")).to_have_text("武进区")
    expect(page.locator("#poster-qr svg")).to_be_visible()
    screenshot(page, "poster-wujin", full_page=True)
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "poster-wujin.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    qr = page.locator("#poster-qr svg").bounding_box()
    assert qr["width"] >= 300 and abs(qr["width"] - qr["height"]) < 1  # about 11 cm, square
    assert contexts.errors.items == []


def test_a_citizen_finds_the_board_on_the_home_page_and_their_rank_on_a_phone(board, contexts, bank_answers):
    phone = new_phone()
    api_perfect_attempt(board, phone, "钱学森", "xinbei", bank_answers)
    page = contexts(PHONE).new_page()
    log_in(page, board.base_url, phone)
    page.goto(board.base_url + "/")
    page.locator("#board-link").tap()
    expect(page.locator("#board-table tbody tr")).not_to_have_count(0)
    expect(page.locator("#my-rank-city")).to_contain_text("全市第")
    assert_no_sideways_scroll(page)
    for link in page.locator(".switch-link").all():
        box = link.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, f"{link.inner_text()}: {box}"
    page.locator('.switch-link[data-district="xinbei"]').tap()
    expect(page.locator("#board-scope")).to_contain_text("新北区")
    expect(page.locator("#my-rank-district")).to_contain_text("新北区第")
    assert set(page.locator("#board-table tbody td:nth-child(3)").all_inner_texts()) == {"新北区"}
    screenshot(page, "board-phone-xinbei")
    assert contexts.errors.items == []


def test_the_new_pages_have_no_serious_accessibility_violations(board, contexts, axe_source):
    results = {}
    phone = contexts(PHONE, bypass_csp=True).new_page()
    for name, path in (("board", "/board"), ("board-district", "/board?district=wujin"),
                       ("display-phone", "/display"), ("poster", "/display/poster?district=wujin")):
        phone.goto(board.base_url + path)
        results[name] = run_axe(phone, axe_source, name)
    kiosk = contexts((1080, 1920), phone=False, bypass_csp=True).new_page()
    kiosk.goto(board.base_url + "/display")
    results["display-upright"] = run_axe(kiosk, axe_source, "display-upright")
    blocking = {name: [f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}"
                       for v in result["violations"] if v["impact"] in ("serious", "critical")]
                for name, result in results.items()}
    assert {name: found for name, found in blocking.items() if found} == {}
