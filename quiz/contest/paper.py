"""Drawing a paper in PostgreSQL: the one paper rule every start (timed, practice) runs.

The rule: the paper rows first, in order and without repeats, then the rest of the paper
from the whole bank; within each, questions the citizen has not been served (by qid, in
this contest's timed attempts) come first wherever the bank allows, then served ones at
random; the paper is shuffled at the end.

A start must not read the whole bank (10,000 questions at a city's peak): every question
carries a random `draw_key` (set at insert), and each row reads a window of its unserved
candidates from a random point of that order (wrapping round), through an index per
filter column (migration f20a00000018); the row's questions are picked at random inside the
window. A window is WINDOW times the row's count plus the questions the rows above may
have taken, so a row whose window holds fewer untaken questions than it needs has run
out of unserved ones: only then are served questions read (at most the citizen's served
set). The cost depends on the paper's size and the citizen's served set, not the bank's.
Windows carry ids only; the drawn questions' rows come from the process's cache
(quiz/contest/question_rows.py), read only when not kept yet.
"""
import random
from dataclasses import dataclass

from quiz.contest import question_rows
from quiz.db import direct

WINDOW = 4  # candidates read per question wanted: more spreads papers further apart
FILTERS = ("category", "difficulty", "type")  # the paper row keys (contest/definition.row_matches)


@dataclass(frozen=True)
class Drawn:
    """A drawn question: what an attempt's item needs and what its start shows (the stem and
    the bank's [key, text] options in bank order; never the answer)."""
    id: int
    qid: str
    type: str
    points: int | None
    stem: str
    options: list

    @property
    def keys(self) -> list:
        """The bank option keys in bank order."""
        return [option[0] for option in self.options]


def _where(row: dict, n: int) -> str:
    """The row's filter on `questions q` (column names from FILTERS only; values bound)."""
    return "".join(f" AND q.{key} = %(f{n}_{key})s" for key in FILTERS if key in row)


def _window_sql(row: dict, n: int) -> str:
    """Row n's window as one row (n, ids): unserved, matching candidates in draw_key order
    from %(r{n})s, wrapping."""
    base = (f"SELECT q.id FROM questions q WHERE q.bank_id = %(bank_id)s AND NOT q.retired"
            f"{_where(row, n)} AND q.qid <> ALL(%(served)s)")
    return (f"SELECT {n} AS n, ARRAY(SELECT id FROM ((SELECT * FROM ({base} AND q.draw_key >= %(r{n})s"
            f" ORDER BY q.draw_key LIMIT %(w{n})s) a) UNION ALL (SELECT * FROM ({base} AND q.draw_key < %(r{n})s"
            f" ORDER BY q.draw_key LIMIT %(w{n})s) b)) c LIMIT %(w{n})s) AS ids")


def _values(row: dict, n: int) -> dict:
    return {f"f{n}_{key}": row[key] for key in FILTERS if key in row}


def draw_paper(session, bank_id: int, rows: list, count: int, seen: set, rng: random.Random,
               tx: direct.Transaction | None = None) -> list[Drawn]:
    """A paper of `count` questions from bank version `bank_id` by the paper `rows`
    ([{category|difficulty|type: value, count: n}, ...]), for a citizen served the qids
    `seen` (empty for practice). One round trip, two when a row runs out of unserved
    questions; in `tx` (a start's, which holds a direct connection) when given."""
    wanted = [dict(row) for row in rows] + [{"count": max(0, count - sum(row["count"] for row in rows))}]
    values: dict = {"bank_id": bank_id, "served": sorted(seen)}
    parts = []
    before = 0
    for n, row in enumerate(wanted):
        values.update(_values(row, n), **{f"r{n}": rng.random(), f"w{n}": WINDOW * row["count"] + before if row["count"] else 0})
        parts.append(_window_sql(row, n))
        before += row["count"]
    windows: list[list[int]] = [[] for _ in wanted]
    for found in _run(session, " UNION ALL ".join(parts), values, tx):
        windows[found.n] = found.ids
    chosen: list[int] = []
    taken: set = set()
    for n, row in enumerate(wanted):
        fresh = [i for i in windows[n] if i not in taken]
        picked = rng.sample(fresh, min(row["count"], len(fresh)))
        if len(picked) < row["count"] and seen:
            stale = [i for i in _served(session, bank_id, row, seen, tx) if i not in taken]
            rng.shuffle(stale)
            picked += stale[:row["count"] - len(picked)]
        taken.update(picked)
        chosen.extend(picked)
    rng.shuffle(chosen)
    shown = question_rows.by_id(tx.engine if tx is not None else direct.pool_for(session), chosen, tx)
    return [Drawn(i, shown[i].qid, shown[i].type, shown[i].points, shown[i].stem, shown[i].options) for i in chosen]


def _served(session, bank_id: int, row: dict, seen: set, tx) -> list[int]:
    """The ids of the row's matching questions the citizen has been served (sorted: the caller shuffles)."""
    sql = (f"SELECT q.id FROM questions q WHERE q.bank_id = %(bank_id)s AND NOT q.retired"
           f"{_where(row, 0)} AND q.qid = ANY(%(served)s) ORDER BY q.id")
    return [r.id for r in _run(session, sql, {"bank_id": bank_id, "served": sorted(seen), **_values(row, 0)}, tx)]


_statements: dict[str, direct.Statement] = {}  # one per paper shape (the rows' filter keys)


def _run(session, sql: str, values: dict, tx) -> list:
    """On a direct connection (`tx`'s, else the pool's), not in the session's transaction:
    question rows never change once imported (retiring is committed), and there a statement
    run a few times is PREPAREd with a generic plan, planned once per connection (planning
    the draw took ~10 ms, running it 1 ms)."""
    statement = _statements.get(sql)
    if statement is None:
        statement = _statements.setdefault(sql, direct.Statement(sql))
    return tx.rows(statement, values) if tx is not None else direct.rows(direct.pool_for(session), statement, values)
