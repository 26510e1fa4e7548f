"""Export an imported bank version as YAML (the versioned form) or as a workbook in the
console's template, so that a bank can be edited and imported again as a new version.

Both re-import as the same questions, field by field. Retired questions are left out (the
organizer retired them; a new version without them is the usual next step) and counted.
"""
from dataclasses import dataclass

import yaml
from sqlalchemy import select

from quiz.bank.spreadsheet import write_workbook
from quiz.bank.validator import ValidBank
from quiz.i18n import _
from quiz.models import Bank, Question

FORMATS = ("yaml", "xlsx")


class ExportRefused(Exception):
    pass


@dataclass
class Export:
    bank: Bank
    content: bytes
    questions: int
    retired_left_out: int


def find_bank(session, slug: str, version: int | None = None) -> Bank:
    """The bank version (the newest when version is None); ExportRefused when there is none."""
    query = select(Bank).where(Bank.slug == slug)
    query = query.where(Bank.version == version) if version is not None else query.order_by(Bank.version.desc())
    bank = session.scalar(query.limit(1))
    if bank is None:
        raise ExportRefused(_("bank %(bank)s has no version %(version)s", bank=slug, version=version)
                            if version is not None else _("no bank %(bank)s", bank=slug))
    return bank


def bank_document(session, bank: Bank) -> tuple[dict, int]:
    """The bank in the YAML form and the number of retired questions left out."""
    questions, retired = [], 0
    for q in session.scalars(select(Question).where(Question.bank_id == bank.id).order_by(Question.id)):
        if q.retired:
            retired += 1
        else:
            questions.append(question_item(q))
    doc = {"bank": bank.slug, "title": bank.title, "version": bank.version,
           "categories": dict(bank.categories or {}), "questions": questions}
    return doc, retired


def valid_bank_document(bank: ValidBank) -> dict:
    """A validated file in the YAML form (e.g. to write it as a workbook)."""
    return {"bank": bank.slug, "title": bank.title, "version": bank.version, "categories": dict(bank.categories),
            "questions": [question_item(q) for q in bank.questions]}


def question_item(q) -> dict:
    """A stored Question or a ValidQuestion as the YAML mapping: keys in the documented order,
    the optional ones only when set."""
    item = {"id": q.qid, "type": q.type, "category": q.category, "difficulty": q.difficulty, "stem": q.stem}
    if q.type != "judge":
        item["options"] = {key: text for key, text in q.options}
    item["answer"] = (q.answer[0] == "true" if q.type == "judge" else
                      q.answer[0] if q.type == "single" else list(q.answer))
    item["explanation"] = q.explanation
    if q.points is not None:
        item["points"] = q.points
    if q.tags:
        item["tags"] = list(q.tags)
    if q.source is not None:
        item["source"] = q.source
    return item


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True  # the loader refuses anchors and aliases


def yaml_bytes(doc: dict) -> bytes:
    header = f"# bank {doc['bank']} version {doc['version']}, exported by flask bank export\n"
    body = yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)
    return (header + body).encode()


def export_bank(session, slug: str, version: int | None, fmt: str) -> Export:
    """The bank version as `fmt` ("yaml" or "xlsx"); ExportRefused when it cannot be."""
    if fmt not in FORMATS:
        raise ExportRefused(_("format must be one of %(formats)s, not %(value)r", formats=", ".join(FORMATS), value=fmt))
    bank = find_bank(session, slug, version)
    doc, retired = bank_document(session, bank)
    if not doc["questions"]:
        raise ExportRefused(_("bank %(bank)s version %(version)s has no question that is not retired",
                              bank=slug, version=bank.version))
    try:
        content = yaml_bytes(doc) if fmt == "yaml" else write_workbook(doc)
    except ValueError as exc:
        raise ExportRefused(_("%(reason)s; export it as yaml", reason=exc)) from None
    return Export(bank, content, len(doc["questions"]), retired)
