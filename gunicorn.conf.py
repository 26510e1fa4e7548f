"""gunicorn settings (`gunicorn -c gunicorn.conf.py wsgi:app`): gevent, one worker per core,
no keep-alive, chosen by measurement (bench/load.py, bench/leaderboard.py; figures in
docs/benchmarks.md).

- gevent: a request runs to its next wait without preemption, so a worker never splits its
  CPU between requests the way threads under the GIL do (gthread's p99 swung run to run),
  and a display's Server-Sent Event stream costs a greenlet, not a thread or a process.
- keepalive 0: a kept-alive connection stays with the worker that accepted it, so a few
  busy workers would serve most connections while others idle. Closing after each
  response lets the kernel spread accepts; the proxy in front keeps the phones' connections alive.
- workers = cores: a gevent worker never idles on I/O, so a third worker on two cores only
  competes with PostgreSQL for CPU.

Every value can be overridden with GUNICORN_* variables.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
threads = int(os.environ.get("GUNICORN_THREADS", 8))  # gthread only
if worker_class == "gevent":
    # Patch before the app is imported (preload_app below): psycopg picks its wait
    # functions at import and waits cooperatively only if it finds select patched.
    from gevent import monkey

    monkey.patch_all()
    # Connections a worker holds at once, open display streams included (one each, at most
    # DISPLAY_STREAMS_PER_WORKER, by default a quarter of these); the rest wait in the
    # kernel's accept queue, first come first served, instead of queueing inside one busy
    # worker. For more live screens raise both (screens beyond the cap poll instead).
    worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 20))
# Import the app once in the master and fork: a killed worker is replaced at once instead
# of re-importing the app. create_app opens no connections.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in ("0", "false", "no")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 10
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 0))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
proc_name = "quiz"
# Several gunicorn instances may run on one host (tests, two app hosts): no shared control socket.
control_socket_disable = True
# Stateless workers behind a proxy: trust the proxy's X-Forwarded-* from loopback only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def _instance_path() -> str:
    return os.environ.get("QUIZ_INSTANCE_PATH") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "instance")


def on_starting(server):
    """Start the embedded Redis and PostgreSQL in the master, before forking, so every worker
    shares them; the master owns them and stops them in on_exit."""
    if not os.environ.get("REDIS_URL"):
        from quiz import embedded_redis

        embedded_redis.ensure_running(_instance_path())
    if not os.environ.get("DATABASE_URL"):
        from quiz.db import embedded_postgres

        embedded_postgres.ensure_running(_instance_path())


def on_exit(server):
    if not os.environ.get("DATABASE_URL"):
        from quiz.db import embedded_postgres

        embedded_postgres.stop(_instance_path())
    if not os.environ.get("REDIS_URL"):
        from quiz import embedded_redis

        embedded_redis.stop(_instance_path())
