"""Final standings and disqualification (issue 16): one row per citizen, in the board's order."""
from datetime import timedelta

from quiz import leaderboard
from quiz.disqualification import DisqualificationError, disqualify, reinstate
from quiz.extensions import db
from quiz.standings import final_standings, standing_of
from tests.conftest import DURING, finish_attempt


def test_one_row_per_citizen_ordered_by_score_then_time_then_finish(contest, citizens):
    fast, slow, twice, other = (citizens.make(district=d) for d in ("wujin", "wujin", "xinbei", "xinbei"))
    finish_attempt(fast, contest, right=15, seconds=100, now=DURING)
    finish_attempt(slow, contest, right=15, seconds=200, now=DURING)
    finish_attempt(twice, contest, right=10, seconds=50, now=DURING)
    finish_attempt(twice, contest, right=18, seconds=300, now=DURING + timedelta(days=1))
    finish_attempt(other, contest, right=5, seconds=30, now=DURING)
    rows = list(final_standings(db.session, contest))
    assert [(r.rank, r.user_id) for r in rows] == [(1, twice.id), (2, fast.id), (3, slow.id), (4, other.id)]
    assert rows[0].attempts == 2 and rows[0].time_used_ms == 300_000
    assert [(r.district_rank, r.user_id) for r in rows if r.district == "xinbei"] == [(1, twice.id), (2, other.id)]
    assert [r.rank for r in final_standings(db.session, contest, district="wujin")] == [2, 3]


def test_disqualified_citizen_leaves_standings_and_boards_and_comes_back(contest, citizens):
    cheat, honest = citizens.make(), citizens.make()
    finish_attempt(cheat, contest, right=20, seconds=40, now=DURING)
    finish_attempt(honest, contest, right=12, seconds=400, now=DURING)
    leaderboard.rebuild(db.session, contest)
    outcome = disqualify(db.session, contest, cheat, "答题过快", None)
    assert outcome.boards_rebuilt
    assert [r.user_id for r in final_standings(db.session, contest)] == [honest.id]
    assert standing_of(db.session, contest, cheat.id) is None
    board = leaderboard.top(contest)
    assert board["total"] == 1 and board["entries"][0]["score"] == 60
    # A later attempt of the disqualified citizen is not counted incrementally either,
    # so a rebuild from SQL gives the same boards.
    finish_attempt(cheat, contest, right=20, seconds=30, now=DURING + timedelta(days=1))
    incremental = (leaderboard.top(contest), leaderboard.districts(contest))
    leaderboard.rebuild(db.session, contest)
    assert (leaderboard.top(contest), leaderboard.districts(contest)) == incremental
    try:
        disqualify(db.session, contest, cheat, "again", None)
        raise AssertionError("a second disqualification must be refused")
    except DisqualificationError:
        pass
    reinstate(db.session, contest, cheat, "复核无误", None)
    assert [r.user_id for r in final_standings(db.session, contest)] == [cheat.id, honest.id]
    assert leaderboard.top(contest)["total"] == 2
