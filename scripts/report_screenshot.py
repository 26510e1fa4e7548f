"""Make docs/screenshots/report.png: four printed A4 pages of /admin/report (PAGES).

A throwaway instance (embedded PostgreSQL and Redis in a temporary folder) gets the sample
bank and contest, 400 citizens with seeded random results over the contest's two weeks,
ranked awards and a draw; the console page is fetched through the app's test client and
printed to PDF by Debian's Chromium (Playwright), and pdftoppm rasterises the pages.

Run once, when the report's look changes:
    .venv/bin/python scripts/report_screenshot.py
"""
import os
import random
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots" / "report.png"
CHROMIUM = os.environ.get("QUIZ_E2E_CHROMIUM", "/usr/bin/chromium")
PAGES = (1, 3, 4, 5)  # cover and days, districts, score distribution, hardest questions
EXTRA = ("organizer: 常州市科学技术协会\nawards:\n  - {name: 一等奖, ranks: \"1-3\"}\n"
         "  - {name: 二等奖, ranks: \"4-10\"}\n  - {name: 幸运奖, draw: 10, min_score: 80}\n")


def seed(app, rng: random.Random):
    from flask_migrate import upgrade

    from quiz import awards
    from quiz.accounts import create_organizer, register_citizen
    from quiz.bank.importer import import_bank
    from quiz.contest import attempts
    from quiz.contest.definition import import_contest
    from quiz.extensions import db

    upgrade(directory=str(ROOT / "migrations"))
    import_bank(db.session, (ROOT / "question_bank" / "cz-science-2021.yaml").read_bytes(), "cz-science-2021.yaml")
    contest, _ = import_contest(db.session, (ROOT / "question_bank" / "cz-2021-3rd.contest.yaml").read_bytes()
                                + EXTRA.encode())
    codes = [d["code"] for d in contest.districts]
    weights = [d["population"] for d in contest.districts]
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
    for n in range(400):
        district = rng.choices(codes, weights)[0]
        name = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
        citizen = register_citizen(db.session, f"1390000{n:04d}", name, district, "password123", None, None,
                                   set(codes), contest.starts_at)
        skill = rng.betavariate(5, 2)
        for day in sorted(rng.sample(range(14), rng.choice((1, 1, 2, 3)))):
            now = contest.starts_at + timedelta(days=day, hours=rng.randint(1, 12))
            right = min(20, sum(rng.random() < skill for _ in range(20)) + rng.choice((0, 1)))
            take(db.session, attempts, citizen, contest, right, now, rng)
    ended = contest.ends_at + timedelta(days=1)
    awards.assign(db.session, contest, ended)
    awards.draw(db.session, contest, "幸运奖", "2021-06-06 体彩排列五 12345", ended)
    organizer = create_organizer(db.session, "13700000001", "组织者", "organizer-pass-1", "city", None, ended)
    return contest, organizer


def take(session, attempts, citizen, contest, right: int, now, rng):
    """An attempt with `right` correct answers (the others wrong), handed in a few minutes later."""
    attempt, _ = attempts.start_attempt(session, citizen, contest, now, rng=rng)
    answers = {}
    for n, item in enumerate(rng.sample(attempt.items, len(attempt.items))):
        answer = attempts.to_display(item, item.question.answer)
        if n >= right:
            answer = (["true"] if answer == ["false"] else ["false"]) if item.question.type == "judge" \
                else [key for key in "ABCD" if key not in answer][:1]
        answers[item.question.qid] = answer
    attempts.save_answers(session, citizen, attempt.id, answers, now + timedelta(seconds=30))
    attempts.submit_attempt(session, citizen, attempt.id, now + timedelta(seconds=rng.randint(120, 590)))


def print_pages(client, path: str, pdf: Path) -> None:
    """Chromium loads the page from the test client (no server) and prints it on A4."""
    from playwright.sync_api import sync_playwright

    def answer(route):
        response = client.get(route.request.url.removeprefix("http://report.local"))
        route.fulfill(status=response.status_code, headers={"content-type": response.content_type},
                      body=response.get_data())
        response.close()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.route("http://report.local/**", answer)
        page.goto("http://report.local" + path)
        page.pdf(path=str(pdf), format="A4", prefer_css_page_size=True)
        browser.close()


def main() -> None:
    from PIL import Image

    instance = Path(tempfile.mkdtemp(prefix="quiz-report-shot-"))
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        os.environ.pop(name, None)
    os.environ.update(QUIZ_INSTANCE_PATH=str(instance), RATELIMIT_ENABLED="0", ADMIN_REQUIRE_TOTP="0")
    sys.path.insert(0, str(ROOT))
    from quiz import create_app, embedded_redis
    from quiz.db import embedded_postgres

    app = create_app()
    try:
        with app.app_context():
            contest, organizer = seed(app, random.Random(20210522))
            client = app.test_client()
            with client.session_transaction() as session:
                session["_user_id"] = organizer.get_id()
                session["_fresh"] = True
            pdf = instance / "report.pdf"
            print_pages(client, f"/admin/report?contest={contest.id}", pdf)
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(instance / "page")], check=True)
        printed = sorted(instance.glob("page-*.png"))
        pages = [Image.open(printed[n - 1]) for n in PAGES]
        gap = 16
        sheet = Image.new("RGB", (sum(p.width for p in pages) + gap * (len(pages) + 1),
                                  max(p.height for p in pages) + 2 * gap), "#d0d7de")
        x = gap
        for page in pages:
            sheet.paste(page, (x, gap))
            x += page.width + gap
        sheet.save(OUT, optimize=True)
        print(f"wrote {OUT}")
    finally:
        embedded_redis.stop(str(instance))
        embedded_postgres.stop(str(instance))


if __name__ == "__main__":
    main()
