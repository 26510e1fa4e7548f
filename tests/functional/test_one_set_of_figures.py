"""One set of figures (quiz/figures.py): for one set of attempts, 参与人数, 人次 and 平均分 are
the same on the console overview, /api/v1/districts, /display/data and the district export."""
import csv
import io
import re
from datetime import timedelta

import pytest
from admin_console import make_organizer, page_token, sign_in
from conftest import finish_attempt

from quiz import exports, figures, leaderboard
from quiz.clock import local_day, utcnow
from quiz.extensions import db
from quiz.models import ATTEMPT_ACTIVE, ATTEMPT_EXPIRED, ATTEMPT_SUBMITTED, Attempt


def extra_attempt(contest, citizen, score=None, status=ATTEMPT_SUBMITTED, practice=False, minutes_ago=30):
    """An attempt written straight to SQL (past the daily limit); finished ones told to the boards
    as a submit tells them."""
    started = max(utcnow() - timedelta(minutes=minutes_ago), contest.starts_at + timedelta(seconds=1))
    finished = status != ATTEMPT_ACTIVE
    attempt = Attempt(user_id=citizen.id, contest_id=contest.id, practice=practice, status=status,
                      day=local_day(started), started_at=started, question_count=20,
                      deadline=started + timedelta(seconds=contest.time_limit_s),
                      auto_submitted=status == ATTEMPT_EXPIRED,
                      score=score if finished else None, max_score=100 if finished else None,
                      correct_count=score // 5 if finished else None,
                      finished_at=started + timedelta(seconds=100) if finished else None,
                      time_used_ms=100_000 if finished else None)
    db.session.add(attempt)
    db.session.commit()
    if finished and not practice:
        assert leaderboard.record_attempt(contest, attempt, citizen)
    return attempt


@pytest.fixture
def attempts_of_all_kinds(open_contest, citizens):
    """wujin: A 100 then 40, B 60 and a running attempt -> 2 participants, 3 人次, 平均分 80.00;
    xinbei: C only a running attempt, D 80 and a practice 100 -> 1, 1, 80.00;
    jintan: E handed in automatically with 30 -> 1, 1, 30.00; a staff account's 100 counts nowhere."""
    contest = open_contest
    a, b = citizens.make(district="wujin"), citizens.make(district="wujin")
    c, d = citizens.make(district="xinbei"), citizens.make(district="xinbei")
    e, staff = citizens.make(district="jintan"), citizens.make(district="jintan")
    finish_attempt(a, contest, 20, 90)
    extra_attempt(contest, a, 40)
    finish_attempt(b, contest, 12, 60)
    extra_attempt(contest, b, status=ATTEMPT_ACTIVE, minutes_ago=1)
    extra_attempt(contest, c, status=ATTEMPT_ACTIVE, minutes_ago=1)
    finish_attempt(d, contest, 16, 70)
    extra_attempt(contest, d, 100, practice=True)
    extra_attempt(contest, e, 30, status=ATTEMPT_EXPIRED)
    staff.staff = True
    db.session.commit()
    extra_attempt(contest, staff, 100)
    return contest


EXPECTED = {"wujin": ("2", "3", "80.00"), "xinbei": ("1", "1", "80.00"), "jintan": ("1", "1", "30.00")}


def shown(participants, attempts, average) -> tuple[str, str, str]:
    """A district's three figures as text; the average as quiz.figures prints it."""
    return str(participants), str(attempts), figures.average_text(average if int(participants) else None)


def console_overview(client, contest) -> tuple[dict, tuple]:
    sign_in(client, make_organizer("city"))
    html = client.get(f"/admin?contest={contest.id}").get_data(as_text=True)
    table = re.search(r'<table class="data" id="district-figures">(.*?)</table>', html, re.S).group(1)
    rows = {}
    for code, cells in re.findall(r'<tr data-district="([^"]+)">(.*?)</tr>', table, re.S):
        values = re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        rows[code] = (values[2].strip(), values[4].strip(), values[5].strip())
    totals = tuple(re.search(rf'id="{name}">(.*?)<', html).group(1) for name in ("participants-total", "attempts-total"))
    return rows, totals


def district_export(client) -> dict:
    token = page_token(client.get("/admin/exports").get_data(as_text=True))
    response = client.post("/admin/exports", data={"csrf_token": token, "kind": "districts", "fmt": "csv", "district": ""})
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert tuple(rows[0]) == exports.DISTRICT_HEADER
    # 平均分 stays a number in the file ("—" without participants)
    return {row[0]: shown(row[3], row[5], None if row[6] == figures.NO_DATA else float(row[6])) for row in rows[1:]}


def test_the_figures_are_equal_on_every_screen_and_export(app, attempts_of_all_kinds):
    contest = attempts_of_all_kinds
    api = {d["code"]: shown(d["participants"], d["attempts"], d["average_score"])
           for d in app.test_client().get("/api/v1/districts").get_json()["districts"]}
    display = app.test_client().get("/display/data").get_json()
    on_display = {d["code"]: shown(d["participants"], d["attempts"], d["average_score"]) for d in display["districts"]}
    organizer = app.test_client()
    console, console_totals = console_overview(organizer, contest)
    export = district_export(organizer)

    every_district = {d["code"] for d in contest.districts}
    assert set(api) == set(on_display) == set(console) == set(export) == every_district
    for code in every_district:
        wanted = EXPECTED.get(code, ("0", "0", figures.NO_DATA))
        assert (console[code], api[code], on_display[code], export[code]) == (wanted,) * 4, code
        assert next(d["average_score_text"] for d in display["districts"] if d["code"] == code) == wanted[2]
    # The city's totals: 4 participants, 5 人次, on the console and the display.
    assert console_totals == ("4", "5") == (str(display["participants"]), str(display["attempts"]))
    assert figures.overall(db.session, contest).average_score == round((100 + 60 + 80 + 30) / 4, 2)


def test_a_rebuilt_board_gives_the_same_figures_as_sql(app, attempts_of_all_kinds):
    contest = attempts_of_all_kinds
    leaderboard.rebuild(db.session, contest)
    board = {d["code"]: shown(d["participants"], d["attempts"], d["average_score"]) for d in leaderboard.districts(contest)}
    sql = figures.by_district(db.session, contest)
    for code, wanted in board.items():
        found = sql.get(code, figures.Figures())
        assert shown(found.participants, found.attempts, found.average_score) == wanted, code


@pytest.mark.parametrize(("ms", "text"), [(None, "—"), (0, "0:00"), (1_960, "0:02"), (1_499, "0:01"),
                                          (59_500, "1:00"), (125_000, "2:05"), (600_000, "10:00")])
def test_time_used_is_rounded_to_the_second_and_shown_as_minutes_and_seconds(ms, text):
    assert figures.time_used_text(ms) == text


def test_status_words_are_the_exports_words_in_the_console(app, attempts_of_all_kinds, client):
    sign_in(client, make_organizer("city"))
    html = client.get(f"/admin/results?contest={attempts_of_all_kinds.id}").get_data(as_text=True)
    assert "超时自动交卷" in html and "答题中" in html and "已交卷" in html
    assert "超时交卷<" not in html
    assert set(figures.STATUS_NAMES.values()) == set(exports.STATUS_NAMES.values())
