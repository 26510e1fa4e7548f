"""Question statistics and dashboard figures against numbers worked out by hand."""
from datetime import timedelta

import pytest
from conftest import DURING
from functional.admin_console import finished_attempt
from sqlalchemy import select

from quiz import stats
from quiz.extensions import db
from quiz.models import Question

# Ten attempts at three single-choice questions worth 5 points each (✓ right, ✗ wrong, · blank):
#
#        qa  qb  qc   score  rank
#   A1   ✓   ✓   ✓     15     1   upper
#   A2   ✓   ✗   ✗      5     2   upper
#   A3   ✓   ✗   ✗      5     3   upper
#   A4   ✓   ✗   ✗      5     4
#   A5   ✓   ✗   ✗      5     5
#   A6   ✓   ✗   ✗      5     6
#   A7   ✗   ✓   ✗      5     7
#   A8   ✗   ✓   ✗      5     8   lower
#   A9   ✗   ✓   ✗      5     9   lower
#   A10  ✗   ✗   ·      0    10   lower
#
# 27% of 10 attempts = 2.7 -> groups of 3; equal scores are ranked by attempt id.
# qa: correct 6/10 = 0.6;  p_upper 3/3, p_lower 0/3 -> D = 1.0;       no flag
# qb: correct 4/10 = 0.4;  p_upper 1/3, p_lower 2/3 -> D = -0.333;    flag: discrimination < 0.2
# qc: correct 1/10 = 0.1;  p_upper 1/3, p_lower 0/3 -> D = 0.333;     flag: correct rate < 20%
# Saves at 10 s (qa), 30 s (qb), 60 s (qc) after the start; A1 saved qa at 20 s; A10 left qc blank.
# Time on a question = gap since the previous save (or the start):
# qa: (20 + 9 × 10) / 10 = 11.0 s;  qb: (10 + 9 × 20) / 10 = 19.0 s;  qc: 9 × 30 / 9 = 30.0 s
TABLE = [
    (True, True, True), (True, False, False), (True, False, False), (True, False, False), (True, False, False),
    (True, False, False), (False, True, False), (False, True, False), (False, True, False), (False, False, None),
]


@pytest.fixture
def worked_example(contest, citizens):
    qa, qb, qc = (db.session.scalar(select(Question).where(Question.qid == qid))
                  for qid in ("achievements-001", "achievements-002", "achievements-003"))
    assert contest.points == {"single": 5, "multiple": 5, "judge": 5}

    def keys(question, right):
        if right is None:
            return None
        return list(question.answer) if right else [next(k for k, _ in question.options if k not in question.answer)]

    for number, (a, b, c) in enumerate(TABLE, start=1):
        citizen = citizens.make(district="wujin" if number <= 5 else "liyang")
        first_save = 20 if number == 1 else 10
        finished_attempt(contest, citizen, DURING + timedelta(minutes=number), [
            (qa, keys(qa, a), first_save), (qb, keys(qb, b), 30), (qc, keys(qc, c), 60 if c is not None else None),
        ])
    return contest, qa, qb, qc


def test_statistics_match_the_worked_example(worked_example):
    contest, qa, qb, qc = worked_example
    figures = {f.qid: f for f in stats.question_statistics(db.session, contest, min_answers=10)}
    a, b, c = figures[qa.qid], figures[qb.qid], figures[qc.qid]

    assert (a.answers, b.answers, c.answers) == (10, 10, 10)
    assert (a.correct_rate, b.correct_rate, c.correct_rate) == (0.6, 0.4, 0.1)
    assert (a.upper_n, a.lower_n) == (3, 3)
    assert a.discrimination == pytest.approx(1.0)
    assert b.discrimination == pytest.approx(-1 / 3)
    assert c.discrimination == pytest.approx(1 / 3)
    assert a.mean_seconds == pytest.approx(11.0)
    assert b.mean_seconds == pytest.approx(19.0)
    assert c.mean_seconds == pytest.approx(30.0)

    assert a.flags == []
    assert b.flags == ["low_discrimination"]
    assert c.flags == ["low_correct_rate"]

    wrong_a = next(k for k, _ in qa.options if k not in qa.answer)
    assert a.option_counts == {qa.answer[0]: 6, wrong_a: 4}
    wrong_c = next(k for k, _ in qc.options if k not in qc.answer)
    assert c.option_counts == {qc.answer[0]: 1, wrong_c: 8, "": 1}


def test_below_thirty_answers_nothing_is_flagged(worked_example):
    contest, *_ = worked_example
    figures = stats.question_statistics(db.session, contest)
    assert figures and all(not f.enough and f.flags == [] for f in figures)


def test_a_district_organizer_sees_only_their_districts_attempts(worked_example):
    contest, qa, *_ = worked_example
    # A1–A5 are wujin's: qa right in all five; groups of round(5 × 0.27) = 1: A1 (upper) and A5 (lower).
    figures = {f.qid: f for f in stats.question_statistics(db.session, contest, district="wujin", min_answers=1)}
    assert figures[qa.qid].answers == 5
    assert figures[qa.qid].correct_rate == 1.0
    assert (figures[qa.qid].upper_n, figures[qa.qid].lower_n) == (1, 1)


@pytest.mark.parametrize("attempts, size", [(0, 0), (1, 1), (3, 1), (10, 3), (100, 27), (1000, 270)])
def test_group_size_is_27_percent_rounded(attempts, size):
    assert stats.group_size(attempts) == size


def test_discrimination_and_flags_by_hand():
    assert stats.discrimination(9, 10, 3, 10) == pytest.approx(0.6)
    assert stats.discrimination(1, 4, 1, 4) == 0
    assert stats.discrimination(0, 0, 1, 4) is None
    assert stats.question_flags(0.19, 0.5) == ["low_correct_rate"]
    assert stats.question_flags(0.2, 0.2) == []
    assert stats.question_flags(0.5, 0.19) == ["low_discrimination"]


def test_score_buckets_by_share_of_the_maximum():
    buckets = dict(stats.score_buckets([(100, 100, 2), (95, 100, 1), (50, 100, 4), (0, 100, 3), (9, 100, 1)]))
    assert buckets["90–100%"] == 3
    assert buckets["50–59%"] == 4
    assert buckets["0–9%"] == 4
    assert sum(buckets.values()) == 11


def test_dashboard_figures_by_hand(worked_example):
    contest, *_ = worked_example
    figures = stats.dashboard(db.session, contest, DURING + timedelta(hours=1))
    assert (figures.participants_total, figures.attempts_total) == (10, 10)
    assert (figures.participants_today, figures.attempts_today) == (10, 10)
    by_code = {d.code: d for d in figures.districts}
    # wujin: 5 participants in 1,390,000 residents -> 5 × 10,000 / 1,390,000 = 0.03597
    assert by_code["wujin"].participants == 5
    assert by_code["wujin"].per_10k == pytest.approx(0.035971, abs=1e-6)
    # wujin scores 15, 5, 5, 5, 5 -> mean 7.0
    assert by_code["wujin"].mean_score == 7.0
    assert by_code["jintan"].participants == 0
    # Ten attempts started between 10:01 and 10:10 Shanghai time on the 23rd: one hourly bar.
    assert sum(n for _, n in figures.hourly) == 10
    assert max(figures.hourly, key=lambda h: h[1])[0].strftime("%m-%d %H") == "05-23 10"
    buckets = dict(figures.score_buckets)
    assert buckets["90–100%"] == 1 and buckets["30–39%"] == 8 and buckets["0–9%"] == 1

    wujin_only = stats.dashboard(db.session, contest, DURING, district="wujin")
    assert wujin_only.participants_total == 5
    assert [d.code for d in wujin_only.districts] == ["wujin"]
