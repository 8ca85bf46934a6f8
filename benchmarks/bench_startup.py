"""Fixed costs of a run that a CLI user pays in every process: imports, the first report.

    python benchmarks/bench_startup.py [--rounds 5] [--trials 100] [--base BASE_DIR]

``bench_overhead.py`` times ``run_experiment_suite`` in a warm process, so what a process pays once
(importing the engine, and on the first report the statistics) is not in its rates; every
``meta-orchestrator run`` pays it. Each row here is one fresh ``python`` process, timed from outside
(interpreter start included), rows alternating round by round; the table shows medians:

* ``python -c pass``: the interpreter alone, the floor;
* ``import meta_orchestrator.hub``: the engine, as the CLI's ``run`` loads it;
* a whole ``run_experiment_suite`` of ``--trials`` no-op trials (default timeout) with its report.

``--base BASE_DIR`` times another checkout's engine too (``git archive COMMIT | tar -x -C
BASE_DIR``), in the same rounds, and prints the base-to-this ratio of each row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, {benchmarks!r})
from bench_overhead import engine_config
from meta_orchestrator.hub import run_experiment_suite
folder = Path(sys.argv[1])
run_experiment_suite(engine_config({trials}, 60.0), db_path=folder / "s.db", results_dir=folder)
"""


def timed(root: Path, code: str, *args: str) -> float:
    """Seconds for a fresh interpreter to run ``code`` on the checkout at ``root`` (started in
    ``args[0]``, a fresh folder: ``python -c`` imports from its working directory first)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-c", code, *args]
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=args[0], check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--base", type=Path, help="another checkout to time alongside")
    args = parser.parse_args(argv)
    roots = {"this": ROOT} if args.base is None else {"base": args.base.resolve(), "this": ROOT}
    rows = {
        "python -c pass": "pass",
        "import meta_orchestrator.hub": "import meta_orchestrator.hub",
        f"run_experiment_suite, {args.trials:,} no-op trials, with its report": RUN.format(
            benchmarks=str(ROOT / "benchmarks"), trials=args.trials
        ),
    }
    seconds: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="mo-startup-") as tmp:
        for round_ in range(args.rounds):
            for number, (label, code) in enumerate(rows.items()):
                for name, root in roots.items():
                    folder = Path(tmp) / f"{round_}-{number}-{name}"
                    folder.mkdir()
                    seconds.setdefault((label, name), []).append(timed(root, code, str(folder)))
    load = os.getloadavg()[0]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"\nfresh processes, median of {args.rounds} alternating rounds\n")
    median = {key: statistics.median(values) for key, values in seconds.items()}
    if args.base is None:
        print("| process | seconds |")
        print("| --- | ---: |")
        for label in rows:
            print(f"| {label} | {median[label, 'this']:.2f} |")
        return 0
    print("| process | base s | this s | this / base |")
    print("| --- | ---: | ---: | ---: |")
    for label in rows:
        base, this = median[label, "base"], median[label, "this"]
        print(f"| {label} | {base:.2f} | {this:.2f} | {this / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
