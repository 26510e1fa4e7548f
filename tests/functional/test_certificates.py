"""Certificates (issue 16): who gets which, stable codes, the public check, and the PDF as a
reader shows it: one A4-landscape page, its text, its embedded font, rasterised."""
import io
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pypdfium2
import pytest
from flask import g
from PIL import Image
from pypdf import PdfReader

from quiz.certificates import (
    CODE_ALPHABET,
    CODE_LENGTH,
    KIND_AWARD,
    KIND_PARTICIPATION,
    NoCertificate,
    certificate_for,
    certificate_offer,
    certificate_pdf,
    issue_certificate,
    verification_url,
    verify_certificate,
)
from quiz.clock import utcnow
from quiz.disqualification import disqualify, reinstate
from quiz.extensions import db
from quiz.models import AWARD_DISTRICT, AWARD_RANKED, Award
from quiz.qr import qr_modules, qr_svg
from tests.conftest import CONTEST_END, DURING, finish_attempt

ROOT = Path(__file__).resolve().parents[2]
AFTER = CONTEST_END + timedelta(days=1)
ORGANIZER = "常州市科学技术协会"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
A4_LANDSCAPE = (841.89, 595.28)


def certificate_rules(contest, min_score=60, organizer=ORGANIZER):
    contest.certificate_min_score = min_score
    contest.organizer = organizer
    db.session.commit()
    return contest


def give_award(contest, citizen, tier, kind=AWARD_RANKED, position=1, score=100):
    """An Award row as `awards assign` writes it (quiz/awards.py owns the rule of who wins)."""
    db.session.add(Award(contest_id=contest.id, user_id=citizen.id, tier=tier, kind=kind, position=position,
                         score=score, assigned_at=contest.ends_at))
    db.session.commit()


def publish(contest, at=None):
    contest.awards_published_at = at or contest.ends_at + timedelta(days=1)
    db.session.commit()


def refusal(contest, citizen, now) -> NoCertificate:
    with pytest.raises(NoCertificate) as caught:
        certificate_for(db.session, contest, citizen, now)
    return caught.value


def pdf_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[0].get_textpage().get_text_range()
    finally:
        document.close()


# ---- who gets which certificate -------------------------------------------------------

def test_participation_needs_the_end_and_the_minimum_score(contest, citizens):
    certificate_rules(contest, min_score=60)
    good, weak, absent = citizens.make(name="张三丰"), citizens.make(), citizens.make()
    finish_attempt(good, contest, right=15, seconds=200, now=DURING)  # 75 points
    finish_attempt(weak, contest, right=10, seconds=200, now=DURING)  # 50 points

    early = refusal(contest, good, DURING)
    assert early.status == 403 and "竞赛结束后（2021年6月5日起）可下载" in early.message
    assert certificate_offer(db.session, contest, good, DURING) is None

    assert certificate_for(db.session, contest, good, AFTER) == (KIND_PARTICIPATION, "参与")
    assert certificate_offer(db.session, contest, good, AFTER) == (KIND_PARTICIPATION, "参与")
    below = refusal(contest, weak, AFTER)
    assert below.status == 403 and "最好成绩为 50 分，未达到颁发参与证书的 60 分" in below.message
    assert certificate_offer(db.session, contest, weak, AFTER) is None
    assert refusal(contest, absent, AFTER).status == 404

    certificate_rules(contest, min_score=None)
    none_at_all = refusal(contest, good, AFTER)
    assert none_at_all.status == 404 and "不颁发参与证书" in none_at_all.message


def test_winner_gets_the_award_certificate_only_after_publication(contest, citizens):
    certificate_rules(contest, min_score=60)
    winner, district_winner = citizens.make(), citizens.make()
    finish_attempt(winner, contest, right=20, seconds=100, now=DURING)
    finish_attempt(district_winner, contest, right=8, seconds=100, now=DURING)  # 40: below the minimum
    give_award(contest, winner, "一等奖")
    give_award(contest, district_winner, "区优胜奖", kind=AWARD_DISTRICT, score=40)

    assert certificate_for(db.session, contest, winner, AFTER) == (KIND_PARTICIPATION, "参与")
    assert refusal(contest, district_winner, AFTER).status == 403
    publish(contest)
    assert certificate_for(db.session, contest, winner, AFTER) == (KIND_AWARD, "一等奖")
    assert certificate_for(db.session, contest, district_winner, AFTER) == (KIND_AWARD, "区优胜奖")

    disqualify(db.session, contest, winner, "代答", None)
    gone = refusal(contest, winner, AFTER)
    assert "取消本竞赛资格" in gone.message


def test_codes_are_unguessable_stable_and_verified_case_insensitively(contest, citizens):
    certificate_rules(contest, min_score=60)
    citizen, other = citizens.make(name="张三丰"), citizens.make(name="李四")
    finish_attempt(citizen, contest, right=15, seconds=200, now=DURING)
    finish_attempt(other, contest, right=16, seconds=200, now=DURING)
    entitlement = certificate_for(db.session, contest, citizen, AFTER)
    first = issue_certificate(db.session, contest, citizen, entitlement, AFTER)
    again = issue_certificate(db.session, contest, citizen, entitlement, AFTER + timedelta(days=3))
    theirs = issue_certificate(db.session, contest, other, certificate_for(db.session, contest, other, AFTER), AFTER)
    assert first.code == again.code != theirs.code
    assert len(first.code) == CODE_LENGTH and set(first.code) <= set(CODE_ALPHABET)
    assert not set("01OI") & set(CODE_ALPHABET)

    typed = first.code[:5].lower() + "-" + first.code[5:].lower()
    check = verify_certificate(db.session, f" {typed} ", AFTER)
    assert check.valid and check.code == first.code
    assert (check.masked_name, check.contest_title, check.prize) == ("张*丰", contest.title, "参与")
    assert check.issued_on == "2021年6月6日"
    assert verify_certificate(db.session, "ABCDEFGHJK" if first.code != "ABCDEFGHJK" else "KJHGFEDCBA", AFTER) is None
    assert verify_certificate(db.session, "not a code", AFTER) is None

    # The page says when the result behind a certificate was withdrawn.
    disqualify(db.session, contest, citizen, "代答", None)
    assert not verify_certificate(db.session, first.code, AFTER).valid
    reinstate(db.session, contest, citizen, "复核无误", None)
    assert verify_certificate(db.session, first.code, AFTER).valid


# ---- the PDF ------------------------------------------------------------------------------

def award_pdf(contest, citizens, name="张三丰", code=None):
    """An award certificate's PDF; `code` replaces the drawn code (a picture that stays the same)."""
    certificate_rules(contest, min_score=60)
    winner = citizens.make(name=name)
    finish_attempt(winner, contest, right=20, seconds=100, now=DURING)
    give_award(contest, winner, "一等奖")
    publish(contest)
    certificate = issue_certificate(db.session, contest, winner, certificate_for(db.session, contest, winner, AFTER),
                                    AFTER)
    if code is not None:
        certificate.code = code
        db.session.commit()
    url = verification_url("https://quiz.example.org/", certificate.code)
    return certificate, certificate_pdf(certificate, contest, winner, url), url


def test_pdf_is_one_a4_landscape_page_with_every_fact_and_an_embedded_font(contest, citizens):
    certificate, pdf, url = award_pdf(contest, citizens)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_LANDSCAPE, abs=0.5)

    text = pdf_text(pdf)
    for fact in ("荣誉证书", "张三丰", contest.title, "一等奖", ORGANIZER, certificate.code, "2021年6月5日", url):
        assert fact in text, fact

    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert fonts
    for font in fonts.values():
        font = font.get_object()
        descriptor = (font.get("/FontDescriptor") or font["/DescendantFonts"][0].get_object()["/FontDescriptor"])
        descriptor = descriptor.get_object()
        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, font  # embedded, not referenced
    assert len(pdf) < 200_000  # only the glyphs used are embedded


def dark_fraction(image, box) -> float:
    """The share of pixels darker than mid-grey in box = (left, top, right, bottom) of a greyscale image."""
    region = image.crop(box)
    histogram = region.histogram()
    return sum(histogram[:128]) / max(1, sum(histogram))


def test_pdf_rasterised_shows_the_chinese_text_and_the_qr_code(contest, citizens):
    _certificate, pdf, url = award_pdf(contest, citizens, code="K7MQ4XH9TB")
    document = pypdfium2.PdfDocument(pdf)
    try:
        scale = 1200 / A4_LANDSCAPE[0]
        image = document[0].render(scale=scale).to_pil()
    finally:
        document.close()
    width, height = image.size
    assert width == pytest.approx(1200, abs=2) and width / height == pytest.approx(297 / 210, rel=0.01)
    grey = image.convert("L")
    # The name: centred, baseline 210 pt below the top, 38 pt high; the title above it.
    name_box = (int((A4_LANDSCAPE[0] / 2 - 60) * scale), int(175 * scale), int((A4_LANDSCAPE[0] / 2 + 60) * scale),
                int(208 * scale))
    title_box = (int(300 * scale), int(65 * scale), int(540 * scale), int(122 * scale))
    blank_box = (int(100 * scale), int(175 * scale), int(200 * scale), int(208 * scale))
    assert dark_fraction(grey, name_box) > 0.05
    assert dark_fraction(grey, title_box) > 0.05
    assert dark_fraction(grey, blank_box) == 0
    # The QR code (92 pt square, lower left corner at 70, 62 pt) is the verification URL's symbol.
    modules = qr_modules(url)
    module_pt = 92 / len(modules)
    top = A4_LANDSCAPE[1] - 62 - 92
    drawn = tuple(tuple(grey.getpixel((int((70 + (col + 0.5) * module_pt) * scale),
                                       int((top + (row + 0.5) * module_pt) * scale))) < 128
                        for col in range(len(modules)))
                  for row in range(len(modules)))
    assert drawn == modules
    # The picture in the README: the certificate as pdfium draws it, 1,200 px wide.
    screenshots = ROOT / "docs" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(screenshots / "certificate.png", optimize=True)


def test_pdf_rasterised_by_pdftoppm(contest, citizens, tmp_path):
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        if os.environ.get("QUIZ_E2E_REQUIRED"):
            pytest.fail("pdftoppm (poppler-utils) is not installed")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    _certificate, pdf, _url = award_pdf(contest, citizens)
    (tmp_path / "certificate.pdf").write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", "72", "-gray", "-singlefile", str(tmp_path / "certificate.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60, capture_output=True)
    with Image.open(tmp_path / "page.pgm") as image:
        grey = image.convert("L")
        assert grey.size[0] == 842 and grey.size[1] == pytest.approx(595, abs=1)
        centre = 421
        assert dark_fraction(grey, (centre - 60, 175, centre + 60, 208)) > 0.05  # the name
        assert dark_fraction(grey, (100, 175, 200, 208)) == 0


def test_qr_svg_is_an_inline_black_on_white_svg():
    svg = qr_svg("https://quiz.example.org/certificates/K7MQ4XH9TB", title="扫码验证")
    assert svg.startswith("<svg") and "扫码验证" in svg and "#000" in svg


def test_a_name_outside_the_font_still_prints(contest, citizens):
    _certificate, pdf, _url = award_pdf(contest, citizens, name="王䶮𠀀")
    assert "王" in pdf_text(pdf)


# ---- through the pages ----------------------------------------------------------------------

def login(client, phone):
    g.pop("csrf_token", None)  # the test app keeps one flask.g: take this client's token
    token = CSRF_FIELD.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"phone": phone, "password": "password123", "csrf_token": token})
    assert response.status_code == 302


def ended(contest):
    """The HTTP tests run on the real clock: end the (shifted) contest a minute ago."""
    contest.ends_at = utcnow() - timedelta(minutes=1)
    db.session.commit()


def test_download_from_me_and_verify_the_code(open_contest, citizens, client, app):
    certificate_rules(open_contest, min_score=60)
    citizen, weak = citizens.make(name="张三丰"), citizens.make(name="李四")
    finish_attempt(citizen, open_contest, right=15, seconds=100)
    finish_attempt(weak, open_contest, right=5, seconds=100)

    login(client, citizen.phone)
    assert 'id="download-certificate"' not in client.get("/me").get_data(as_text=True)  # still open
    early = client.get("/me/certificate.pdf")
    assert early.status_code == 403 and "竞赛结束后" in early.get_data(as_text=True)

    ended(open_contest)
    assert 'id="download-certificate"' in client.get("/me").get_data(as_text=True)
    response = client.get("/me/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="certificate-cz-2021-3rd.pdf"'
    text = pdf_text(response.data)
    assert "参与证书" in text and "张三丰" in text and open_contest.title in text
    code = re.search(r"验证码：([A-Z0-9]+)", text).group(1)
    assert f"http://localhost/certificates/{code}" in text
    assert pdf_text(client.get("/me/certificate.pdf").data) == text  # the same code every time

    page = client.get(f"/certificates/{code.lower()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "此证书真实有效" in html and "张*丰" in html and "张三丰" not in html
    assert open_contest.title in html and "参与" in html
    assert client.get("/certificates/ZZZZZZZZZZ").status_code == 404

    other = app.test_client()
    login(other, weak.phone)
    assert 'id="download-certificate"' not in other.get("/me").get_data(as_text=True)
    refused = other.get("/me/certificate.pdf")
    assert refused.status_code == 403 and "未达到颁发参与证书的 60 分" in refused.get_data(as_text=True)


def test_public_base_url_goes_into_the_qr_code_and_text(open_contest, citizens, app_with):
    certificate_rules(open_contest, min_score=0)
    citizen = citizens.make()
    finish_attempt(citizen, open_contest, right=1, seconds=100)
    ended(open_contest)
    client = app_with(PUBLIC_BASE_URL="https://quiz.example.org").test_client()
    login(client, citizen.phone)
    text = pdf_text(client.get("/me/certificate.pdf").data)
    assert re.search(r"https://quiz\.example\.org/certificates/[A-Z0-9]{10}", text)


def test_certificate_checks_are_rate_limited_per_address(app_with):
    client = app_with(RATELIMIT_ENABLED=True, CERTIFICATE_LOOKUP_LIMIT="2 per minute").test_client()
    assert [client.get(f"/certificates/ZZZZZZZZZ{n}").status_code for n in range(2, 5)] == [404, 404, 429]
