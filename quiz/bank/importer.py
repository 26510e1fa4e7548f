"""Import a validated bank in one transaction."""
import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from quiz.bank.loader import Problem
from quiz.bank.validator import BankInvalid, validate_bank
from quiz.clock import utcnow
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
    valid = validate_bank(raw, max_bytes)
    digest = hashlib.sha256(raw).hexdigest()
    existing = session.scalar(select(Bank).where(Bank.slug == valid.slug, Bank.version == valid.version))
    if existing is not None:
        if existing.sha256 == digest:
            return ImportOutcome(existing, False, valid.counts())
        raise BankInvalid([Problem(1, f"version {valid.version} of bank {valid.slug} was already imported with other content; raise the version")])
    latest = session.scalar(select(Bank.version).where(Bank.slug == valid.slug).order_by(Bank.version.desc()).limit(1))
    if latest is not None and valid.version < latest:
        raise BankInvalid([Problem(1, f"bank {valid.slug} is already at version {latest}; a new import needs a higher version")])
    bank = Bank(
        slug=valid.slug, version=valid.version, title=valid.title, categories=valid.categories,
        sha256=digest, filename=filename, imported_at=utcnow(),
    )
    if dry_run:
        return ImportOutcome(bank, True, valid.counts())
    try:
        session.add(bank)
        session.flush()
        session.add_all(
            Question(
                bank_id=bank.id, qid=q.qid, type=q.type, category=q.category, difficulty=q.difficulty,
                stem=q.stem, options=q.options, answer=q.answer, explanation=q.explanation,
                points=q.points, tags=q.tags, source=q.source, line=q.line, retired=False,
            )
            for q in valid.questions
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return ImportOutcome(bank, True, valid.counts())


def latest_bank(session, slug: str) -> Bank | None:
    return session.scalar(select(Bank).where(Bank.slug == slug).order_by(Bank.version.desc()).limit(1))
