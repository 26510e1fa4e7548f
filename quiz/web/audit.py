"""The audit log: who uploaded, edited and exported what, and when."""
from quiz.clock import utcnow
from quiz.models import AuditEntry


def record(session, user, action: str, detail: str = "") -> None:
    session.add(AuditEntry(at=utcnow(), user_id=getattr(user, "id", None),
                           actor=getattr(user, "phone", None) or "cli", action=action, detail=detail))
    session.commit()
