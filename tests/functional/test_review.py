"""Review flags and disqualification from the console and the CLI (issue 16)."""
import csv
import io
from datetime import timedelta

import pytest
from admin_console import finished_attempt, make_organizer, page_token, sign_in, wrong_keys
from conftest import DURING, finish_attempt
from sqlalchemy import select

from quiz import leaderboard, review
from quiz.accounts import mask_name
from quiz.extensions import db
from quiz.models import Attempt, AuditEntry, Question, User
from quiz.review import ReviewSettings, review_flags

SETTINGS = ReviewSettings(seconds_per_question=3, shared_address_accounts=3, registration_burst=5,
                          registration_window_min=10)


def flags_of(contest, kind, settings=SETTINGS, district=None):
    return [f for f in review_flags(db.session, contest, DURING, settings, district) if f.kind == kind]


@pytest.fixture
def paper(contest):
    """Five questions of the bank: one paper that several attempts share."""
    return db.session.scalars(select(Question).where(Question.bank_id == contest.bank_id)
                              .order_by(Question.id).limit(5)).all()


def hand_in(contest, citizen, paper, wrong_at=(), address=None, seconds=120, started=DURING):
    """An attempt on `paper`, wrong at the given positions, started from `address`."""
    answers = [(q, wrong_keys(q) if n in wrong_at else list(q.answer), seconds * (n + 1) // len(paper))
               for n, q in enumerate(paper)]
    attempt = finished_attempt(contest, citizen, started, answers)
    attempt.started_from = address
    db.session.commit()
    return attempt


# ---- the flags -------------------------------------------------------------------

def test_full_marks_faster_than_reading_the_paper_is_flagged(contest, citizens):
    quick, careful, quick_but_wrong = citizens.make(name="快手"), citizens.make(), citizens.make()
    finish_attempt(quick, contest, right=20, seconds=38, now=DURING)
    finish_attempt(careful, contest, right=20, seconds=300, now=DURING)
    finish_attempt(quick_but_wrong, contest, right=15, seconds=30, now=DURING)
    [flag] = flags_of(contest, review.FAST_FULL_MARKS)
    assert [c.user_id for c in flag.citizens] == [quick.id]
    assert flag.evidence == "满分 100 分，用时 38 秒（20 题，平均每题 1.9 秒，不足 3 秒）"
    # The threshold is the setting: at 1.5 s per question nobody is too fast.
    assert flags_of(contest, review.FAST_FULL_MARKS, ReviewSettings(seconds_per_question=1.5)) == []


def test_many_accounts_from_one_address_with_the_same_answers(contest, citizens, paper):
    ring = [citizens.make(district=d) for d in ("wujin", "wujin", "xinbei")]
    for person in ring:
        hand_in(contest, person, paper, address="203.0.113.7")
    pair = [citizens.make(), citizens.make()]  # only two accounts: below the setting
    for person in pair:
        hand_in(contest, person, paper, wrong_at=(1,), address="198.51.100.4")
    other = citizens.make()
    hand_in(contest, other, paper, wrong_at=(2,), address="203.0.113.7")  # same address, other answers
    [flag] = flags_of(contest, review.SHARED_ADDRESS)
    assert {c.user_id for c in flag.citizens} == {p.id for p in ring}
    assert flag.evidence == ("同一地址 203.0.113.7 的 3 个账号交出完全相同的答卷（同样的 5 道题，"
                             "每题选项一致，得分 25 分，错或未答 0 题）")
    assert flag.evidence_for(full_address=False).startswith("同一地址 203.0.113.* 的 3 个账号")
    # A district organizer's queue keeps the flag (two of theirs), another district's too.
    assert flags_of(contest, review.SHARED_ADDRESS, district="xinbei") != []
    assert flags_of(contest, review.SHARED_ADDRESS, district="liyang") == []


def test_district_organizers_see_the_network_not_the_host():
    assert review.mask_address("203.0.113.7") == "203.0.113.*"
    assert review.mask_address("2001:db8:1:2::5") == "2001:db8:1:2:*"
    assert review.mask_address(None) is None


def test_identical_answers_with_a_shared_mistake_are_flagged(contest, citizens, paper):
    copier, source = citizens.make(name="甲"), citizens.make(name="乙")
    hand_in(contest, copier, paper, wrong_at=(0, 3))
    hand_in(contest, source, paper, wrong_at=(0, 3), started=DURING + timedelta(hours=5))
    different = citizens.make()
    hand_in(contest, different, paper, wrong_at=(0,))  # the same questions, another answer
    knew_it = [citizens.make(), citizens.make()]
    for person in knew_it:  # identical full marks show only that both knew the answers
        hand_in(contest, person, paper)
    [flag] = flags_of(contest, review.IDENTICAL_ANSWERS)
    assert {c.user_id for c in flag.citizens} == {copier.id, source.id}
    assert flag.evidence == "2 人的答卷完全相同：同样的 5 道题，每题选项一致，包括 2 道相同的错题或空题（得分 15 分）"


def test_a_group_from_one_address_is_not_flagged_twice(contest, citizens, paper):
    for _ in range(3):
        hand_in(contest, citizens.make(), paper, wrong_at=(4,), address="203.0.113.9")
    kinds = [f.kind for f in review_flags(db.session, contest, DURING, SETTINGS)]
    assert kinds == [review.SHARED_ADDRESS]


def test_bursts_of_registrations_from_one_address(contest, citizens, paper):
    burst = [citizens.make(now=DURING + timedelta(minutes=2 * n)) for n in range(6)]  # 6 in 10 minutes
    spread = [citizens.make(now=DURING + timedelta(minutes=15 * n)) for n in range(6)]  # 6 in 75 minutes
    for person in burst:
        person.registered_from = "192.0.2.10"
    for person in spread:
        person.registered_from = "192.0.2.20"
    db.session.commit()
    for person in burst[:5] + spread:
        finish_attempt(person, contest, right=10, seconds=200, now=DURING + timedelta(hours=2))
    [flag] = flags_of(contest, review.REGISTRATION_BURST)
    # Only accounts that took part count: the sixth never answered.
    assert [c.user_id for c in flag.citizens] == [p.id for p in burst[:5]]
    assert flag.evidence == "同一地址 192.0.2.10 在 10 分钟内注册了 5 个参赛账号（05月23日 10:00 起）"
    assert flags_of(contest, review.REGISTRATION_BURST, ReviewSettings(registration_burst=6)) == []


def test_addresses_are_recorded_at_registration_and_start(open_contest, client, api):
    address = {"REMOTE_ADDR": "203.0.113.50"}
    response = client.post("/api/v1/auth/register", environ_base=address, json={
        "phone": "13912345678", "name": "赵六", "district": "wujin", "password": "password123"})
    assert response.status_code == 201, response.get_json()
    user = db.session.get(User, response.get_json()["user"]["id"])
    assert user.registered_from == "203.0.113.50"
    api.login("13912345678")
    started = api.post("/api/v1/attempts", environ_base={"REMOTE_ADDR": "198.51.100.23"})
    assert started.status_code == 201
    attempt = db.session.get(Attempt, started.get_json()["attempt"]["id"])
    assert attempt.started_from == "198.51.100.23"


# ---- the console -------------------------------------------------------------------

@pytest.fixture
def cheat_and_honest(contest, citizens):
    cheat = citizens.make(district="wujin", name="张快")
    honest = citizens.make(district="xinbei", name="李慢")
    finish_attempt(cheat, contest, right=20, seconds=38, now=DURING)
    finish_attempt(honest, contest, right=12, seconds=400, now=DURING)
    leaderboard.rebuild(db.session, contest)
    return cheat, honest


def board(client):
    return client.get("/api/v1/leaderboard").get_json()


def standings_rows(client):
    token = page_token(client.get("/admin/exports").get_data(as_text=True))
    response = client.post("/admin/exports", data={"csrf_token": token, "kind": "standings", "fmt": "csv"})
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))[1:]


def test_city_organizer_disqualifies_from_the_queue_and_reinstates(client, contest, cheat_and_honest):
    cheat, honest = cheat_and_honest
    organizer = make_organizer("city")
    sign_in(client, organizer)
    page = client.get("/admin/review").get_data(as_text=True)
    assert "满分用时过短" in page and "满分 100 分，用时 38 秒" in page and cheat.phone in page
    assert f"/admin/results/citizens/{cheat.id}" in page
    assert mask_name(cheat.name) in [e["name"] for e in board(client)["entries"]]

    token = page_token(page)
    url = f"/admin/review/citizens/{cheat.id}/disqualify?contest={contest.id}"
    refused = client.post(url, data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 400 and "理由：请填写理由。" in refused.get_data(as_text=True)

    done = client.post(url, data={"csrf_token": token, "reason": "满分仅用 38 秒"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "张快 已被取消本竞赛资格" in text
    assert "满分仅用 38 秒" in text and "恢复资格" in text and "没有需要复核的成绩" in text
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "citizen.disqualify"))
    assert entry.actor == organizer.phone and "满分仅用 38 秒" in entry.detail
    assert board(client)["total"] == 1 and board(client)["entries"][0]["name"] == mask_name(honest.name)
    assert [row[1] for row in standings_rows(client)] == [honest.name]

    back = client.post(f"/admin/review/citizens/{cheat.id}/reinstate?contest={contest.id}",
                       data={"csrf_token": token, "reason": "复核为正常"}, follow_redirects=True)
    assert "张快 已恢复本竞赛资格" in back.get_data(as_text=True)
    assert board(client)["total"] == 2
    assert [row[1] for row in standings_rows(client)] == [cheat.name, honest.name]
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "citizen.reinstate")) is not None


def test_disqualify_from_the_citizen_page(client, contest, cheat_and_honest):
    cheat, _ = cheat_and_honest
    sign_in(client, make_organizer("city"))
    page = client.get(f"/admin/results/citizens/{cheat.id}").get_data(as_text=True)
    assert 'id="disqualify-form"' in page
    url = f"/admin/review/citizens/{cheat.id}/disqualify?contest={contest.id}"
    empty = client.post(url, data={"csrf_token": page_token(page), "reason": "", "from": "citizen"},
                        follow_redirects=True)
    assert "理由：请填写理由。" in empty.get_data(as_text=True)
    done = client.post(url, data={"csrf_token": page_token(page), "reason": "代答", "from": "citizen"})
    assert done.status_code == 302 and f"/admin/results/citizens/{cheat.id}" in done.headers["Location"]
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'id="disqualified-notice"' in shown and "代答" in shown and 'id="reinstate-form"' in shown


def test_district_organizer_sees_and_acts_on_their_district_only(client, contest, citizens, cheat_and_honest):
    cheat, honest = cheat_and_honest
    far = citizens.make(district="xinbei", name="王远")
    finish_attempt(far, contest, right=20, seconds=30, now=DURING)  # flagged, but in xinbei
    sign_in(client, make_organizer("district", "wujin"))
    page = client.get("/admin/review").get_data(as_text=True)
    assert "张快" in page and "王远" not in page
    assert cheat.phone not in page and cheat.phone[:3] + "****" + cheat.phone[-4:] in page
    token = page_token(page)
    response = client.post(f"/admin/review/citizens/{far.id}/disqualify?contest={contest.id}",
                           data={"csrf_token": token, "reason": "过快"})
    assert response.status_code == 403
    assert [f.citizens[0].user_id for f in flags_of(contest, review.FAST_FULL_MARKS)] == [far.id, cheat.id]


# ---- the CLI ------------------------------------------------------------------------

def test_cli_prints_flags_disqualifies_and_reinstates(runner, contest, cheat_and_honest, tmp_path):
    cheat, honest = cheat_and_honest
    flags = runner.invoke(args=["review", "flags", "--contest", contest.slug])
    assert flags.exit_code == 0, flags.output
    assert "[满分用时过短] 满分 100 分，用时 38 秒" in flags.output and cheat.phone in flags.output

    unknown = runner.invoke(args=["review", "disqualify", "13999999999", "--reason", "x"])
    assert unknown.exit_code != 0 and "没有手机号为 13999999999 的市民" in unknown.output

    done = runner.invoke(args=["review", "disqualify", cheat.phone, "--reason", "过快", "--contest", contest.slug])
    assert done.exit_code == 0 and "已取消本竞赛资格" in done.output, done.output
    again = runner.invoke(args=["review", "disqualify", cheat.phone, "--reason", "过快"])
    assert again.exit_code != 0 and "已被取消" in again.output
    out = tmp_path / "s.csv"
    runner.invoke(args=["standings", "export", "--out", str(out)])
    assert cheat.phone not in out.read_text(encoding="utf-8-sig") and honest.phone in out.read_text(encoding="utf-8-sig")
    assert "共 0 条可疑记录" in runner.invoke(args=["review", "flags"]).output

    back = runner.invoke(args=["review", "reinstate", cheat.phone, "--reason", "复核无误"])
    assert back.exit_code == 0 and "已恢复本竞赛资格" in back.output
    assert leaderboard.top(contest)["total"] == 2


def test_disqualifying_while_redis_is_away_says_the_boards_wait(app_with, contest, cheat_and_honest):
    cheat, _ = cheat_and_honest
    away = app_with(REDIS_URL="redis://127.0.0.1:9/0")  # nothing listens there
    client = away.test_client()
    sign_in(client, make_organizer("city"))
    token = page_token(client.get(f"/admin/results/citizens/{cheat.id}").get_data(as_text=True))
    done = client.post(f"/admin/review/citizens/{cheat.id}/disqualify?contest={contest.id}",
                       data={"csrf_token": token, "reason": "代答", "from": "citizen"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "已被取消本竞赛资格" in text and "排行榜将在 Redis 恢复后重建" in text
