"""Prizes (issue 16): assigning by rank and district, the verifiable draw, 公示 and claims."""
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from admin_console import csrf_token, make_organizer, sign_in
from conftest import CONTEST_END, DURING, SAMPLE_CONTEST, finish_attempt

from quiz import awards
from quiz.clock import local, utcnow
from quiz.contest.definition import import_contest
from quiz.disqualification import disqualify
from quiz.extensions import db
from quiz.models import AWARD_DRAW, AuditEntry, Award, AwardDraw, Contest

AFTER = CONTEST_END + timedelta(hours=1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "awards.md"
# 一等奖 ranks 1-2, 区优胜奖 2 per district, 幸运奖 3 drawn among scores >= 50
TIERS = """
awards:
  - {name: 一等奖, ranks: "1-2"}
  - {name: 区优胜奖, per_district: 2}
  - {name: 幸运奖, draw: 3, min_score: 50}
objection_days: 5
""".encode()


def awards_contest(shift_to_now=False) -> Contest:
    return import_contest(db.session, SAMPLE_CONTEST.read_bytes() + TIERS, shift_to_now=shift_to_now)[0]


@pytest.fixture
def prize_contest(contest):
    """The sample contest (2021 window) with the tiers above."""
    return awards_contest()


def take_part(citizens, contest, district, right, seconds, name=None):
    citizen = citizens.make(district=district, name=name)
    finish_attempt(citizen, contest, right=right, seconds=seconds, now=DURING)
    return citizen


def prizes(contest) -> dict[int, tuple]:
    return {a.user_id: (a.tier, a.kind, a.position, a.score)
            for a in db.session.scalars(db.select(Award).where(Award.contest_id == contest.id))}


def test_assign_by_rank_then_district_one_prize_each_disqualified_out(prize_contest, citizens):
    c = prize_contest
    cheat = take_part(citizens, c, "wujin", 20, 50)
    first = take_part(citizens, c, "wujin", 20, 100)
    second = take_part(citizens, c, "wujin", 20, 200)  # same score as first: more time, rank 2
    third_w = take_part(citizens, c, "wujin", 18, 100)
    fourth_w = take_part(citizens, c, "wujin", 15, 100)
    fifth_w = take_part(citizens, c, "wujin", 10, 100)
    top_x = take_part(citizens, c, "xinbei", 19, 100)
    low_x = take_part(citizens, c, "xinbei", 1, 100)
    disqualify(db.session, c, cheat, "答题过快", None)

    outcome = awards.assign(db.session, c, AFTER)
    assert prizes(c) == {
        first.id: ("一等奖", "rank", 1, 100), second.id: ("一等奖", "rank", 2, 100),
        # wujin's district ranks 1-2 already hold 一等奖: its two slots pass to ranks 3 and 4
        third_w.id: ("区优胜奖", "district", 3, 90), fourth_w.id: ("区优胜奖", "district", 4, 75),
        top_x.id: ("区优胜奖", "district", 1, 95), low_x.id: ("区优胜奖", "district", 2, 5),
    }
    assert fifth_w.id not in prizes(c) and cheat.id not in prizes(c)
    assert [(t["name"], n) for t, n in outcome.per_tier] == [("一等奖", 2), ("区优胜奖", 4)]
    assert db.session.get(Contest, c.id).awards_assigned_at == AFTER


def test_assign_is_refused_before_the_end_with_the_date(prize_contest, runner):
    with pytest.raises(awards.AwardsRefused, match="竞赛 2021-06-05 22:00 结束后才能评奖"):
        awards.assign(db.session, prize_contest, DURING)
    assert prize_contest.awards_assigned_at is None
    running = awards_contest(shift_to_now=True)  # the same slug, now open
    result = runner.invoke(args=["awards", "assign", running.slug])
    assert result.exit_code != 0 and "结束后才能评奖" in result.output
    assert f"竞赛 {local(running.ends_at):%Y-%m-%d %H:%M} 结束后才能评奖" in result.output


def test_assign_again_gives_the_same_rows_keeps_claims_and_follows_a_disqualification(prize_contest, citizens, runner):
    c = prize_contest
    people = [take_part(citizens, c, "wujin", 20 - n, 100) for n in range(5)]
    result = runner.invoke(args=["awards", "assign", c.slug])
    assert result.exit_code == 0, result.output
    assert "一等奖（第 1–2 名）：2 人" in result.output and "区优胜奖（各区县前 2 名）：2 人" in result.output
    before = {a.user_id: a.id for a in db.session.scalars(db.select(Award))}
    kept = db.session.scalar(db.select(Award).where(Award.user_id == people[2].id))
    awards.set_claim(db.session, kept, "contacted", "已电话联系", AFTER, None)
    again = runner.invoke(args=["awards", "assign", c.slug])
    assert again.exit_code == 0 and "结果与上次相同" in again.output
    db.session.expire_all()
    assert {a.user_id: a.id for a in db.session.scalars(db.select(Award))} == before
    kept = db.session.get(Award, kept.id)
    assert (kept.claim_status, kept.claim_note) == ("contacted", "已电话联系")
    # A disqualified winner leaves; the next citizen of the district takes the slot.
    disqualify(db.session, c, people[3], "复核不通过", None)
    awards.assign(db.session, c, AFTER)
    assert set(prizes(c)) == {people[0].id, people[1].id, people[2].id, people[4].id}
    assert db.session.get(Award, kept.id).claim_status == "contacted"


def redraw_block() -> str:
    """The docs' ten-line re-run, exactly as published."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- redraw\.py[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/awards.md has no redraw.py block"
    assert len(match.group(1).strip().splitlines()) <= 12
    return match.group(1)


def drawn_winners(output: str) -> list[tuple[int, int]]:
    return [(int(place), int(uid)) for place, uid in re.findall(r"^(\d+)\t(\d+)\t", output, re.M)]


def test_the_draw_is_reproducible_and_equals_the_docs_rerun(prize_contest, citizens, runner, tmp_path):
    c = prize_contest
    ranked = [take_part(citizens, c, "wujin", 20 - n, 100) for n in range(4)]  # 2 一等奖 + 2 区优胜奖
    pool = [take_part(citizens, c, "xinbei" if n % 2 else "tianning", 10 + n % 5, 100 + n) for n in range(8)]
    below = take_part(citizens, c, "liyang", 9, 100)  # 45 < min_score 50: not eligible
    refused = runner.invoke(args=["awards", "draw", c.slug, "--tier", "幸运奖", "--seed", "x"])
    assert refused.exit_code != 0 and "请先评奖" in refused.output
    awards.assign(db.session, c, AFTER)
    eligible_file = tmp_path / "eligible.csv"
    listed = runner.invoke(args=["awards", "eligible", c.slug, "--tier", "幸运奖", "--out", str(eligible_file)])
    assert listed.exit_code == 0, listed.output
    awarded = set(prizes(c))
    expected_ids = sorted(p.id for p in pool if p.id not in awarded)
    assert below.id not in expected_ids and not set(r.id for r in ranked) & set(expected_ids)

    seed = "2021065 03 11 17 21 26 32 08"
    drawn = runner.invoke(args=["awards", "draw", c.slug, "--tier", "幸运奖", "--seed", seed])
    assert drawn.exit_code == 0, drawn.output
    assert f"seed: {seed}" in drawn.output and f"eligible: {len(expected_ids)}" in drawn.output
    digest = re.search(r"eligible_sha256: ([0-9a-f]{64})", drawn.output).group(1)
    assert f"eligible_sha256: {digest}" in listed.output
    winners = drawn_winners(drawn.output)
    assert [place for place, _ in winners] == [1, 2, 3] and {uid for _, uid in winners} <= set(expected_ids)
    assert "139****" in drawn.output and "市民" not in drawn.output  # masked names and phones

    script = tmp_path / "redraw.py"
    script.write_text(redraw_block(), encoding="utf-8")
    rerun = subprocess.run([sys.executable, str(script), str(eligible_file), seed, "3"],
                           capture_output=True, text=True, timeout=30, check=True)
    lines = rerun.stdout.splitlines()
    assert lines[0] == f"eligible: {len(expected_ids)} {digest}"
    assert [tuple(map(int, line.split())) for line in lines[1:]] == winners

    rows = {(a.position, a.user_id) for a in db.session.scalars(db.select(Award).where(Award.kind == AWARD_DRAW))}
    assert rows == set(winners)
    again = runner.invoke(args=["awards", "draw", c.slug, "--tier", "幸运奖", "--seed", seed])
    assert again.exit_code == 0 and drawn_winners(again.output) == winners and "未作改动" in again.output
    assert db.session.scalar(db.select(db.func.count()).select_from(AwardDraw)) == 1
    other = runner.invoke(args=["awards", "draw", c.slug, "--tier", "幸运奖", "--seed", "another"])
    assert other.exit_code != 0 and "不能换种子重抽" in other.output
    unknown = runner.invoke(args=["awards", "draw", c.slug, "--tier", "一等奖", "--seed", seed])
    assert unknown.exit_code != 0 and "没有抽奖奖项「一等奖」" in unknown.output
    # After a draw, an assign that would change the prizes is refused.
    disqualify(db.session, c, ranked[0], "复核不通过", None)
    with pytest.raises(awards.AwardsRefused, match="已经抽过奖"):
        awards.assign(db.session, c, AFTER)


def test_draw_order_is_the_documented_shuffle():
    digest, order = awards.draw_order([5, 3, 9, 1], "seed")
    assert digest == __import__("hashlib").sha256(b"1\n3\n5\n9").hexdigest()
    assert sorted(order) == [1, 3, 5, 9] and awards.draw_order([9, 1, 5, 3], "seed") == (digest, order)
    assert awards.draw_order([1, 3, 5, 9], "other")[1] != order or awards.draw_order([1, 3, 5, 9], "x2")[1] != order


def test_publish_and_the_public_list_masked_with_the_deadline(prize_contest, citizens, client, runner):
    c = prize_contest
    page = client.get("/awards").get_data(as_text=True)
    assert "获奖名单正在评审" in page and "2021年06月05日 22:00" in page
    take_part(citizens, c, "wujin", 20, 100, name="张三丰")
    take_part(citizens, c, "xinbei", 19, 100, name="李四")
    take_part(citizens, c, "wujin", 10, 100, name="王小二")
    refused = runner.invoke(args=["awards", "publish", c.slug])
    assert refused.exit_code != 0 and "请先评奖" in refused.output
    assert client.get("/api/v1/awards").get_json()["published"] is False
    awards.assign(db.session, c, AFTER)
    assert "张*丰" not in client.get("/awards").get_data(as_text=True)  # nothing public before 公示
    published = runner.invoke(args=["awards", "publish", c.slug])
    assert published.exit_code == 0, published.output
    page = client.get("/awards").get_data(as_text=True)
    assert "张*丰" in page and "139****0001" in page and "武进区" in page and "一等奖" in page
    assert "李*" in page and "新北区" in page and "13900000001" not in page and "张三丰" not in page
    assert "王*二" in page and page.index("一等奖") < page.index("区优胜奖")
    assert 'id="objection-deadline"' in page and "公示期至" in page
    body = client.get("/api/v1/awards").get_json()
    assert body["published"] and not body["final"]
    assert [(a["tier"], a["name_masked"], a["phone_masked"]) for a in body["awards"]] == [
        ("一等奖", "张*丰", "139****0001"), ("一等奖", "李*", "139****0002"), ("区优胜奖", "王*二", "139****0003")]
    assert 'id="awards-link"' in client.get("/").get_data(as_text=True)
    again = runner.invoke(args=["awards", "assign", c.slug])
    assert again.exit_code != 0 and "不能重新评奖" in again.output
    # After the deadline the list is final.
    c = db.session.get(Contest, c.id)
    c.awards_published_at = utcnow() - timedelta(days=5, minutes=1)
    db.session.commit()
    page = client.get("/awards").get_data(as_text=True)
    assert "公示期已结束" in page and "最终结果" in page and 'id="objection-form"' not in page
    assert client.get("/api/v1/awards").get_json()["final"] is True


def test_console_claims_publish_button_and_district_scope(prize_contest, citizens, app, client):
    c = prize_contest
    wujin = take_part(citizens, c, "wujin", 20, 100, name="王五")
    xinbei = take_part(citizens, c, "xinbei", 19, 100, name="赵六")
    awards.assign(db.session, c, AFTER)
    city, district = make_organizer("city"), make_organizer("district", "wujin")
    sign_in(client, city)
    page = client.get("/admin/awards").get_data(as_text=True)
    assert "王五" in page and "赵六" in page and wujin.phone in page and 'id="publish-awards"' in page
    award = db.session.scalar(db.select(Award).where(Award.user_id == wujin.id))
    saved = client.post(f"/admin/awards/{award.id}/claim", data={
        "csrf_token": csrf_token(client, app), "status": "verified", "note": "身份证已核对"})
    assert saved.status_code == 302
    db.session.expire_all()
    award = db.session.get(Award, award.id)
    assert (award.claim_status, award.claim_note) == ("verified", "身份证已核对")
    assert db.session.scalar(db.select(AuditEntry.detail).where(AuditEntry.action == "award.claim")).startswith(
        f"award={award.id}")
    bad = client.post(f"/admin/awards/{award.id}/claim", data={"csrf_token": csrf_token(client, app), "status": "lost"})
    assert bad.status_code == 302 and "领奖状态无效" in client.get("/admin/awards").get_data(as_text=True)
    no_csrf = client.post(f"/admin/awards/{award.id}/claim", data={"status": "sent"})
    db.session.expire_all()
    assert no_csrf.status_code in (302, 400) and db.session.get(Award, award.id).claim_status == "verified"

    other = client.application.test_client()
    sign_in(other, district)
    page = other.get("/admin/awards").get_data(as_text=True)
    assert "王五" in page and "赵六" not in page and wujin.phone not in page and "139****0001" in page
    assert 'id="publish-awards"' not in page
    xinbei_award = db.session.scalar(db.select(Award).where(Award.user_id == xinbei.id))
    assert other.post(f"/admin/awards/{xinbei_award.id}/claim", data={
        "csrf_token": csrf_token(other, app), "status": "sent"}).status_code == 403
    assert other.post(f"/admin/awards/publish?contest={c.id}", data={
        "csrf_token": csrf_token(other, app)}).status_code == 403

    assert client.post(f"/admin/awards/publish?contest={c.id}", data={
        "csrf_token": csrf_token(client, app)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Contest, c.id).awards_published_at is not None
    assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "awards.publish")) is not None
