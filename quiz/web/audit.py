"""The audit log: who uploaded, edited and exported what, and when."""
from sqlalchemy import select

from quiz.accounts import mask_phone
from quiz.clock import utcnow
from quiz.i18n import _
from quiz.models import AuditEntry, User


def record(session, user, action: str, detail: str = "") -> None:
    session.add(AuditEntry(at=utcnow(), user_id=getattr(user, "id", None),
                           actor=getattr(user, "phone", None) or "cli", action=action, detail=detail))
    session.commit()


def operator_labels(session, entries) -> dict[int, str]:
    """{entry id: who acted} for the console: the account's name and masked phone
    (张三（138****0000）), 命令行 for the CLI, else the phone recorded then, masked."""
    ids = {e.user_id for e in entries if e.user_id is not None}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    labels = {}
    for e in entries:
        user = users.get(e.user_id)
        if user is not None:
            labels[e.id] = _("%(name)s (%(phone)s)", name=user.name, phone=mask_phone(user.phone))
        elif e.actor == "cli":
            labels[e.id] = _("command line")
        else:
            labels[e.id] = mask_phone(e.actor)
    return labels
