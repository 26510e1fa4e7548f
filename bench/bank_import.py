"""Validate and import a generated 10,000-question bank, as YAML and as a workbook; print the times.

    .venv/bin/python bench/bank_import.py [--questions 10000]

Runs the real code path on the embedded default (a PostgreSQL server in a temporary folder)
and, when $BENCH_DATABASE_URL is set, on that PostgreSQL too (created if missing; skipped
with a message when unreachable): create_app with a config, flask_migrate upgrade, then
validate_bank and import_bank. Target: both steps together within 5 s per server on the
2-core development machine, for the YAML file and for the same bank as an .xlsx workbook in
the console's template (the `xlsx` rows). Also times `bank lint` on the same bank (target 5 s).
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, delete, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from quiz import create_app  # noqa: E402
from quiz.bank.importer import import_bank  # noqa: E402
from quiz.bank.lint import lint_bank  # noqa: E402
from quiz.bank.spreadsheet import write_workbook  # noqa: E402
from quiz.bank.validator import validate_bank  # noqa: E402
from quiz.config import Config, engine_options, normalise_database_url  # noqa: E402
from quiz.db import embedded_postgres  # noqa: E402
from quiz.extensions import db  # noqa: E402
from quiz.models import Bank, Question  # noqa: E402

SLUG = "bench-bank"
XLSX_SLUG = "bench-bank-xlsx"
CATEGORIES = {f"topic-{n:02d}": f"主题{n:02d}" for n in range(12)}


def generate_bank(count: int) -> bytes:
    """A valid bank in the documented format: singles, multiples and judges in turn."""
    out = [f"bank: {SLUG}", "title: 基准测试题库", "version: 1", "categories:"]
    out += [f"  {slug}: {name}" for slug, name in CATEGORIES.items()]
    out.append("questions:")
    slugs = list(CATEGORIES)
    for n in range(count):
        kind = ("single", "multiple", "judge")[n % 3]
        out += [
            f"  - id: q-{n:05d}",
            f"    type: {kind}",
            f"    category: {slugs[n % len(slugs)]}",
            f"    difficulty: {n % 3 + 1}",
            f'    stem: "第{n}题：下列关于科学常识的说法，哪一项是正确的？"',
        ]
        if kind == "judge":
            out.append(f"    answer: {'true' if n % 2 else 'false'}")
        else:
            out.append("    options:")
            out += [f'      {key}: "第{n}题的选项{key}"' for key in "ABCD"]
            out.append("    answer: B" if kind == "single" else "    answer: [A, C]")
        out.append(f'    explanation: "第{n}题的解析：请参阅科普读物的相关章节。"')
        if n % 10 == 0:
            out.append("    points: 2")
        out.append("")
    return "\n".join(out).encode()


def generate_workbook(count: int) -> bytes:
    """The same bank as generate_bank, as a workbook in the template (under its own slug)."""
    slugs = list(CATEGORIES)
    questions = []
    for n in range(count):
        kind = ("single", "multiple", "judge")[n % 3]
        item = {"id": f"q-{n:05d}", "type": kind, "category": slugs[n % len(slugs)], "difficulty": n % 3 + 1,
                "stem": f"第{n}题：下列关于科学常识的说法，哪一项是正确的？"}
        if kind == "judge":
            item["answer"] = bool(n % 2)
        else:
            item["options"] = {key: f"第{n}题的选项{key}" for key in "ABCD"}
            item["answer"] = "B" if kind == "single" else ["A", "C"]
        item["explanation"] = f"第{n}题的解析：请参阅科普读物的相关章节。"
        if n % 10 == 0:
            item["points"] = 2
        questions.append(item)
    return write_workbook({"bank": XLSX_SLUG, "title": "基准测试题库", "version": 1, "categories": CATEGORIES,
                           "questions": questions})


class BenchConfig(Config):
    def __init__(self, instance_path: str, database_url: str):
        super().__init__(instance_path)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)


def ensure_postgres_database(url: str) -> str | None:
    """Create the database if missing; return why PostgreSQL is skipped, or None."""
    target = make_url(normalise_database_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL to measure
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        admin.dispose()
    return None


def timed(step):
    """(result, wall seconds, CPU seconds of this process): the CPU figure shows what the
    code costs when other jobs share the 2 cores; the PostgreSQL server's work is not in it."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run(label: str, database_url: str, raw: bytes, workdir: Path, repeats: int, slug: str = SLUG,
        filename: str = "bench.yaml") -> float:
    os.environ["QUIZ_INSTANCE_PATH"] = str(workdir / f"instance-{label}")
    app = create_app(BenchConfig(os.environ["QUIZ_INSTANCE_PATH"], database_url))
    best = {}
    with app.app_context():
        _, migrated, _ = timed(upgrade)
        for _ in range(repeats):  # best of several runs: the machine is shared
            # A bench database may hold an earlier run: remove only this bench's bank.
            old = select(Bank.id).where(Bank.slug == slug).scalar_subquery()
            db.session.execute(delete(Question).where(Question.bank_id.in_(old)))
            db.session.execute(delete(Bank).where(Bank.slug == slug))
            db.session.commit()
            valid, *validate_times = timed(lambda: validate_bank(raw, app.config["BANK_MAX_BYTES"], filename))
            outcome, *import_times = timed(lambda: import_bank(db.session, raw, filename, app.config["BANK_MAX_BYTES"]))
            assert outcome.created
            for step, times in (("validate", validate_times), ("import", import_times)):
                best[step] = min(best.get(step, times), times)
        stored = db.session.scalar(select(func.count(Question.id)).where(Question.bank_id == outcome.bank.id))
        again, *reimport_times = timed(lambda: import_bank(db.session, raw, filename, app.config["BANK_MAX_BYTES"]))
        db.session.remove()
        db.engine.dispose()
    assert stored == len(valid.questions) and not again.created
    total = best["validate"][0] + best["import"][0]
    print(f"{label:<16} migrate {migrated:5.2f} s | validate {best['validate'][0]:5.2f} s (cpu {best['validate'][1]:4.2f}) "
          f"| import {best['import'][0]:5.2f} s (cpu {best['import'][1]:4.2f}; validates again inside) "
          f"| validate + import {total:5.2f} s | identical re-import {reimport_times[0]:4.2f} s | {stored} questions stored")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per backend; the best is printed")
    args = parser.parse_args()
    raw = generate_bank(args.questions)
    with tempfile.TemporaryDirectory(prefix="quiz-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "bench.yaml").write_bytes(raw)
        print(f"bank: {args.questions} questions, {len(raw) / 1024 / 1024:.2f} MB ({workdir / 'bench.yaml'})")
        valid = validate_bank(raw)
        report, lint_wall, lint_cpu = min((timed(lambda: lint_bank(valid)) for _ in range(args.repeats)), key=lambda t: t[1])
        print(f"lint       {lint_wall:5.2f} s (cpu {lint_cpu:4.2f}) for {len(valid.questions)} questions, "
              f"{len(report.warnings)} warning(s); target <= 5 s: {'met' if lint_wall <= 5 else 'MISSED'}")
        print("load average (1, 5, 15 min): " + ", ".join(f"{n:.1f}" for n in os.getloadavg()) + f" on {os.cpu_count()} cores")
        embedded = embedded_postgres.ensure_running(str(workdir / "pg"))
        totals = {"embedded": run("embedded", embedded, raw, workdir, args.repeats)}
        xlsx = generate_workbook(args.questions)
        print(f"workbook: {args.questions} questions, {len(xlsx) / 1024 / 1024:.2f} MB (.xlsx)")
        totals["embedded xlsx"] = run("embedded xlsx", embedded, xlsx, workdir, args.repeats, XLSX_SLUG, "bench.xlsx")
        pg_url = os.environ.get("BENCH_DATABASE_URL")
        skipped = ensure_postgres_database(pg_url) if pg_url else "BENCH_DATABASE_URL not set"
        if skipped:
            print(f"postgresql  skipped: {skipped}")
        else:
            totals["postgresql"] = run("postgresql", pg_url, raw, workdir, args.repeats)
            totals["postgresql xlsx"] = run("postgresql xlsx", pg_url, xlsx, workdir, args.repeats, XLSX_SLUG, "bench.xlsx")
        embedded_postgres.stop(str(workdir / "pg"))
    print("target: validate + import <= 5 s on each server: " +
          ", ".join(f"{k} {'met' if v <= 5 else 'MISSED'}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
