"""gunicorn settings (`gunicorn -c gunicorn.conf.py wsgi:app`).

Worker class and count chosen with bench/load.py (docs/benchmarks.md, 2-core machine):
gthread beat sync on every endpoint (sync 3 workers: healthz 1,080 req/s, saves 81;
gthread 3x4: healthz 1,568, saves 120), and more processes than cores + 1 only added
contention (5 sync workers: saves 53, submits 9/s with timeouts). Threads also keep a
worker responsive while displays hold Server-Sent Event streams open (one thread per
screen), hence 8 per worker. Every value can be overridden with GUNICORN_* variables.

Re-measured after the hand-written hot SQL (saves only, 64 connections): gthread 3x8
0.21x healthz, 3x2 0.25x, 4x1 0.23x, sync 4x1 0.24x -- the class barely matters for
throughput. sync has far shorter tails (16 connections: /healthz p99 21 ms against 47-54 ms
for gthread) but a sync worker cannot hold a display's event stream, so gthread stays.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", 8))
# Import the app once in the master and fork: workers start (and a killed one is replaced)
# in milliseconds instead of re-importing for ~2 s each. create_app opens no connections.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in ("0", "false", "no")
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 10
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
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
    """Start the embedded Redis in the master, before forking, so every worker shares it."""
    if not os.environ.get("REDIS_URL"):
        from quiz import embedded_redis

        embedded_redis.ensure_running(_instance_path())


def on_exit(server):
    if not os.environ.get("REDIS_URL"):
        from quiz import embedded_redis

        embedded_redis.stop(_instance_path())

