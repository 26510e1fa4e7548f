"""gunicorn settings (`gunicorn -c gunicorn.conf.py wsgi:app`).

gthread: measured against sync on this 2-core machine (docs/benchmarks.md);
threads also keep a worker responsive while displays hold Server-Sent Event
streams open. Every value can be overridden with GUNICORN_* variables.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", 8))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
proc_name = "quiz"
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
