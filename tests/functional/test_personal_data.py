"""Issue 15, "Correcting and deleting": purging a contest's personal data, closing an
account from 我的, correcting name and unit, the district through an organizer, and the
retention rule on the register page."""
from datetime import timedelta

import pytest
from admin_console import csrf_token, make_organizer, page_token, sign_in
from conftest import DURING, SAMPLE_CONTEST, finish_attempt
from sqlalchemy import select

from quiz import leaderboard, staff, stats
from quiz.accounts import authenticate, issue_token, mask_name
from quiz.bank.validator import BankInvalid
from quiz.clock import utcnow
from quiz.contest import attempts
from quiz.contest.definition import import_contest, validate_contest
from quiz.extensions import db
from quiz.models import Attempt, AuditEntry, User
from quiz.personal_data import PLACEHOLDER_NAME, purge_blocker
from quiz.web.audit import record as audit

NAMES = ["陈晓燕", "刘建国", "周桂芳"]  # none of them in the sample bank (李四光 is)
UNIT = "常州市第一人民医院"


def table_rows() -> dict[str, list[dict]]:
    """Every row of every table, by table name (ordered by primary key)."""
    rows = {}
    for table in db.metadata.sorted_tables:
        query = table.select().order_by(*table.primary_key.columns)
        rows[table.name] = [dict(row._mapping) for row in db.session.execute(query)]
    db.session.rollback()
    return rows


def figures(contest) -> dict:
    """What the public boards and the console show, with the names left out of the boards."""
    leaderboard.rebuild(db.session, contest)
    boards = {}
    for district in (None, "wujin", "xinbei"):
        board = leaderboard.top(contest, district, limit=100)
        boards[district] = (board["total"], [{k: v for k, v in e.items() if k != "name"} for e in board["entries"]])
    return {
        "boards": boards,
        "districts": leaderboard.districts(contest),
        "totals": {k: v for k, v in leaderboard.totals(contest).items() if k != "updated_at"},
        "dashboard": stats.dashboard(db.session, contest, DURING),
        "district_figures": stats.district_figures(db.session, contest),
        "scores": stats.score_distribution(db.session, contest),
        "questions": stats.question_statistics(db.session, contest, min_answers=1),
    }


@pytest.fixture
def purgeable(contest, citizens):
    """The 2021 contest (ended long ago) with three citizens, a bystander without attempts,
    an organizer, audit lines and a pending phone code naming the citizens."""
    people = []
    for n, name in enumerate(NAMES):
        citizen = citizens.make(district="xinbei" if n == 2 else "wujin", name=name)
        citizen.unit = UNIT
        db.session.commit()
        finish_attempt(citizen, contest, right=10 + 3 * n, seconds=60 + n, now=DURING + timedelta(minutes=n))
        finish_attempt(citizen, contest, right=8, seconds=90, now=DURING + timedelta(days=1, minutes=n))
        people.append(citizen)
    staff.set_staff(db.session, [people[1]], True, None)  # audited as "<phone> staff=yes"
    organizer = make_organizer("city")
    audit(db.session, organizer, "results.phone", f"{people[0].phone} contest={contest.slug}")
    issue_token(db.session, people[0], utcnow(), 3600)
    codes = db.metadata.tables.get("phone_codes")
    if codes is not None:
        db.session.execute(codes.insert().values(phone=people[2].phone, purpose="login", code_hash="0" * 64,
                                                 created_at=utcnow(), expires_at=utcnow(), wrong_tries=0))
        db.session.commit()
    bystander = citizens.make(district="wujin", name="赵六")
    return people, bystander, organizer


def test_purge_replaces_every_phone_name_and_unit_and_keeps_every_figure(app, runner, contest, purgeable):
    people, bystander, organizer = purgeable
    phones, ids = [p.phone for p in people], [p.id for p in people]
    before_rows, before = table_rows(), figures(contest)
    assert before["boards"][None][0] == 2  # the staff account is off the boards, but purged too

    result = runner.invoke(args=["citizens", "purge", "--contest", contest.slug, "--older-than-days", "30"])
    assert result.exit_code == 0, result.output
    assert "3 个市民账号" in result.output

    after_rows, after = table_rows(), figures(contest)
    assert after == before  # standings, district aggregates, score and question statistics
    assert {e["name"] for e in leaderboard.top(contest)["entries"]} == {mask_name(PLACEHOLDER_NAME)}
    for table, rows in after_rows.items():
        for row in rows:
            for value in row.values():
                for secret in phones + NAMES + [UNIT]:
                    assert secret not in str(value), (table, row)

    changed = {"users", "audit_log", "contests", "api_tokens", "phone_codes"}
    for table in before_rows:
        if table not in changed:
            assert after_rows[table] == before_rows[table], table
    assert after_rows["api_tokens"] == [] and after_rows.get("phone_codes", []) == []
    personal = {"phone", "name", "unit", "password_hash", "session_version", "anonymized_at", "totp_secret"}
    users_before = {u["id"]: u for u in before_rows["users"]}
    for user in after_rows["users"]:
        old = users_before[user["id"]]
        if user["id"] in ids:
            assert {k: v for k, v in user.items() if k not in personal} == {k: v for k, v in old.items() if k not in personal}
            assert user["name"] == PLACEHOLDER_NAME and user["unit"] is None and user["anonymized_at"] is not None
            assert not user["phone"].isdigit() and len(user["phone"]) == 11
        else:
            assert user == old  # the bystander and the organizer keep everything
    assert len({u["phone"] for u in after_rows["users"]}) == len(after_rows["users"])
    audit_before = {a["id"]: a for a in before_rows["audit_log"]}
    assert [a for a in after_rows["audit_log"] if a["id"] not in audit_before][0]["action"] == "citizens.purge"
    assert all(a["action"] == audit_before[a["id"]]["action"] for a in after_rows["audit_log"] if a["id"] in audit_before)
    assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "results.phone")) == organizer.phone
    assert contest.purged_at is not None

    for phone in phones:  # nobody can log in with the old phone, nor with the placeholder
        assert authenticate(db.session, phone, "password123") is None
    for user in db.session.scalars(select(User).where(User.id.in_(ids))):
        assert authenticate(db.session, user.phone, "password123") is None

    again = runner.invoke(args=["citizens", "purge", "--contest", contest.slug, "--older-than-days", "30"])
    assert again.exit_code == 0 and "0 个市民账号" in again.output


def test_purge_is_refused_before_n_days_after_the_end_with_the_date(app, runner, contest, purgeable):
    before = table_rows()
    result = runner.invoke(args=["citizens", "purge", "--contest", contest.slug, "--older-than-days", "100000"])
    assert result.exit_code != 0
    assert "还不满 100000 天" in result.output and "2021年06月05日" in result.output
    assert table_rows() == before


def test_purge_is_refused_while_the_contest_runs_and_names_the_end(app, runner, open_contest, citizens):
    citizen = citizens.make(name="张三丰")
    finish_attempt(citizen, open_contest, right=5, seconds=60)
    result = runner.invoke(args=["citizens", "purge", "--contest", open_contest.slug, "--older-than-days", "0"])
    assert result.exit_code != 0 and "尚未结束" in result.output
    assert f"{(open_contest.ends_at + timedelta(hours=8)):%Y年%m月%d日 %H:%M}" in result.output
    assert db.session.get(User, citizen.id).name == "张三丰"


def test_purge_refuses_bad_input_without_a_traceback(app, runner, contest):
    assert "没有竞赛" in runner.invoke(args=["citizens", "purge", "--contest", "nope", "--older-than-days", "1"]).output
    result = runner.invoke(args=["citizens", "purge", "--contest", contest.slug, "--older-than-days", "-1"])
    assert result.exit_code == 2 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert purge_blocker(contest, 0, contest.ends_at + timedelta(seconds=1)) is None


# ---- closing an account (注销) --------------------------------------------------------

def test_a_citizen_closes_their_account_from_me(app, client, api, open_contest, citizens):
    leaving = citizens.make(district="wujin", name="张三丰", phone="13900000077")
    staying = citizens.make(district="wujin", name="刘建国")
    finish_attempt(leaving, open_contest, right=15, seconds=60)
    finish_attempt(staying, open_contest, right=5, seconds=60)
    leaderboard.rebuild(db.session, open_contest)
    wujin_before = next(d for d in leaderboard.districts(open_contest) if d["code"] == "wujin")
    dashboard_before = stats.district_figures(db.session, open_contest)
    api.login(leaving.phone)
    sign_in(client, leaving)

    me = client.get("/me").get_data(as_text=True)
    assert 'id="close-account"' in me
    page = client.get("/me/close").get_data(as_text=True)
    assert 'id="close-form"' in page
    refused = client.post("/me/close", data={"csrf_token": page_token(page)})  # not confirmed
    assert refused.status_code == 422 and "请勾选确认" in refused.get_data(as_text=True)
    assert client.post("/me/close", data={"confirm": "1"}).status_code in (302, 400)  # no CSRF token: refused
    assert db.session.get(User, leaving.id).closed_at is None

    done = client.post("/me/close", data={"csrf_token": page_token(page), "confirm": "1"})
    assert done.status_code == 302
    db.session.expire_all()
    closed = db.session.get(User, leaving.id)
    assert closed.closed_at is not None and closed.name == PLACEHOLDER_NAME and closed.unit is None
    assert closed.phone != "13900000077"
    assert client.get("/me").status_code == 302  # the session ended
    assert api.get("/api/v1/me").status_code == 401  # and the token
    assert client.post("/api/v1/auth/token", json={"phone": "13900000077", "password": "password123"}).status_code == 401

    board = leaderboard.top(open_contest)
    assert board["total"] == 1 and [e["name"] for e in board["entries"]] == [mask_name("刘建国")]
    assert next(d for d in leaderboard.districts(open_contest) if d["code"] == "wujin") == wujin_before
    assert stats.district_figures(db.session, open_contest) == dashboard_before
    leaderboard.rebuild(db.session, open_contest)  # any later rebuild keeps them off
    assert leaderboard.top(open_contest)["total"] == 1


def test_closing_hands_in_a_running_attempt_which_stays_off_the_boards(app, client, open_contest, citizens):
    citizen = citizens.make(district="wujin", name="周桂芳")
    attempt, _ = attempts.start_attempt(db.session, citizen, open_contest, utcnow())
    sign_in(client, citizen)
    token = page_token(client.get("/me/close").get_data(as_text=True))
    assert client.post("/me/close", data={"csrf_token": token, "confirm": "1"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Attempt, attempt.id).finished
    assert leaderboard.top(open_contest)["total"] == 0
    assert leaderboard.totals(open_contest)["participants"] == 1  # still counted


# ---- corrections ------------------------------------------------------------------

def test_a_citizen_corrects_name_and_unit_until_the_first_finished_attempt(app, client, open_contest, citizens):
    citizen = citizens.make(name="张三风")
    sign_in(client, citizen)
    page = client.get("/me").get_data(as_text=True)
    assert 'id="details-form"' in page
    token = page_token(page)
    bad = client.post("/me/details", data={"csrf_token": token, "name": " ", "unit": ""}, follow_redirects=True)
    assert bad.status_code == 200 and "姓名为 1 到 20 个字符" in bad.get_data(as_text=True)
    assert client.post("/me/details", data={"csrf_token": token, "name": "张\x00", "unit": ""}).status_code == 302
    ok = client.post("/me/details", data={"csrf_token": token, "name": "张三丰", "unit": UNIT}, follow_redirects=True)
    assert "已保存" in ok.get_data(as_text=True)
    db.session.expire_all()
    assert (citizen.name, citizen.unit) == ("张三丰", UNIT)

    finish_attempt(citizen, open_contest, right=5, seconds=60)
    page = client.get("/me").get_data(as_text=True)
    assert 'id="details-locked"' in page and 'id="details-form"' not in page
    locked = client.post("/me/details", data={"csrf_token": token, "name": "别人", "unit": ""}, follow_redirects=True)
    assert "不能再修改" in locked.get_data(as_text=True)
    db.session.expire_all()
    assert citizen.name == "张三丰"


def test_an_organizer_corrects_the_district_audited_and_the_boards_follow(app, client, open_contest, citizens):
    citizen = citizens.make(district="wujin", name="张三丰")
    finish_attempt(citizen, open_contest, right=5, seconds=60)
    leaderboard.rebuild(db.session, open_contest)
    url = f"/admin/results/citizens/{citizen.id}/district?contest={open_contest.id}"
    page_url = f"/admin/results/citizens/{citizen.id}?contest={open_contest.id}"

    sign_in(client, make_organizer("district", "liyang"))  # another district's organizer
    assert client.post(url, data={"csrf_token": csrf_token(client, app), "district": "xinbei"}).status_code == 403
    other = client.application.test_client()
    sign_in(other, make_organizer("district", "wujin"))
    page = other.get(page_url).get_data(as_text=True)
    assert 'id="district-form"' in page
    token = page_token(page)
    assert other.post(url, data={"csrf_token": token, "district": "nowhere"}).status_code == 302
    db.session.expire_all()
    assert citizen.district == "wujin"
    assert other.post(url, data={"csrf_token": token, "district": "xinbei"}).status_code == 302
    db.session.expire_all()
    assert citizen.district == "xinbei"
    assert db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "citizen.district")) \
        == f"user {citizen.id}: wujin -> xinbei"
    assert leaderboard.top(open_contest, "xinbei")["total"] == 1 and leaderboard.top(open_contest, "wujin")["total"] == 0

    city = client.application.test_client()
    sign_in(city, make_organizer("city"))
    token = page_token(city.get(page_url).get_data(as_text=True))
    assert city.post(url, data={"csrf_token": token, "district": "wujin"}).status_code == 302
    db.session.expire_all()
    assert citizen.district == "wujin" and leaderboard.top(open_contest, "wujin")["total"] == 1


# ---- the retention rule on the register page -------------------------------------------

def test_the_register_page_states_the_contest_retention_rule(app, client, sample_bank):
    import_contest(db.session, SAMPLE_CONTEST.read_bytes() + b"\npersonal_data_days: 30\n", shift_to_now=True)
    page = client.get("/register").get_data(as_text=True)
    assert "个人信息仅用于本次竞赛，竞赛结束 30 天后删除" in page


@pytest.mark.parametrize("value", ["-1", "3651", "'30'", "1.5", "true"])
def test_personal_data_days_is_validated_with_its_line(value):
    with pytest.raises(BankInvalid) as caught:
        validate_contest(SAMPLE_CONTEST.read_bytes() + f"\npersonal_data_days: {value}\n".encode())
    assert any("personal_data_days 必须是 0 到 3650 之间的整数" in str(p) for p in caught.value.problems)
