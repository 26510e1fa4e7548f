"""Question rows by id, kept in each process: a row never changes once imported (a new bank
version adds rows; retiring only takes a row out of new draws), so a start shows the
drawn questions and a hand-in grades them without reading them again."""
import weakref
from dataclasses import dataclass

from quiz.contest import attempt_sql
from quiz.db import direct


@dataclass
class PaperQuestion:
    qid: str
    type: str
    stem: str
    options: list  # the bank's [key, text] pairs in bank order
    answer: list | None  # None in what a start shows
    explanation: str | None
    points: int | None = None  # the question's own points (contest/definition.question_points)


# Per direct engine (one database): question id -> PaperQuestion.
_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
CACHE_MAX = 20_000  # rows kept per process: two 10,000-question banks


def forget_cached_rows() -> None:
    """Empty the cache (tests: an emptied database gives the same ids to other rows)."""
    _cache.clear()


def by_id(engine, ids, tx: direct.Transaction | None = None) -> dict[int, PaperQuestion]:
    """The questions `ids` (at least), reading only those not kept yet, in `tx` when given
    (a start's, which holds a direct connection)."""
    known = _cache.setdefault(engine, {})
    missing = [i for i in ids if i not in known]
    if missing:
        if len(known) + len(missing) > CACHE_MAX:
            known.clear()  # a process that served more questions than two banks hold
            missing = list(ids)
        values = {"ids": missing}
        found = tx.rows(attempt_sql.QUESTIONS_BY_ID, values) if tx is not None else \
            direct.rows(engine, attempt_sql.QUESTIONS_BY_ID, values)
        for row in found:
            known[row.id] = PaperQuestion(row.qid, row.type, row.stem, row.options, row.answer, row.explanation,
                                          row.points)
    return known
