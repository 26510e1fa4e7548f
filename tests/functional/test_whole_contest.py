"""A whole contest from the first answer to the report, through HTTP and the CLI (issue 16).

Citizens take part through the API; the board freezes; more results arrive (the public
board stays, the citizen's own page and the console move); the contest ends; the review
queue flags an impossible full score and an organizer disqualifies it; prizes are assigned,
drawn with a fixed seed (the same winners as the ten-line re-run in docs/awards.md) and
published; an objection is answered; certificates are downloaded and verified; and the
report's figures equal the ones worked out by hand below. Time cannot pass in a test, so
"the board freezes" and "the contest ends" move freeze_at and ends_at to now.
"""
import re
import subprocess
import sys
from pathlib import Path

from admin_console import csrf_token, make_organizer, sign_in
from conftest import SAMPLE_CONTEST, ApiClient
from sqlalchemy import select, update

from quiz.clock import utcnow
from quiz.contest import attempts as attempt_rules
from quiz.extensions import db
from quiz.models import Attempt, Award, Certificate, Contest, User

DOCS = Path(__file__).resolve().parents[2] / "docs" / "awards.md"
FINISHING = """
freeze_at: 2021-06-05T20:00:00+08:00
certificate_min_score: 50
awards:
  - {name: 一等奖, ranks: "1-1"}
  - {name: 二等奖, ranks: "2-3"}
  - {name: 幸运奖, draw: 2, min_score: 40}
"""
SEED = "2021060522"  # e.g. the lottery number announced before the draw
# name, district, questions answered right (of 20, 5 points each)
BEFORE_FREEZE = [("赵一鸣", "wujin", 19), ("钱二宝", "wujin", 15), ("孙三好", "xinbei", 12),
                 ("李四海", "xinbei", 10), ("周五岳", "liyang", 20)]
AFTER_FREEZE = [("吴六合", "xinbei", 18), ("郑七星", "jintan", 5), ("王八方", "liyang", 8)]


def take_part(client, name, district, right) -> dict:
    """Register, start, answer `right` questions correctly and hand in, all through the API."""
    phone = f"1390000{len(name) * 1000 + sum(map(ord, name)) % 1000:04d}"
    registered = client.post("/api/v1/auth/register", json={"phone": phone, "name": name, "district": district,
                                                            "password": "password123"})
    assert registered.status_code == 201, registered.get_json()
    api = ApiClient(client).login(phone)
    attempt = api.post("/api/v1/attempts").get_json()["attempt"]
    db.session.expire_all()
    items = db.session.get(Attempt, attempt["id"]).items
    for n, item in enumerate(items):
        key = attempt_rules.to_display(item, item.question.answer)
        wrong = (["true"] if key == ["false"] else ["false"]) if item.question.type == "judge" \
            else [letter for letter in "ABCD" if letter not in key][:1]
        saved = api.put(f"/api/v1/attempts/{attempt['id']}/answers/{item.question.qid}",
                        json={"choices": key if n < right else wrong})
        assert saved.status_code == 200, saved.get_json()
    submitted = api.post(f"/api/v1/attempts/{attempt['id']}/submit")
    assert submitted.status_code == 200 and submitted.get_json()["result"]["score"] == right * 5
    return {"api": api, "user": db.session.scalar(select(User).where(User.phone == phone)), "phone": phone}


def public_boards(client) -> dict:
    return {path: client.get(path).get_data() for path in (
        "/api/v1/leaderboard", "/api/v1/leaderboard?district=xinbei", "/api/v1/districts", "/display/data")}


def move(app, contest, **moments) -> None:
    """Time passes: the freeze or the end is now (and the per-second contest cache knows it)."""
    db.session.execute(update(Contest).where(Contest.id == contest.id).values(**moments))
    db.session.commit()
    app.extensions.pop("quiz_contest_cache", None)


def post_form(client, app, path, **fields):
    return client.post(path, data={"csrf_token": csrf_token(client, app), **fields})


def report_row(html: str, district: str) -> list[str]:
    row = re.search(rf'<tr data-district="{district}">(.*?)</tr>', html, re.S).group(1)
    return re.findall(r"<td[^>]*>([^<]*)</td>", row)


def test_a_whole_contest_from_answers_to_report(app, client, runner, sample_bank, tmp_path):
    contest_file = tmp_path / "contest.yaml"
    contest_file.write_bytes(SAMPLE_CONTEST.read_bytes() + FINISHING.encode())
    imported = runner.invoke(args=["contest", "import", str(contest_file), "--shift-to-now"])
    assert imported.exit_code == 0, imported.output
    contest = db.session.scalar(select(Contest))
    people = {name: take_part(client, name, district, right) for name, district, right in BEFORE_FREEZE}

    # 封榜: the public boards keep the standings of the freeze; the citizen and the console see on.
    move(app, contest, freeze_at=utcnow())
    frozen = public_boards(client)
    assert client.get("/api/v1/leaderboard").get_json()["frozen"] is True
    people |= {name: take_part(client, name, district, right) for name, district, right in AFTER_FREEZE}
    assert public_boards(client) == frozen
    own = people["吴六合"]["api"].get("/api/v1/me").get_json()
    assert own["best"]["score"] == 90 and own["rank"]["city"] is None  # not on the board of the freeze
    organizer = make_organizer("city")
    console = app.test_client()
    sign_in(console, organizer)
    assert "吴六合" in console.get(f"/admin/results?contest={contest.id}").get_data(as_text=True)

    # The end; review: full marks in under a second is flagged, and the organizer disqualifies it.
    move(app, contest, ends_at=utcnow())
    queue = console.get("/admin/review").get_data(as_text=True)
    cheat = people["周五岳"]["user"]
    assert "周五岳" in queue and "满分" in queue
    refused = post_form(console, app, f"/admin/review/citizens/{cheat.id}/disqualify", reason="")
    assert refused.status_code == 400 and "理由" in refused.get_data(as_text=True)
    assert post_form(console, app, f"/admin/review/citizens/{cheat.id}/disqualify",
                     reason="20 题用时不足 1 秒").status_code == 302
    board = client.get("/api/v1/leaderboard").get_json()
    assert [e["score"] for e in board["entries"]] == [95, 75, 60, 50]  # still the freeze's, without 周五岳

    # Prizes: one per citizen by rank, then a draw among the rest scoring 40 or more.
    assert runner.invoke(args=["awards", "assign", contest.slug]).exit_code == 0
    ranked = {a.user_id: a.tier for a in db.session.scalars(select(Award).where(Award.contest_id == contest.id))}
    assert ranked == {people["赵一鸣"]["user"].id: "一等奖", people["吴六合"]["user"].id: "二等奖",
                      people["钱二宝"]["user"].id: "二等奖"}
    eligible = tmp_path / "eligible.csv"
    listed = runner.invoke(args=["awards", "eligible", contest.slug, "--tier", "幸运奖", "--out", str(eligible)])
    assert "eligible: 3" in listed.output  # 孙三好 60, 李四海 50, 王八方 40
    drawn = runner.invoke(args=["awards", "draw", contest.slug, "--tier", "幸运奖", "--seed", SEED])
    assert drawn.exit_code == 0, drawn.output
    winners = [int(uid) for uid in re.findall(r"^\d+\t(\d+)\t", drawn.output, re.M)]
    block = re.search(r"<!-- redraw\.py[^>]*-->\s*```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S).group(1)
    script = tmp_path / "redraw.py"
    script.write_text(block, encoding="utf-8")
    rerun = subprocess.run([sys.executable, str(script), str(eligible), SEED, "2"], capture_output=True, text=True,
                           check=True).stdout
    assert [int(uid) for uid in re.findall(r"^\d+ (\d+)$", rerun, re.M)] == winners and len(winners) == 2

    # 公示, and an objection answered.
    assert runner.invoke(args=["awards", "publish", contest.slug]).exit_code == 0
    page = client.get("/awards").get_data(as_text=True)
    assert "赵*鸣" in page and people["赵一鸣"]["phone"][:3] + "****" + people["赵一鸣"]["phone"][-4:] in page
    assert "赵一鸣" not in page and people["赵一鸣"]["phone"] not in page
    complaint = people["孙三好"]["api"].post("/api/v1/objections", json={"about": "self", "text": "我的第 3 题应判对"})
    assert complaint.status_code == 201
    answered = post_form(console, app, f"/admin/objections/{complaint.get_json()['id']}/answer", answer="已复核：第 3 题答案无误")
    assert answered.status_code == 302
    mine = people["孙三好"]["api"].get("/api/v1/objections").get_json()["objections"]
    assert mine[0]["answer"] == "已复核：第 3 题答案无误"

    # Certificates: the winner's award certificate, verified by its code; too low a score gets none.
    winner = app.test_client()
    sign_in(winner, people["赵一鸣"]["user"])
    pdf = winner.get("/me/certificate.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    code = db.session.scalar(select(Certificate.code).where(Certificate.user_id == people["赵一鸣"]["user"].id))
    verified = client.get(f"/certificates/{code}").get_data(as_text=True)
    assert "赵*鸣" in verified and "一等奖" in verified
    low = app.test_client()
    sign_in(low, people["郑七星"]["user"])
    assert low.get("/me/certificate.pdf").status_code == 403  # 25 points < certificate_min_score 50

    # The report, worked out by hand: 周五岳 is out; 7 participants, one attempt each.
    # wujin 95, 75 -> 2, mean 85.00; xinbei 60, 50, 90 -> 3, 66.67; jintan 25; liyang 40.
    html = console.get(f"/admin/report?contest={contest.id}").get_data(as_text=True)
    expected = {"wujin": ("2", "2", "85.00"), "xinbei": ("3", "3", "66.67"), "jintan": ("1", "1", "25.00"),
                "liyang": ("1", "1", "40.00"), "tianning": ("0", "0", "—")}
    for district, (participants, attempts, mean) in expected.items():
        cells = report_row(html, district)
        assert (cells[2], cells[3], cells[5], cells[6]) == (participants, attempts, mean, "0.0%"), (district, cells)
    assert report_row(html, "wujin")[4] == f"{2 * 10000 / 1390000:.2f}"

    # Unfreezing shows the live standings: 吴六合's 90 is public now.
    assert runner.invoke(args=["contest", "unfreeze", contest.slug]).exit_code == 0
    app.extensions.pop("quiz_contest_cache", None)  # every host sees it within the cache's second
    assert [e["score"] for e in client.get("/api/v1/leaderboard").get_json()["entries"]] == [95, 90, 75, 60, 50, 40, 25]

