"""The contest form as a contest definition: the same validator and import as YAML files.

The form is turned into the YAML document a file would hold, so the window,
time-limit and paper checks (quiz.contest.definition) are the ones the CLI
applies, and the paper is checked against the bank (which category or
difficulty lacks questions).
"""
from dataclasses import dataclass
from datetime import datetime

import yaml
from sqlalchemy import select

from quiz.bank.importer import latest_bank
from quiz.bank.loader import Problem
from quiz.bank.validator import BankInvalid
from quiz.clock import SHANGHAI, local
from quiz.contest.definition import ValidContest, check_against_bank, import_contest, pinned_bank, validate_contest
from quiz.contest.rules import OPEN, phase
from quiz.i18n import _
from quiz.models import Bank, Contest
from quiz.web.audit import record as audit

# Changing any of these while the contest is open changes the rules for citizens mid-way.
RULE_FIELDS = ("bank", "starts_at", "ends_at", "time_limit_s", "questions_per_attempt", "paper", "points",
               "attempts_per_day", "max_attempts", "districts")


class NeedsConfirmation(Exception):
    """The contest is open and its rules would change: ask the organizer to confirm."""

    def __init__(self, changes: list[str]):
        super().__init__(", ".join(changes))
        self.changes = changes


def bank_choices(session) -> list[tuple[str, str]]:
    seen = {}
    for bank in session.scalars(select(Bank).order_by(Bank.slug, Bank.version.desc())):
        seen.setdefault(bank.slug, _("%(title)s (%(slug)s, v%(version)s)", title=bank.title, slug=bank.slug,
                                      version=bank.version))
    return list(seen.items())


def category_choices(session) -> list[tuple[str, str]]:
    names = {}
    for bank in session.scalars(select(Bank).order_by(Bank.version)):
        names.update(bank.categories or {})
    return [("", _("(any)"))] + sorted(((code, _("%(name)s (%(code)s)", name=name, code=code)) for code, name in names.items()))


def fill_form(form, contest: Contest) -> None:
    """Put a stored contest into an empty form (GET of the edit page)."""
    form.slug.data, form.title.data, form.theme.data = contest.slug, contest.title, contest.theme
    form.bank.data = contest.bank_slug
    form.practice_bank.data = contest.practice_bank_slug or ""
    form.starts_at.data = local(contest.starts_at).replace(tzinfo=None)
    form.ends_at.data = local(contest.ends_at).replace(tzinfo=None)
    for key in ("time_limit_s", "questions_per_attempt", "attempts_per_day", "max_attempts"):
        getattr(form, key).data = getattr(contest, key)
    for kind in ("single", "multiple", "judge"):
        getattr(form, f"points_{kind}").data = (contest.points or {}).get(kind, 1)
    _fill_rows(form.paper, [{k: str(v) if k != "count" else v for k, v in row.items()} for row in contest.paper], 3)
    _fill_rows(form.districts, contest.districts, 2)


def _fill_rows(field_list, rows: list[dict], spare: int) -> None:
    while len(field_list.entries):
        field_list.pop_entry()
    for row in rows:
        field_list.append_entry(row)
    for _row in range(spare):
        field_list.append_entry()


def definition_from_form(form, contest: Contest | None = None) -> bytes:
    """The YAML document the form describes (times as Asia/Shanghai with their offset).
    Keys the form has no fields for (units, townships, groups, district_rank_by, personal_data_days
    and the finishing keys of finishing_keys) are carried over from `contest`, the one being edited, so saving the form keeps them."""
    doc = {
        "contest": form.slug.data, "title": form.title.data, "bank": form.bank.data,
        "starts_at": _instant(form.starts_at.data), "ends_at": _instant(form.ends_at.data),
        "time_limit_s": form.time_limit_s.data, "questions_per_attempt": form.questions_per_attempt.data,
        "attempts_per_day": form.attempts_per_day.data, "max_attempts": form.max_attempts.data,
        "points": {kind: getattr(form, f"points_{kind}").data for kind in ("single", "multiple", "judge")},
        "paper": [], "districts": [],
    }
    if form.theme.data:
        doc["theme"] = form.theme.data
    if form.practice_bank.data:
        doc["practice_bank"] = form.practice_bank.data
    if contest is not None:
        for key in ("units", "townships", "groups"):
            if getattr(contest, key):
                doc[key] = getattr(contest, key)
        if contest.district_rank_by and contest.district_rank_by != "per_10k":
            doc["district_rank_by"] = contest.district_rank_by
        if contest.personal_data_days is not None:
            doc["personal_data_days"] = contest.personal_data_days
        doc |= finishing_keys(contest)
    for entry in form.paper.entries:
        row = {key: entry[key].data for key in ("category", "type") if entry[key].data}
        if entry["difficulty"].data:
            row["difficulty"] = int(entry["difficulty"].data)
        if row or entry["count"].data:
            doc["paper"].append(row | {"count": entry["count"].data})
    for entry in form.districts.entries:
        if entry["code"].data or entry["name"].data or entry["population"].data:
            doc["districts"].append({"code": entry["code"].data, "name": entry["name"].data,
                                     "population": entry["population"].data})
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8")


def finishing_keys(contest: Contest) -> dict:
    """The contest file's freeze, prize and certificate keys as the contest holds them."""
    doc = {}
    if contest.freeze_at is not None:
        doc["freeze_at"] = _instant(local(contest.freeze_at).replace(tzinfo=None))
    if contest.organizer:
        doc["organizer"] = contest.organizer
    if contest.awards:
        doc["awards"] = [{"name": t["name"], "ranks": f"{t['ranks'][0]}-{t['ranks'][1]}"} if "ranks" in t else t
                         for t in contest.awards]
    if contest.objection_days != 5:
        doc["objection_days"] = contest.objection_days
    if contest.certificate_min_score is not None:
        doc["certificate_min_score"] = contest.certificate_min_score
    if contest.question_time_s is not None:  # not a finishing key, but the form has no field for it either
        doc["question_time_s"] = contest.question_time_s
    return doc


def _instant(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=SHANGHAI).isoformat() if moment else None


@dataclass(frozen=True)
class BankSwitch:
    """The bank version a contest draws from and the newest version of that bank: saving the
    contest switches to the newest (refused when it cannot fill the paper)."""
    slug: str
    pinned: int | None
    newest: int | None

    @property
    def pending(self) -> bool:
        return self.newest is not None and self.pinned != self.newest


def bank_switch(session, contest: Contest | None) -> BankSwitch | None:
    if contest is None:
        return None
    pinned = pinned_bank(session, contest.slug)
    newest = latest_bank(session, contest.bank_slug)
    return BankSwitch(contest.bank_slug, pinned.version if pinned else None, newest.version if newest else None)


def rule_changes(contest: Contest, valid: ValidContest) -> list[str]:
    """Names of the rule fields whose values the new definition changes."""
    current = {
        "bank": contest.bank_slug, "starts_at": contest.starts_at, "ends_at": contest.ends_at,
        "time_limit_s": contest.time_limit_s, "questions_per_attempt": contest.questions_per_attempt,
        "paper": contest.paper, "points": contest.points or {}, "attempts_per_day": contest.attempts_per_day,
        "max_attempts": contest.max_attempts, "districts": contest.districts,
    }
    proposed = {key: getattr(valid, key) for key in RULE_FIELDS}
    proposed["paper"] = [{k: v for k, v in row.items() if k != "line"} for row in valid.paper]
    return [key for key in RULE_FIELDS if current[key] != proposed[key]]


def save_contest(session, user, raw: bytes, now: datetime, confirmed: bool, slug: str | None = None) -> tuple[Contest, bool]:
    """Validate and save a definition (from the form or an uploaded file); (contest, created).

    slug, when given, is the contest being edited: the definition must keep it.
    Raises BankInvalid with every problem, or NeedsConfirmation when an open
    contest's rules would change without the organizer's confirmation.
    """
    valid = validate_contest(raw)
    if slug is not None and valid.slug != slug:
        raise BankInvalid([Problem(1, f"this page edits contest {slug}; the definition names {valid.slug}")])
    problems = check_against_bank(session, valid)
    if problems:
        raise BankInvalid(problems)
    existing = session.scalar(select(Contest).where(Contest.slug == valid.slug))
    changes = rule_changes(existing, valid) if existing is not None else []
    if existing is not None and "bank" not in changes and bank_switch(session, existing).pending:
        changes.append("bank_version")  # saving moves the papers to the bank's newest version
    running = existing is not None and phase(existing, now) == OPEN
    if running and changes and not confirmed:
        raise NeedsConfirmation(changes)
    contest, created = import_contest(session, raw)
    if created:
        audit(session, user, "contest.create", contest.slug)
    else:
        action = "contest.edit_running" if running and changes else "contest.edit"
        audit(session, user, action, f"{contest.slug}: {', '.join(changes) or 'title/theme'}")
    return contest, created
