"""Import a validated bank in one transaction."""
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from quiz.bank.loader import Cell, Problem
from quiz.bank.validator import BankInvalid, validate_bank
from quiz.clock import utcnow
from quiz.i18n import _
from quiz.models import Bank, Question


@dataclass
class ImportOutcome:
    bank: Bank
    created: bool  # False: the identical file was already imported
    counts: dict


def import_bank(session, raw: bytes, filename: str, max_bytes: int = 5 * 1024 * 1024, dry_run: bool = False) -> ImportOutcome:
    """Validate and import; raises BankInvalid and leaves the database unchanged on any problem.

    Re-importing a byte-identical file changes nothing. A new version of a slug
    adds questions beside the old ones, which past attempts keep pointing at.
    """
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) <= max_bytes:
        # The identical file was accepted before: say so without parsing it again.
        same = session.scalar(select(Bank).where(Bank.sha256 == digest).order_by(Bank.id).limit(1))
        if same is not None:
            return ImportOutcome(same, False, stored_counts(session, same))
    valid = validate_bank(raw, max_bytes, filename)  # YAML or a workbook, told apart there
    unchanged = _check_version(session, valid, digest)
    if unchanged is not None:
        return ImportOutcome(unchanged, False, valid.counts())
    bank = Bank(
        slug=valid.slug, version=valid.version, title=valid.title, categories=valid.categories,
        sha256=digest, filename=filename, imported_at=utcnow(),
    )
    if dry_run:
        return ImportOutcome(bank, True, valid.counts())
    try:
        session.add(bank)
        session.flush()
        rows = [
            {"bank_id": bank.id, "qid": q.qid, "type": q.type, "category": q.category, "difficulty": q.difficulty,
             "stem": q.stem, "options": q.options, "answer": q.answer, "explanation": q.explanation,
             "points": q.points, "tags": q.tags, "source": q.source, "line": _line(q.line), "retired": False}
            for q in valid.questions
        ]
        _copy_questions(session, rows)
        session.commit()
    except IntegrityError:
        # Another import of the same slug and version won the race: answer as if it had come first.
        session.rollback()
        unchanged = _check_version(session, valid, digest)
        if unchanged is None:
            raise
        return ImportOutcome(unchanged, False, valid.counts())
    except Exception:
        session.rollback()
        raise
    return ImportOutcome(bank, True, valid.counts())


_JSON_COLUMNS = {"options", "answer", "tags"}


def _line(line) -> int:
    """The stored line: a YAML line, or the row of a workbook's question in 题目."""
    return line.row if isinstance(line, Cell) else line


def _copy_questions(session, rows: list[dict]) -> None:
    """PostgreSQL: COPY in the session's transaction; psycopg's executemany sends rows one by one."""
    columns = list(rows[0]) if rows else []
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY {Question.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in _JSON_COLUMNS else row[c] for c in columns])
    finally:
        cursor.close()


def stored_counts(session, bank: Bank) -> dict:
    """Questions of an imported bank by type, category and difficulty (as ValidBank.counts)."""
    counts = {}
    for label, column in (("type", Question.type), ("category", Question.category), ("difficulty", Question.difficulty)):
        rows = session.execute(select(column, func.count()).where(Question.bank_id == bank.id).group_by(column))
        counts[label] = {value: number for value, number in rows}
    return counts


def _check_version(session, valid, digest: str) -> Bank | None:
    """The already imported identical bank, None for a new version; BankInvalid for a refused version."""
    existing = session.scalar(select(Bank).where(Bank.slug == valid.slug, Bank.version == valid.version))
    if existing is not None:
        if existing.sha256 == digest:
            return existing
        raise BankInvalid([Problem(valid.version_line, _("version %(version)s of bank %(bank)s was already imported with "
                                                         "other content; raise the version", version=valid.version, bank=valid.slug))])
    latest = session.scalar(select(Bank.version).where(Bank.slug == valid.slug).order_by(Bank.version.desc()).limit(1))
    if latest is not None and valid.version < latest:
        raise BankInvalid([Problem(valid.version_line, _("bank %(bank)s is already at version %(latest)s; a new import "
                                                         "needs a higher version", bank=valid.slug, latest=latest))])
    return None


def latest_bank(session, slug: str) -> Bank | None:
    return session.scalar(select(Bank).where(Bank.slug == slug).order_by(Bank.version.desc()).limit(1))
