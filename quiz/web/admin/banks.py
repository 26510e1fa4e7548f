"""Banks in the console: listing, searching questions, retiring, and uploads kept between dry run and import.

An uploaded file (YAML or .xlsx) checked by a dry run is kept server-side under
instance/uploads/<sha256>.yaml, so the organizer need not pick it again to
import it; the page carries only the digest. Files older than a day are
swept on the next upload.
"""
import hashlib
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, send_file
from sqlalchemy import func, or_, select

from quiz import stats
from quiz.bank.lint import LintReport, lint_bank
from quiz.bank.spreadsheet import XLSX_MIMETYPE, template_workbook
from quiz.bank.summary import count_lines
from quiz.bank.validator import BankInvalid, validate_bank
from quiz.extensions import db
from quiz.i18n import _
from quiz.models import Bank, Contest, Question
from quiz.web.admin.blueprint import bp
from quiz.web.audit import record as audit

DIGEST = re.compile(r"^[0-9a-f]{64}$")
KEEP_UPLOADS_S = 24 * 3600
PAGE_SIZE = 50

bp.add_app_template_global(count_lines, "bank_count_lines")  # the summary of a checked upload


class PendingUploads:
    """Bank files between the dry run and the import, named by their SHA-256."""

    def __init__(self, instance_path: str):
        self.folder = Path(instance_path) / "uploads"

    def keep(self, raw: bytes) -> str:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # uploaded banks: the organizers' only
        self._sweep()
        digest = hashlib.sha256(raw).hexdigest()
        path = self.folder / f"{digest}.yaml"
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(raw)
            tmp.replace(path)
        return digest

    def read(self, digest: str) -> bytes | None:
        """The kept bytes, or None for an unknown digest (or one that does not match its file)."""
        if not DIGEST.match(digest or ""):
            return None
        path = self.folder / f"{digest}.yaml"
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        return raw if hashlib.sha256(raw).hexdigest() == digest else None

    def drop(self, digest: str) -> None:
        if DIGEST.match(digest or ""):
            (self.folder / f"{digest}.yaml").unlink(missing_ok=True)

    def _sweep(self) -> None:
        cutoff = time.time() - KEEP_UPLOADS_S
        for path in self.folder.glob("*.yaml"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


@dataclass
class BankRow:
    bank: Bank
    questions: int
    active: int


def bank_rows(session) -> list[BankRow]:
    """Every bank version, newest first, with its question counts."""
    counts = dict(
        (bank_id, (total, active)) for bank_id, total, active in session.execute(
            select(Question.bank_id, func.count(), func.count().filter(Question.retired.is_(False)))
            .group_by(Question.bank_id)
        )
    )
    banks = session.scalars(select(Bank).order_by(Bank.slug, Bank.version.desc())).all()
    return [BankRow(bank, *counts.get(bank.id, (0, 0))) for bank in banks]


def search_questions(session, bank: Bank, text: str = "", category: str = "", qtype: str = "",
                     retired: str = "", page: int = 1) -> tuple[list[Question], int]:
    """A page of the bank's questions matching the filters, and the number of matches."""
    query = select(Question).where(Question.bank_id == bank.id)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Question.stem.like(pattern, escape="\\"), Question.qid.like(pattern, escape="\\")))
    if category:
        query = query.where(Question.category == category)
    if qtype:
        query = query.where(Question.type == qtype)
    if retired in ("active", "retired"):
        query = query.where(Question.retired.is_(retired == "retired"))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    questions = session.scalars(query.order_by(Question.id).limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)).all()
    return list(questions), total


def set_retired(session, user, question: Question, retired: bool) -> None:
    """Retired questions are no longer drawn; past attempts keep pointing at them."""
    if question.retired == retired:
        return
    question.retired = retired
    session.commit()
    bank = question.bank
    audit(session, user, "question.retire" if retired else "question.restore",
          f"{bank.slug} v{bank.version} {question.qid}")


def measured_facility(session, bank_slug: str) -> dict:
    """{qid: share of correct answers} over the contests drawing from the bank, for questions
    answered at least stats.MIN_ANSWERS times (the console's own statistics, all versions pooled)."""
    answers, correct = {}, {}
    for contest in session.scalars(select(Contest).where(Contest.bank_slug == bank_slug)):
        for figure in stats.question_statistics(session, contest, min_answers=stats.MIN_ANSWERS):
            answers[figure.qid] = answers.get(figure.qid, 0) + figure.answers
            correct[figure.qid] = correct.get(figure.qid, 0) + figure.correct
    return {qid: correct[qid] / n for qid, n in answers.items() if n >= stats.MIN_ANSWERS}


def template_download():
    """题库模板.xlsx: the sheets, headers and two example questions an upload is read by."""
    return send_file(io.BytesIO(template_workbook()), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=_("bank template.xlsx"), max_age=0)


@bp.app_template_global()
def upload_lint(digest: str | None) -> LintReport | None:
    """Lint warnings of a kept upload that passed validation (the upload page shows them)."""
    raw = PendingUploads(current_app.instance_path).read(digest) if digest else None
    if raw is None:
        return None
    try:
        bank = validate_bank(raw, current_app.config["BANK_MAX_BYTES"])
    except BankInvalid:
        return None
    return lint_bank(bank, measured_facility(db.session, bank.slug))
