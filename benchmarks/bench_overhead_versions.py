"""Harness overhead of two checkouts side by side: did a change make the engine slower?

    git archive BASE_COMMIT | tar -x -C /tmp/base
    python benchmarks/bench_overhead_versions.py /tmp/base [--trials 50000] [--rounds 5]
        [--timeout SECONDS]

Each round runs, for the base checkout and for this one in turn, a fresh process that imports that
checkout's ``meta_orchestrator`` and measures ``bench_overhead``'s bare loop and engine trial phase
(no-op trials, ``timeout_seconds: null``, or ``--timeout``, e.g. the default 60) one after the
other, and the whole ``run_experiment_suite`` call, which in a fresh process includes loading the
report's modules, as every CLI run does. The engine's rate relative to the bare loop in the same
process is robust to the machine's load drifting between processes; the table shows medians over
the rounds and the new-to-base ratio of each measure. The CPU time per trial (every thread of the
process: bare loop, and the whole engine call) moves least with the load: on a busy machine the
rates' ratios swing by ±0.1 while a change's CPU cost still shows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = """
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {benchmarks!r})
import bench_overhead as b
trials = {trials}
with tempfile.TemporaryDirectory() as tmp:
    root = Path(tmp)
    (root / "bare").mkdir()
    (root / "engine").mkdir()
    cpu = time.process_time()
    bare = b.bare_loop(root / "bare" / "bare.db", trials)
    bare_cpu = time.process_time() - cpu
    cpu = time.process_time()
    engine, whole = b.engine(root / "engine", trials, {timeout})
    whole_cpu = time.process_time() - cpu
print(json.dumps({{
    "bare": trials / bare, "engine": trials / engine, "whole": trials / whole,
    "bare_cpu": bare_cpu / trials * 1e6, "whole_cpu": whole_cpu / trials * 1e6,
}}))
"""


def measure(checkout: Path, trials: int, timeout: float | None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    code = CHILD.format(benchmarks=str(HERE), trials=trials, timeout=timeout)
    # In the checkout's folder: ``python -c`` puts the working directory first on ``sys.path``,
    # ahead of PYTHONPATH, so run from another checkout both children would import that one.
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"measuring {checkout} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "base", type=Path, help="the base checkout (a folder with meta_orchestrator/)"
    )
    parser.add_argument(
        "new", type=Path, nargs="?", default=HERE.parent, help="(default: this one)"
    )
    parser.add_argument("--trials", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--timeout", type=float, default=None, help="trial.timeout_seconds (default: null)"
    )
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
    for _ in range(args.rounds):
        for name, checkout in (("base", args.base), ("new", args.new)):
            runs[name].append(measure(checkout.resolve(), args.trials, args.timeout))

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    def relative(name: str, key: str = "engine") -> float:
        return statistics.median(r[key] / r["bare"] for r in runs[name])

    timeout = "null" if args.timeout is None else f"{args.timeout:g}"
    print(
        f"{args.trials:,} no-op trials, timeout_seconds: {timeout}, "
        f"median of {args.rounds} alternating rounds\n"
    )
    print(
        "| checkout | bare loop trials/s | engine trials/s | engine / bare loop "
        "| whole call trials/s | whole call / bare loop |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in ("base", "new"):
        print(
            f"| {name} | {median(name, 'bare'):,.0f} | {median(name, 'engine'):,.0f} "
            f"| {relative(name):.2f} | {median(name, 'whole'):,.0f} "
            f"| {relative(name, 'whole'):.2f} |"
        )
    print(
        "\nCPU per trial (all threads, µs; it moves less with the load than the rates): "
        + ", ".join(
            f"{name} bare loop {median(name, 'bare_cpu'):.1f}, whole call {median(name, 'whole_cpu'):.1f}"
            for name in ("base", "new")
        )
    )
    print(
        f"new / base: engine rate {median('new', 'engine') / median('base', 'engine'):.2f}, "
        f"engine / bare loop {relative('new') / relative('base'):.2f}, "
        f"whole call / bare loop {relative('new', 'whole') / relative('base', 'whole'):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
