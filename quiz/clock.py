"""Time: the server's clock, stored as naive UTC, shown in Asia/Shanghai."""
from datetime import UTC, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def local(moment: datetime) -> datetime:
    """A stored naive-UTC datetime as Asia/Shanghai time."""
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI)


def local_day(moment: datetime) -> str:
    return local(moment).date().isoformat()


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, as the API shows times."""
    return local(moment).isoformat(timespec="seconds") if moment else None
