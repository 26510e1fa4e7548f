"""CPU a request of the morning peak's endpoints, in process (no HTTP server, no wrk).

    .venv/bin/python bench/peak_cost.py                          # code, register, login, start: 1,000 each
    .venv/bin/python bench/peak_cost.py login --requests 2000 --profile   # with cProfile's listing
    .venv/bin/python bench/peak_cost.py --no-limits              # the same with RATELIMIT_ENABLED=0
    QUIZ_APP_ROOT=/tmp/quiz-before .venv/bin/python bench/peak_cost.py   # another tree (git archive)

Prepares what bench/load.py prepares (its Bench: the database named by DATABASE_URL,
default postgresql://postgres@127.0.0.1:5432/quiz_cost, reset; FLUSHDB on REDIS_URL, default
redis://127.0.0.1:6379/11; never point them at real data), with rate limits on (limits the
bench cannot reach) and the SMS codes going to a real HTTP gateway on loopback, then calls
the app's WSGI entry with Flask's test client, 50 requests to warm up and --requests
measured, and prints the process's CPU time and the wall time per request. The test client
and the gateway's thread are counted too (about 0.1 ms a request), so the figures are for
comparing trees and changes, not absolute.
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import load  # noqa: E402  (puts QUIZ_APP_ROOT's tree on sys.path)

ENDPOINTS = ("code", "register", "login", "start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoints", nargs="*", default=list(ENDPOINTS), help=f"of {', '.join(ENDPOINTS)}")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--bank-size", type=int, default=10000)
    parser.add_argument("--port", type=int, default=8500, help="the SMS gateway listens on port + 1")
    parser.add_argument("--no-limits", action="store_true", help="RATELIMIT_ENABLED=0")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 45 by cumulative time")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/quiz_cost")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    bench = load.Bench(argparse.Namespace(rate_limits=True, port=args.port, bank_size=args.bank_size))
    os.chdir(load.ROOT)
    bench.reset()
    if args.no_limits:
        bench.env["RATELIMIT_ENABLED"] = "0"
    os.environ.update(bench.env)
    gateway = load.SmsGateway(args.port + 1)
    try:
        lines = bench.peak(args.requests + 50, [])
        client = bench._app().test_client()
        for endpoint in args.endpoints:
            measure(client, endpoint, lines[endpoint], args.requests, args.profile)
    finally:
        gateway.stop()


def measure(client, endpoint: str, lines: list[str], count: int, profile: bool) -> None:
    def call(line: str) -> None:
        method, path, token, body = line.split("\t")
        headers = {"Content-Type": "application/json"}
        if token != "-":
            headers["Authorization"] = f"Bearer {token}"
        response = client.open(path, method=method, data=body.encode(), headers=headers)
        assert response.status_code < 300, (endpoint, response.status_code, response.get_data(as_text=True)[:300])

    for line in lines[:50]:
        call(line)
    profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not time spent waiting
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for line in lines[50:50 + count]:
        call(line)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{endpoint:<9} {cpu / count * 1000:6.2f} ms CPU {wall / count * 1000:6.2f} ms wall a request"
          f"{' (profiled)' if profiler else ''}")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative"))
        stats.print_stats(45)
        if os.environ.get("PROFILE_CALLERS"):  # e.g. PROFILE_CALLERS=execute: who calls it, how often
            stats.print_callers(os.environ["PROFILE_CALLERS"])
        print(out.getvalue())


if __name__ == "__main__":
    main()
