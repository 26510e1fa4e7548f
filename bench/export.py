"""Export 200,000 results, and the final standings of 200,000 citizens, as CSV and XLSX and
print the time and peak memory of each.

    .venv/bin/python bench/export.py [--rows 200000] [--pg postgresql://postgres@127.0.0.1:5432/quiz_bench_export]

Seeds the PostgreSQL database given by --pg (dropped and recreated; default: an embedded
server in a temporary folder) with one citizen and
one finished attempt per row, bulk-inserted with SQLAlchemy core. Each export
then runs in its own subprocess through the same functions as the console's
download (quiz.exports.rows_for + quiz.exports.chunks), so the peak resident
memory printed is that export's alone. The standings export ranks every citizen's best
attempt (quiz.standings.final_standings) before its first row leaves.
Target: under 60 s and 200 MB each.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE_BANK = ROOT / "question_bank" / "cz-science-2021.yaml"
SAMPLE_CONTEST = ROOT / "question_bank" / "cz-2021-3rd.contest.yaml"
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "=HYPERLINK(\"e.cn\")", "杨磊", "赵敏", "黄丽", "周杰"]
GROUPS = ["青少年", "农民", "产业工人", "老年人", "领导干部和公务员", "其他", None]


def make_app(database_url: str, instance: str):
    os.environ["DATABASE_URL"] = database_url
    os.environ["QUIZ_INSTANCE_PATH"] = instance
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")  # never contacted by exports
    from quiz import create_app

    return create_app()


def seed(database_url: str, instance: str, rows: int) -> float:
    from sqlalchemy import insert

    from quiz.bank.importer import import_bank
    from quiz.contest.definition import import_contest
    from quiz.extensions import db
    from quiz.models import Attempt, User

    app = make_app(database_url, instance)
    started = time.perf_counter()
    with app.app_context():
        db.drop_all()
        db.create_all()
        import_bank(db.session, SAMPLE_BANK.read_bytes(), SAMPLE_BANK.name)
        contest, _ = import_contest(db.session, SAMPLE_CONTEST.read_bytes())
        districts = [d["code"] for d in contest.districts]
        rng = random.Random(2021)
        batch = 10_000
        for first in range(0, rows, batch):
            ids = range(first + 1, min(rows, first + batch) + 1)
            users = [{"id": i, "phone": f"1{3 + i % 7}{i:09d}", "name": NAMES[i % len(NAMES)],
                      "district": districts[i % len(districts)], "group": GROUPS[i % len(GROUPS)],
                      "unit": "常州市某单位" if i % 3 else None, "password_hash": "x", "role": "citizen",
                      "session_version": 1, "created_at": contest.starts_at} for i in ids]
            db.session.execute(insert(User), users)
            attempts = []
            for i in ids:
                start = contest.starts_at + timedelta(seconds=rng.randrange(14 * 24 * 3600))
                used = rng.randrange(60, 600)
                correct = rng.randrange(21)
                attempts.append({
                    "id": i, "user_id": i, "contest_id": contest.id, "practice": False, "status": "submitted",
                    "day": (start + timedelta(hours=8)).date().isoformat(), "started_at": start,
                    "deadline": start + timedelta(seconds=600), "finished_at": start + timedelta(seconds=used),
                    "auto_submitted": False, "score": correct * 5, "max_score": 100, "correct_count": correct,
                    "question_count": 20, "time_used_ms": used * 1000, "board_pending": False})
            db.session.execute(insert(Attempt), attempts)
            db.session.commit()
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()  # else the connection's rollback discards the statistics (and the plans suffer)
        db.engine.dispose()
    return time.perf_counter() - started


def run_export(database_url: str, instance: str, kind: str, fmt: str, out: str) -> dict:
    """In the child process: one export through the console's streaming functions."""
    from quiz import exports
    from quiz.extensions import db
    from quiz.models import Contest

    app = make_app(database_url, instance)
    baseline = peak_rss_mb()
    # Importing the app peaks early (quiz.accounts computes a scrypt hash at import): reset
    # the high-water mark so the figure is the export's own peak, imports included in RSS.
    reset_peak_rss()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    with app.app_context():
        contest = db.session.query(Contest).one()
        started = time.perf_counter()
        size = 0
        with open(out, "wb") as fh:
            for chunk in exports.chunks(fmt, exports.rows_for(kind, db.session, contest, None, False), contest.title):
                fh.write(chunk)
                size += len(chunk)
        seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_s, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
            "import_peak_mb": round(baseline, 1), "bytes": size}


def reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux: ru_maxrss then includes the import peak


def peak_rss_mb() -> float:
    """VmHWM (peak resident set) in MB; getrusage's maxrss where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_rows(fmt: str, out: str) -> int:
    """Count the rows of the written file (the header plus one per result)."""
    if fmt == "csv":
        with open(out, encoding="utf-8-sig", newline="") as fh:
            return sum(1 for _ in fh)
    from openpyxl import load_workbook

    book = load_workbook(out, read_only=True)
    try:
        return sum(1 for _ in book.active.iter_rows(values_only=True))
    finally:
        book.close()


def postgres_reachable(url: str) -> bool:
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin, connect_timeout=2, autocommit=True) as conn:
            name = url.rsplit("/", 1)[1]
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except psycopg.OperationalError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--pg", default="", help="a scratch PostgreSQL database (default: an embedded server)")
    parser.add_argument("--reuse", action="store_true", help="--pg is already seeded with --rows rows: only export")
    parser.add_argument("--child", nargs=5, metavar=("URL", "INSTANCE", "KIND", "FORMAT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_export(*args.child)))
        return

    workdir = Path(tempfile.mkdtemp(prefix="quiz-bench-export-"))
    if args.pg:
        postgres_reachable(args.pg) or sys.exit(f"PostgreSQL not reachable: {args.pg}")
        url = args.pg
    else:
        from quiz.db import embedded_postgres

        url = embedded_postgres.ensure_running(str(workdir / "pg"))
    backends = [("postgresql", url)]
    print(f"{args.rows:,} results (one per citizen)")
    for name, url in backends:
        if not (args.reuse and args.pg):
            seeded = seed(url, str(workdir / "instance"), args.rows)
            print(f"{name}: seeded in {seeded:.1f} s")
        for kind, fmt in (("results", "csv"), ("results", "xlsx"), ("standings", "csv"), ("standings", "xlsx")):
            out = str(workdir / f"{kind}-{name}.{fmt}")
            child = subprocess.run([sys.executable, __file__, "--child", url, str(workdir / "instance"), kind, fmt, out],
                                   capture_output=True, text=True, check=False)
            if child.returncode != 0:
                print(child.stderr[-2000:])
                raise SystemExit(f"{name} {kind} {fmt} export failed")
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            lines = count_rows(fmt, out)
            verdict = "OK" if figures["seconds"] < 60 and figures["peak_rss_mb"] < 200 else "OVER TARGET"
            print(f"  {kind:9} {fmt:4}  {figures['seconds']:6.1f} s ({figures['cpu_seconds']:.1f} s CPU)  "
                  f"peak RSS {figures['peak_rss_mb']:6.1f} MB (app start-up peak {figures['import_peak_mb']:.1f} MB)  "
                  f"{figures['bytes'] / 1e6:6.1f} MB file  "
                  f"{lines - 1:,} rows  {verdict}")
            os.unlink(out)
    print(f"(temporary files in {workdir})")


if __name__ == "__main__":
    main()
