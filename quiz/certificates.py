"""Certificates: who gets which one, their verification codes, and the one-page PDF.

Who (one rule, used by the download, the verification page and the tests):
- an award certificate (荣誉证书) for a winner (an Award row) once the winners are
  published (Contest.awards_published_at), unless disqualified since;
- otherwise a participation certificate (参与证书) once the contest has ended, when the
  contest file sets certificate_min_score and the citizen's best counted attempt
  (standings.best_score_of: staff, closed and disqualified accounts have none) scored at least that.

A certificate's code is 10 characters of CODE_ALPHABET (no 0/O/1/I: read off paper and
typed by hand), drawn by `secrets`: 32**10 = 2**50 codes, so they cannot be guessed. It is
stored on first need, one per contest, citizen and kind, and never changes afterwards;
/certificates/<code> confirms it (case and dashes ignored).

The PDF (A4 landscape) embeds a subset of WenQuanYi Micro Hei (quiz/static/fonts,
scripts/make_certificate_font.py: ASCII, punctuation and all of GBK), so Chinese renders in
any reader. A character outside the font (rare hanzi beyond GBK, e.g. 䶮) prints as an
empty box; the verification page shows the name as stored.
"""
import io
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from quiz.accounts import mask_name
from quiz.clock import local
from quiz.disqualification import active_disqualification
from quiz.models import Award, Certificate, Contest, User
from quiz.qr import qr_modules
from quiz.standings import best_score_of

KIND_AWARD = "award"
KIND_PARTICIPATION = "participation"
PARTICIPATION_PRIZE = "参与"
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 10
FONT_FILE = Path(__file__).resolve().parent / "static" / "fonts" / "wqy-microhei-gbk.ttf"
FONT_NAME = "CertificateSans"


class Entitlement(NamedTuple):
    kind: str  # KIND_AWARD or KIND_PARTICIPATION
    prize: str  # the award tier's name, or 参与


class NoCertificate(Exception):
    """Why a citizen has no certificate (yet): a message for the page and its HTTP status."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message = message
        self.status = status


class Verification(NamedTuple):
    code: str
    masked_name: str
    contest_title: str
    prize: str
    kind: str
    issued_on: str  # 2021年6月5日, Asia/Shanghai
    valid: bool  # False: the prize or the result it was issued for has been withdrawn since


def chinese_date(day) -> str:
    """2021年6月5日 (no leading zeros, as printed on certificates)."""
    return f"{day.year}年{day.month}月{day.day}日"


def contest_last_day(contest: Contest):
    """The contest's last Asia/Shanghai day (an end at 00:00 belongs to the day before)."""
    return local(contest.ends_at - timedelta(seconds=1)).date()


def organizer_name(contest: Contest) -> str:
    """The contest file's organizer; without one, the contest's own organizing committee."""
    return (contest.organizer or "").strip() or f"{contest.title}组委会"


# ---- who gets which certificate -----------------------------------------------------

def award_entitlement(session, contest: Contest, user_id: int) -> Entitlement | None:
    """The published, still-standing prize of `user_id` in `contest`, if any."""
    if contest.awards_published_at is None:
        return None
    award = session.scalar(select(Award).where(Award.contest_id == contest.id, Award.user_id == user_id))
    if award is None or active_disqualification(session, contest, user_id) is not None:
        return None
    return Entitlement(KIND_AWARD, award.tier)


def participation_entitlement(session, contest: Contest, user_id: int, now: datetime) -> Entitlement:
    """The participation certificate, or NoCertificate saying why not."""
    minimum = contest.certificate_min_score
    if minimum is None:
        raise NoCertificate("本次竞赛不颁发参与证书。", 404)
    if now < contest.ends_at:
        raise NoCertificate(f"竞赛结束后（{chinese_date(local(contest.ends_at).date())}起）可下载参与证书。", 403)
    best = best_score_of(session, contest, user_id)
    if best is None:
        if active_disqualification(session, contest, user_id) is not None:
            raise NoCertificate("您已被取消本竞赛资格，不颁发证书。", 403)
        raise NoCertificate("您没有正式答题成绩，没有参与证书。", 404)
    if best < minimum:
        raise NoCertificate(f"您的最好成绩为 {best} 分，未达到颁发参与证书的 {minimum} 分。", 403)
    return Entitlement(KIND_PARTICIPATION, PARTICIPATION_PRIZE)


def certificate_for(session, contest: Contest, user: User, now: datetime) -> Entitlement:
    """What 下载证书 gives: the award certificate of a published winner, else the
    participation certificate, else NoCertificate with the reason."""
    if user.anonymized_at is not None:
        raise NoCertificate("个人信息已删除，无法颁发证书。", 404)
    award = award_entitlement(session, contest, user.id)
    if award is not None:
        return award
    try:
        return participation_entitlement(session, contest, user.id, now)
    except NoCertificate as refusal:
        if contest.awards and contest.awards_published_at is None and now >= contest.ends_at:
            refusal.message += "获奖名单公示后，获奖者可在此下载荣誉证书。"
        raise


def certificate_offer(session, contest: Contest, user: User, now: datetime) -> Entitlement | None:
    """certificate_for without the reason, for the 下载证书 button on /me. While the contest
    is open (and before 公示) this asks nothing of the database."""
    if contest.awards_published_at is None and (contest.certificate_min_score is None or now < contest.ends_at):
        return None
    try:
        return certificate_for(session, contest, user, now)
    except NoCertificate:
        return None


def still_valid(session, certificate: Certificate, now: datetime) -> bool:
    """The certificate's kind and prize are still what the rules give its holder."""
    contest, user_id = certificate.contest, certificate.user_id
    if certificate.kind == KIND_AWARD:
        current = award_entitlement(session, contest, user_id)
    else:
        try:
            current = participation_entitlement(session, contest, user_id, now)
        except NoCertificate:
            current = None
    return current is not None and current.prize == certificate.prize


# ---- codes ----------------------------------------------------------------------------

def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """A code as typed or scanned ("abcde-fghjk", " ABCDEFGHJK ") as stored; None if it cannot be one."""
    code = "".join((text or "").split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        return None
    return code


def issue_certificate(session, contest: Contest, user: User, entitlement: Entitlement, now: datetime) -> Certificate:
    """The stored certificate of this contest, citizen and kind, created on first need (two
    concurrent first downloads agree on one code). Commits."""
    def stored():
        return session.scalar(select(Certificate).where(
            Certificate.contest_id == contest.id, Certificate.user_id == user.id,
            Certificate.kind == entitlement.kind))

    certificate = stored()
    for _ in range(5):  # a new code equal to another certificate's (p ~ n / 2**50) is drawn again
        if certificate is not None:
            break
        session.execute(insert(Certificate).values(
            code=new_code(), contest_id=contest.id, user_id=user.id, kind=entitlement.kind,
            prize=entitlement.prize, issued_at=now).on_conflict_do_nothing())
        certificate = stored()
    if certificate is None:
        raise RuntimeError("could not store a certificate code")
    if certificate.prize != entitlement.prize:  # the tier was reassigned before this download
        certificate.prize = entitlement.prize
    session.commit()
    return certificate


def verify_certificate(session, text: str, now: datetime) -> Verification | None:
    """What /certificates/<code> confirms; None for an unknown code."""
    code = normalize_code(text)
    if code is None:
        return None
    certificate = session.scalar(select(Certificate).where(Certificate.code == code))
    if certificate is None:
        return None
    user = certificate.user
    name = "（个人信息已按期删除）" if user.anonymized_at is not None else mask_name(user.name)
    return Verification(code, name, certificate.contest.title, certificate.prize, certificate.kind,
                        chinese_date(local(certificate.issued_at).date()), still_valid(session, certificate, now))


def verification_url(base_url: str, code: str) -> str:
    """The URL printed (and QR-coded) on the certificate: base_url is the contest's public address."""
    return f"{base_url.rstrip('/')}/certificates/{code}"


def download_filename(contest: Contest) -> str:
    return f"certificate-{contest.slug}.pdf"  # slugs are ASCII (docs/contest.md)


# ---- the PDF ------------------------------------------------------------------------------

PAGE_W, PAGE_H = landscape(A4)  # 841.9 x 595.3 pt
ACCENT = (0.55, 0.08, 0.08)  # a deep red: prints as near-black in black and white
INK = (0, 0, 0)


@lru_cache(maxsize=1)
def _font() -> str:
    """Register the certificate font once per process (parsing it takes ~0.4 s)."""
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_FILE)))
    return FONT_NAME


def _fit(text: str, size: float, width: float, smallest: float = 10) -> float:
    """The font size at most `size` at which `text` fits in `width` points."""
    while size > smallest and pdfmetrics.stringWidth(text, _font(), size) > width:
        size -= 1
    return size


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of `text` no wider than `width` (Chinese breaks between any two characters)."""
    lines, line = [], ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, _font(), size) > width:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


# Text render mode 2 (fill, then stroke with the line width): bold strokes, as the font has no bold face.
BOLD = 2


def _frame(canvas: Canvas) -> None:
    canvas.setStrokeColorRGB(*ACCENT)
    canvas.setLineWidth(5)
    canvas.rect(22, 22, PAGE_W - 44, PAGE_H - 44)
    canvas.setLineWidth(1.2)
    canvas.rect(34, 34, PAGE_W - 68, PAGE_H - 68)
    # A square ornament in each corner of the inner frame.
    canvas.setFillColorRGB(*ACCENT)
    for x, y in ((34, 34), (PAGE_W - 34, 34), (34, PAGE_H - 34), (PAGE_W - 34, PAGE_H - 34)):
        canvas.rect(x - 6, y - 6, 12, 12, stroke=0, fill=1)
    canvas.setLineWidth(0.8)
    canvas.line(PAGE_W / 2 - 150, PAGE_H - 142, PAGE_W / 2 + 150, PAGE_H - 142)


def _qr(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """The QR code of `url` with its lower left corner at (x, y), `size` points wide (white quiet zone behind)."""
    modules = qr_modules(url)
    count = len(modules)
    module = size / count
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x - 4 * module, y - 4 * module, size + 8 * module, size + 8 * module, stroke=0, fill=1)
    canvas.setFillColorRGB(*INK)
    path = canvas.beginPath()
    for row_index, row in enumerate(modules):
        top = y + size - (row_index + 1) * module
        column = 0
        while column < count:
            if not row[column]:
                column += 1
                continue
            run = column
            while run < count and row[run]:
                run += 1
            path.rect(x + column * module, top, (run - column) * module, module)
            column = run
    canvas.drawPath(path, stroke=0, fill=1)


def certificate_pdf(certificate: Certificate, contest: Contest, user: User, url: str) -> bytes:
    """The certificate as a one-page A4-landscape PDF; `url` is its verification URL."""
    font = _font()
    award = certificate.kind == KIND_AWARD
    heading = "荣誉证书" if award else "参与证书"
    organizer = organizer_name(contest)
    buffer = io.BytesIO()
    # initialFontName: else reportlab declares Helvetica, a font that is not embedded.
    canvas = Canvas(buffer, pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1, initialFontName=font)
    canvas.setTitle(f"{heading} · {contest.title}")
    canvas.setAuthor(organizer)
    canvas.setSubject(f"验证码 {certificate.code}")
    canvas.setCreator("quiz certificates")
    _frame(canvas)
    centre = PAGE_W / 2

    canvas.setFillColorRGB(*ACCENT)
    canvas.setStrokeColorRGB(*ACCENT)
    canvas.setFont(font, 58)
    canvas.setLineWidth(1.6)
    canvas.drawCentredString(centre, PAGE_H - 125, heading, mode=BOLD, charSpace=18)

    canvas.setFillColorRGB(*INK)
    canvas.setStrokeColorRGB(*INK)
    name_size = _fit(user.name, 38, PAGE_W - 260)
    canvas.setFont(font, name_size)
    canvas.setLineWidth(0.8)
    canvas.drawCentredString(centre, PAGE_H - 210, user.name, mode=BOLD, charSpace=4)
    name_width = pdfmetrics.stringWidth(user.name, font, name_size) + 4 * (len(user.name) - 1)
    canvas.line(centre - name_width / 2 - 30, PAGE_H - 220, centre + name_width / 2 + 30, PAGE_H - 220)

    body_size = 21
    if award:
        sentences = [f"在{contest.title}中表现优异，荣获"]
    else:
        sentences = [f"积极参加{contest.title}，成绩合格，", "特颁发参与证书，以资鼓励。"]
    canvas.setFont(font, body_size)
    y = PAGE_H - (268 if award else 285)
    for line in [line for sentence in sentences for line in _wrap(sentence, body_size, PAGE_W - 220)][:4]:
        canvas.drawCentredString(centre, y, line)
        y -= body_size * 1.7
    if award:
        canvas.setFillColorRGB(*ACCENT)
        canvas.setStrokeColorRGB(*ACCENT)
        prize_size = _fit(certificate.prize, 44, PAGE_W - 260)
        canvas.setFont(font, prize_size)
        canvas.setLineWidth(1.2)
        canvas.drawCentredString(centre, y - 22, certificate.prize, mode=BOLD, charSpace=8)
        canvas.setFillColorRGB(*INK)
        canvas.setFont(font, body_size)
        canvas.drawCentredString(centre, y - 22 - 58, "特发此证，以资鼓励。")

    right = PAGE_W - 90
    organizer_size = _fit(organizer, 20, PAGE_W / 2 - 90)
    canvas.setFont(font, organizer_size)
    canvas.drawRightString(right, 120, organizer)
    canvas.setFont(font, 18)
    canvas.drawRightString(right, 90, chinese_date(contest_last_day(contest)))

    qr_size = 92
    _qr(canvas, url, 70, 62, qr_size)
    canvas.setFont(font, 13)
    canvas.drawString(70 + qr_size + 14, 62 + qr_size - 20, f"验证码：{certificate.code}")
    canvas.setFont(font, 10)
    canvas.drawString(70 + qr_size + 14, 62 + qr_size - 42, "扫码或访问下列网址核验真伪：")
    canvas.setFont(font, _fit(url, 10, PAGE_W / 2 - qr_size - 110, smallest=6))
    canvas.drawString(70 + qr_size + 14, 62 + qr_size - 58, url)

    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
