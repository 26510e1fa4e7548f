"""Two trees of the app through bench/load.py, alternately, and the median of each figure.

    .venv/bin/python bench/compare.py /tmp/quiz-before /tmp/quiz-after --rounds 3 -- --rate-limits --duration 8
    .venv/bin/python bench/compare.py --logs before=/tmp/b1.txt,/tmp/b2.txt after=/tmp/a1.txt,/tmp/a2.txt

This machine's speed drifts by 20 % and more between runs minutes apart (docs/benchmarks.md),
which is the size of most changes measured here: one run of each tree tells little. The
trees run in turns, B A B A … from the second round (A B A B … would give the first tree
every first slot), each run its own load.py (`QUIZ_APP_ROOT=<tree>`, the arguments after
`--`), and the medians of × healthz, req/s, p99 and the CPU split are printed side by side
with every run's × healthz, so that the spread shows. Each run's output is kept beside
(`--keep DIR`). A tree is a folder with the app, e.g. `git archive <commit> | tar -x -C DIR`.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROW = re.compile(r"^(?P<name>[\w+]+)\s+(?P<rps>[\d.]+)\s+(?P<p50>[\d.]+)\s+(?P<p99>[\d.]+)\s+(?P<errors>\d+)"
                 r"\s+(?P<x_healthz>[\d.]+)\s+(?P<x_plain>[\d.]+)\s+(?P<app>[\d.]+)\s+(?P<pg>[\d.]+)\s+(?P<redis>[\d.]+)")
FIGURES = ("x_healthz", "x_plain", "rps", "p50", "p99", "app", "pg", "redis")


def rows(output: str) -> dict[str, dict[str, float]]:
    """The endpoint table of one load.py run: {endpoint: {figure: value}}."""
    found = {}
    for line in output.splitlines():
        match = ROW.match(line)
        if match:
            found[match["name"]] = {key: float(match[key]) for key in FIGURES}
    return found


def run(tree: str, load_args: list[str], keep: Path | None, label: str) -> dict:
    env = os.environ | {"QUIZ_APP_ROOT": tree}
    done = subprocess.run([sys.executable, str(BENCH / "load.py"), *load_args], env=env, capture_output=True,
                          text=True, check=False, timeout=3600)
    output = done.stdout + done.stderr
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"{label}.txt").write_text(output)
    found = rows(output)
    if done.returncode != 0 or not found:
        sys.exit(f"load.py failed for {tree} (exit {done.returncode}):\n{output[-2000:]}")
    return found


def report(runs: dict[str, list[dict]]) -> None:
    names = list(runs)
    endpoints = [e for e in runs[names[0]][0] if all(e in r for tree_runs in runs.values() for r in tree_runs)]
    print(f"medians of {', '.join(f'{len(r)} runs of {n}' for n, r in runs.items())}")
    header = f"{'endpoint':<12}" + "".join(f" | {n[-18:]:>18} × healthz (runs) × plain  req/s  p50/p99 ms  app/pg/redis ms"
                                           for n in names)
    print(header)
    for endpoint in endpoints:
        line = f"{endpoint:<12}"
        for name in names:
            figures = [r[endpoint] for r in runs[name]]
            median = {key: statistics.median(f[key] for f in figures) for key in FIGURES}
            each = " ".join(f"{f['x_healthz']:.2f}" for f in figures)
            line += (f" | {median['x_healthz']:>5.2f} ({each}) {median['x_plain']:>5.2f}  {median['rps']:>6.0f}"
                     f"  {median['p50']:>4.0f}/{median['p99']:<4.0f}  {median['app']:.2f}/{median['pg']:.2f}/{median['redis']:.2f}")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="*", help="two folders with a tree of the app each")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write each run's output here")
    parser.add_argument("--logs", nargs="*", default=[], help="NAME=FILE,FILE… : summarize load.py outputs instead")
    args, load_args = parser.parse_known_args()
    load_args = [a for a in load_args if a != "--"]
    if args.logs:
        runs = {}
        for spec in args.logs:
            name, _, files = spec.partition("=")
            runs[name] = [rows(Path(f).read_text()) for f in files.split(",")]
        report(runs)
        return
    if len(args.trees) != 2:
        parser.error("two trees, or --logs")
    runs: dict[str, list[dict]] = {tree: [] for tree in args.trees}
    for n in range(args.rounds):
        order = args.trees if n % 2 == 0 else list(reversed(args.trees))
        for tree in order:
            runs[tree].append(run(tree, load_args, args.keep, f"{Path(tree).name}-{n + 1}"))
            print(f"round {n + 1}: {tree} done", file=sys.stderr)
    report(runs)


if __name__ == "__main__":
    main()
