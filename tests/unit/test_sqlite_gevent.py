"""SQLite in a gevent worker: two writers of one process, one of them waiting on the network
mid-transaction, both commit (extensions._take_write_lock).

Without the process-wide writer lock the second writer waits for SQLite's lock inside C,
which stalls the first writer's greenlet too, until the 30 s busy timeout fails it.
Runs in a subprocess because gevent must patch the interpreter before anything imports.
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
from gevent import monkey

monkey.patch_all()
import gevent
from sqlalchemy import text

from quiz import create_app
from quiz.extensions import db

app = create_app()
with app.app_context():
    db.session.execute(text("CREATE TABLE answers (citizen TEXT)"))
    db.session.commit()


def citizen(name, pause):
    with app.app_context():
        db.session.execute(text("INSERT INTO answers VALUES (:name)"), {"name": name})
        gevent.sleep(pause)  # what a Redis call inside the transaction would do
        db.session.commit()


def reader():
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM answers")).scalar()


jobs = [gevent.spawn(citizen, "a", 0.3), gevent.spawn(citizen, "b", 0), gevent.spawn(reader)]
gevent.joinall(jobs, raise_error=True)
with app.app_context():
    print(sorted(db.session.execute(text("SELECT citizen FROM answers")).scalars()))
"""


def test_two_writers_of_one_gevent_process_both_commit(tmp_path):
    env = {**os.environ, "QUIZ_INSTANCE_PATH": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'quiz.sqlite3'}", "PYTHONPATH": str(ROOT)}
    # Stuck writers would sit out SQLite's 30 s busy timeout; 20 s is far beyond the 0.3 s pause.
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=20)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "['a', 'b']"
