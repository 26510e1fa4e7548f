"""Staff and test accounts: an organizer marks them, and they leave every public standing.

They may still take attempts, which are kept and labelled in the console; whether an
account counts is leaderboard.on_public_boards (and public_accounts in SQL).
"""
from dataclasses import dataclass, field

from sqlalchemy import select

from quiz import leaderboard
from quiz.accounts import AccountError, normalize_phone
from quiz.models import ATTEMPT_ACTIVE, Attempt, Contest, User
from quiz.redis_connection import Unavailable, fail_open
from quiz.web.audit import record as audit


class UnknownAccounts(Exception):
    """Phones without an account: nothing was changed."""

    def __init__(self, phones: list[str]):
        super().__init__("没有这些手机号的账号：" + "、".join(phones))
        self.phones = phones
        self.field = "phone"
        self.message = str(self)


@dataclass
class Marking:
    changed: list[User] = field(default_factory=list)  # accounts whose flag changed
    unchanged: list[User] = field(default_factory=list)  # already as asked
    rebuilt: list[str] = field(default_factory=list)  # contest slugs whose boards were rebuilt
    stale: list[str] = field(default_factory=list)  # slugs Redis could not rebuild (run leaderboard rebuild)


def set_staff(session, users: list[User], staff: bool, actor) -> Marking:
    """Mark (staff=True) or unmark the accounts, audit each change, then rebuild the boards of
    every contest where a changed account has a finished timed attempt (SQL first, Redis after).

    actor: the organizer who asked, or None for the CLI.
    """
    marking = Marking()
    for user in users:
        (marking.unchanged if bool(user.staff) == staff else marking.changed).append(user)
        user.staff = staff
    session.commit()
    for user in marking.changed:
        audit(session, actor, "citizen.staff" if staff else "citizen.unstaff",
              f"{user.phone} staff={'yes' if staff else 'no'}")
    if not marking.changed:
        return marking
    contests = session.scalars(
        select(Contest).where(Contest.id.in_(
            select(Attempt.contest_id).where(Attempt.user_id.in_([u.id for u in marking.changed]),
                                            Attempt.practice.is_(False), Attempt.status != ATTEMPT_ACTIVE)))
        .order_by(Contest.id)).all()
    for contest in contests:
        slug = contest.slug
        try:
            with fail_open("staff rebuild"):
                leaderboard.rebuild(session, contest)
            marking.rebuilt.append(slug)
        except Unavailable:
            session.rollback()
            marking.stale.append(slug)
    return marking


def set_staff_by_phone(session, phones: list[str], staff: bool, actor) -> Marking:
    """set_staff for the accounts of these phones (normalized as everywhere); raises
    UnknownAccounts (changing nothing) when any phone is not a valid number or has no account."""
    wanted, missing = [], []
    for raw in phones:
        try:
            wanted.append(normalize_phone(raw))
        except AccountError:
            missing.append(raw)
    wanted = list(dict.fromkeys(wanted))
    users = {u.phone: u for u in session.scalars(select(User).where(User.phone.in_(wanted)))}
    missing += [p for p in wanted if p not in users]
    if missing:
        raise UnknownAccounts(missing)
    return set_staff(session, [users[p] for p in wanted], staff, actor)
