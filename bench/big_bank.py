"""A bank of any size for the benchmarks: the sample bank's questions repeated under new
ids (and stems marked with their copy), so every paper row of the sample contest matches
the same share of the bank at 400 as at 10,000 questions."""
import copy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BANK = ROOT / "question_bank" / "cz-science-2021.yaml"
SAMPLE_CONTEST = ROOT / "question_bank" / "cz-2021-3rd.contest.yaml"


def big_bank(size: int, slug: str) -> bytes:
    """The bank `slug`, version 1, of `size` questions."""
    sample = yaml.safe_load(SAMPLE_BANK.read_text())
    questions = []
    for n in range(size):
        question = copy.deepcopy(sample["questions"][n % len(sample["questions"])])
        round_no = n // len(sample["questions"])
        question["id"] = f"{question['id']}-{round_no:03d}"
        if round_no:
            question["stem"] = f"{question['stem']}（第{round_no + 1}组）"
        questions.append(question)
    doc = {"bank": slug, "title": f"压测题库（{size} 题）", "version": 1, "categories": sample["categories"],
           "questions": questions}
    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True, sort_keys=False).encode()


def bench_contest(slug: str, bank_slug: str, attempts_per_day: int = 1000, max_attempts: int = 10000) -> bytes:
    """The sample contest's paper rules on `bank_slug`, with limits a benchmark can use up."""
    raw = SAMPLE_CONTEST.read_text()
    for old, new in (("contest: cz-2021-3rd\n", f"contest: {slug}\n"),
                     ("bank: cz-science-2021\n", f"bank: {bank_slug}\n"),
                     ("attempts_per_day: 1\n", f"attempts_per_day: {attempts_per_day}\n"),
                     ("max_attempts: 7\n", f"max_attempts: {max_attempts}\n"),
                     ("time_limit_s: 600\n", "time_limit_s: 1000\n")):
        assert old in raw, old
        raw = raw.replace(old, new)
    return raw.encode()


def empty_services(database_url: str, redis_url: str) -> None:
    """A bench's PostgreSQL database (created if missing) with an empty schema, and its Redis db flushed."""
    import redis
    from sqlalchemy import create_engine, text

    name = database_url.rsplit("/", 1)[1]
    admin = create_engine(database_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
