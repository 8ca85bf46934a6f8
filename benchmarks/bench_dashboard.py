"""Dashboard latency in a real browser: live updates, and drawing a finished 100,000-trial run.

    python benchmarks/bench_dashboard.py [--trials 100000] [--samples 20] [--repeats 3]

Serves ``meta-orchestrator dashboard`` on a free 127.0.0.1 port and drives Debian's headless
Chromium (``/usr/bin/chromium``) with Playwright.

* **Live latency** (goal: at most 2 s). A run is kept ``running`` by a ``StoreWriter`` in this
  process, which stamps its heartbeat as a run's process does; the browser shows it. Each sample
  waits a random 0.2-1.2 s (so samples fall anywhere in the page's 1-second refresh cycle), adds
  one trial and measures until the page's "Trials done" metric shows the new count (checked in
  the page on every animation frame). "commit → visible" starts when ``flush()`` returns (the
  trial is committed); "completed → visible" adds one trial without flushing, so it also includes
  the writer's batching (commits at most 100 ms after a trial).
* **Scale** (goal: a median of at most 2 s, issue #12 item 17). A finished run of ``--trials``
  trials (two experiments, four variants, a bandit, 2% errors) is written with ``StoreWriter``,
  its summary saved as a closing run saves it.
  The clock runs from navigating to ``?run=<id>`` until the page shows the run's first view, its
  Overview: the trial count, both experiments' score charts (server-drawn SVG pictures, loaded),
  the ranking and best-vs-others tables and the sidebar's run list. "first open" is the first view
  of the run after a server start (the server process is warm, its caches for the run are not;
  one sample per start); "reopen" loads it again in a new browser context (cached on the server,
  nothing cached in the browser). "open the 'Charts' view" times picking it until its seven Vega
  charts are drawn (both scores, the bandit's choices, latency and cost of each experiment).
* **Reference.** A Streamlit page with one title and one metric, served and loaded the same way:
  what any Streamlit page costs on this machine (frontend boot, websocket, first script run), to
  read the other rows against on a busy or slow box.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from meta_orchestrator.analysis.saved_summary import save_summary
from meta_orchestrator.analysis.summary import summarize_run
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.dashboard.guard import TOKEN_ENV
from meta_orchestrator.store import NewRun, RunStore, StoreWriter
from meta_orchestrator.store.ownership import Heartbeat, Owner, this_process

TOKEN = "bench-dashboard-token"  # passed as $META_ORCHESTRATOR_DASHBOARD_TOKEN, sent in the URL
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VARIANTS = {"careful_planner": 0.85, "fast_guesser": 0.55, "balanced": 0.78, "flaky_tool_user": 0.8}
BIG_RUN, LIVE_RUN = "bench-100k", "bench-live"
FIRST_VIEW_IMAGES = 2  # the Overview's score over time of both experiments (server-drawn SVG)
ALL_CHARTS = 7  # the Charts view: both scores, the bandit's choices, latency and cost of each
LIVE_GOAL, OPEN_GOAL, VIEW_GOAL = 2.0, 2.0, 3.0

RENDERED = """
(expected) => {
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  if (charts.length < expected.charts) return false;
  if (!charts.every(c => c.querySelector('.mark-line path, .mark-rect path'))) return false;
  const images = [...document.querySelectorAll('[data-testid="stImage"] img')];
  if (images.length < expected.images || !images.every(i => i.complete && i.naturalWidth)) return false;
  const tables = '[data-testid="stMain"] [data-testid="stMarkdownContainer"] table';
  if (document.querySelectorAll(tables).length < expected.tables) return false;
  if (!document.querySelector('[data-testid="stSidebar"] [data-testid="stMarkdownContainer"] li')) return false;
  if (expected.text && !document.body.innerText.includes(expected.text)) return false;
  return [...document.querySelectorAll('[data-testid="stMetricValue"]')]
    .some(v => v.innerText.trim() === expected.trials);
}
"""
SHOWS_COUNT = """
(count) => [...document.querySelectorAll('[data-testid="stMetric"]')]
  .some(m => m.innerText.includes('Trials done')
             && m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === count)
"""


# ----------------------------------------------------------------------------------- the stores
def new_run(
    run_id: str, name: str, planned: int, started_at: float, owner: Owner | None = None
) -> NewRun:
    return NewRun(
        id=run_id, name=name, orchestrator="standard+mab:thompson_sampling", backend="local",
        seed=1, planned_trials=planned, config_yaml=f"name: {name}\n", config_path=None,
        started_at=started_at, package_version="bench", git_commit=None,
        host=socket.gethostname(), pid=os.getpid(),
        owner_token=owner.token if owner else None, owner_started=owner.started_at if owner else None,
    )  # fmt: skip


def simulated_trial(
    rng: random.Random, run_id: str, experiment: str, variant: str, index: int
) -> TrialResult:
    latency = rng.lognormvariate(math.log(0.015), 0.4)
    start = 1_700_000_000.0 + index * 0.02
    if rng.random() < 0.02:
        return TrialResult(run_id, experiment, variant, index, index, "error", start,
                           start + latency, latency, {"latency": latency}, -latency, "boom")  # fmt: skip
    success = float(rng.random() < VARIANTS[variant])
    cost = abs(rng.gauss(0.02, 0.005))
    metrics = {"success": success, "cost": cost, "latency": latency}
    return TrialResult(run_id, experiment, variant, index, index, "ok", start, start + latency,
                       latency, metrics, success - 2 * cost - latency)  # fmt: skip


def write_big_run(writer: StoreWriter, trials: int) -> None:
    """A finished run: half a round-robin experiment, half a bandit that favours one variant.

    Its summary is saved in the store as a closing run saves it (``analysis.saved_summary``), so
    the page opens it the way it opens a run the hub ran."""
    rng, names = random.Random(7), list(VARIANTS)
    half = trials // 2
    writer.create_run(new_run(BIG_RUN, "big", trials, time.time() - 3600))
    writer.upsert_experiment(BIG_RUN, 0, "head_to_head", "standard", None, names, half)
    writer.upsert_experiment(BIG_RUN, 1, "bandit", "mab", "thompson_sampling", names, trials - half)
    for i in range(half):
        writer.add_trial(simulated_trial(rng, BIG_RUN, "head_to_head", names[i % 4], i))
    weights = [0.63, 0.16, 0.12, 0.09]
    for i in range(trials - half):
        variant = rng.choices(names, weights)[0]
        writer.add_trial(simulated_trial(rng, BIG_RUN, "bandit", variant, i))
    for experiment in ("head_to_head", "bandit"):
        writer.set_experiment_status(BIG_RUN, experiment, "completed")
        writer.add_log(BIG_RUN, "INFO", f"experiment {experiment} finished")
    writer.finish_run(BIG_RUN, "completed")
    writer.flush()
    with RunStore(writer.path) as store:
        save_summary(writer, summarize_run(store, BIG_RUN))


# ---------------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dashboard(
    db: Path, log: Path, app: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``meta-orchestrator dashboard`` on a free port, or plain ``streamlit run app``."""
    port = free_port()
    command = [
        sys.executable, "-m", "meta_orchestrator.cli", "dashboard", "--host", "127.0.0.1",
        "--port", str(port), "--db", str(db), "--config-dir", str(db.parent),
    ]  # fmt: skip
    if app is not None:
        command = [
            sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
            "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
    with open(log, "ab") as out:
        server = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, TOKEN_ENV: TOKEN},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return server, url
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the dashboard exited:\n{log.read_text()}") from None
            time.sleep(0.2)
    stop(server)
    raise SystemExit("the dashboard did not start within 60 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# ------------------------------------------------------------------------------- measurements
def measure_render(browser: Any, url: str, trials: int) -> tuple[float, float]:
    """Seconds to the complete first view (the Overview), then to the Charts view's Vega charts
    after picking it."""
    page = browser.new_page(viewport={"width": 1400, "height": 5000})  # every chart on screen
    # two rankings, two best-vs-others tables, two score charts (and the sidebar's run list)
    expected = {"charts": 0, "images": FIRST_VIEW_IMAGES, "tables": 4, "trials": f"{trials:,}",
                "text": ""}  # fmt: skip
    started = time.perf_counter()
    page.goto(f"{url}/?token={TOKEN}&run={BIG_RUN}", wait_until="commit")
    page.wait_for_function(RENDERED, arg=expected, polling="raf", timeout=60_000)
    first_view = time.perf_counter() - started
    started = time.perf_counter()
    page.locator('[data-testid="stMain"] [data-testid="stRadio"] label').filter(
        has_text="Charts"
    ).click()
    expected = {**expected, "charts": ALL_CHARTS, "images": 0, "tables": 0}
    page.wait_for_function(RENDERED, arg=expected, polling="raf", timeout=60_000)
    charts_view = time.perf_counter() - started
    page.close()
    return first_view, charts_view


def measure_floor(browser: Any, url: str) -> float:
    """A page with one title and one metric: what any Streamlit page costs on this machine."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(SHOWS_COUNT, arg="1", polling="raf", timeout=60_000)
    elapsed = time.perf_counter() - started
    page.close()
    return elapsed


def measure_live(
    browser: Any, url: str, writer: StoreWriter, samples: int
) -> dict[str, list[float]]:
    rng = random.Random(3)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(f"{url}/?token={TOKEN}&run={LIVE_RUN}")
    page.wait_for_function(SHOWS_COUNT, arg="0", polling="raf", timeout=60_000)
    results: dict[str, list[float]] = {"commit": [], "completed": []}
    for i in range(2 * samples):
        time.sleep(rng.uniform(0.2, 1.2))
        flush = i % 2 == 0
        writer.add_trial(simulated_trial(rng, LIVE_RUN, "grid", list(VARIANTS)[i % 4], i))
        started = time.perf_counter()
        if flush:
            writer.flush()
            started = time.perf_counter()
        page.wait_for_function(SHOWS_COUNT, arg=f"{i + 1:,}", polling="raf", timeout=30_000)
        results["commit" if flush else "completed"].append(time.perf_counter() - started)
    page.close()
    return results


# ------------------------------------------------------------------------------------ reporting
def row(name: str, values: list[float], goal: float, on: str = "max") -> str:
    """One table row; the verdict compares the ``on`` statistic (max or median) with ``goal``."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    judged = max(values) if on == "max" else statistics.median(values)
    verdict = "ok" if judged <= goal else "over"
    return (
        f"| {name:<44} | {len(values):>3} | {statistics.median(values):6.2f} s | {p95:6.2f} s "
        f"| {max(values):6.2f} s | {f'{on} ≤ {goal:g} s ({verdict})':<22} |"
    )


TRIVIAL_APP = 'import streamlit as st\nst.title("hello")\nst.metric("Trials done", "1")\n'


def measure_dashboard(
    browser: Any, db: Path, log: Path, args: argparse.Namespace, writer: StoreWriter
) -> dict[str, list[float]]:
    """Live samples on the first server; then per server start one first open and two reopens."""
    results: dict[str, list[float]] = {"first": [], "reopen": [], "tab": []}
    for repeat in range(args.repeats):
        server, url = start_dashboard(db, log)
        try:
            if repeat == 0:
                results.update(measure_live(browser, url, writer, args.samples))
            else:  # warm the server process (imports) on a small page first
                page = browser.new_page()
                page.goto(f"{url}/?token={TOKEN}&run={LIVE_RUN}")
                page.wait_for_function(SHOWS_COUNT, arg=f"{2 * args.samples:,}", timeout=60_000)
                page.close()
            for kind in ("first", "reopen", "reopen"):
                view, histograms = measure_render(browser, url, args.trials)
                results[kind].append(view)
                results["tab"].append(histograms)
        finally:
            stop(server)
    return results


def measure_floors(browser: Any, folder: Path, log: Path, samples: int) -> list[float]:
    app = folder / "trivial_app.py"
    app.write_text(TRIVIAL_APP, encoding="utf-8")
    server, url = start_dashboard(folder / "unused.db", log, app=app)
    try:
        measure_floor(browser, url)  # the server's first script run imports Streamlit's modules
        return [measure_floor(browser, url) for _ in range(samples)]
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000, help="trials of the finished run")
    parser.add_argument("--samples", type=int, default=20, help="live samples of each kind")
    parser.add_argument("--repeats", type=int, default=3, help="server starts for 'first open'")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        db, log = Path(tmp) / "runs.db", Path(tmp) / "dashboard.log"
        built = time.perf_counter()
        with StoreWriter(db) as writer:
            write_big_run(writer, args.trials)
        print(f"wrote a {args.trials:,}-trial run in {time.perf_counter() - built:.1f} s")
        writer = StoreWriter(db)
        planned = 10 * args.samples
        # The live run stamps its heartbeat as a run's process does: after 60 s without one the
        # page calls it dead and stops refreshing (the live samples then never show).
        owner = this_process()
        writer.create_run(new_run(LIVE_RUN, "live", planned, time.time(), owner))
        writer.upsert_experiment(LIVE_RUN, 0, "grid", "standard", None, list(VARIANTS), planned)
        with sync_playwright() as playwright, Heartbeat(writer, LIVE_RUN, owner):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                results = measure_dashboard(browser, db, log, args, writer)
                floor = measure_floors(browser, Path(tmp), log, 2 * args.repeats)
            finally:
                browser.close()
                writer.finish_run(LIVE_RUN, "completed")
                writer.close()
    report(args.trials, results, floor)


def report(trials: int, results: dict[str, list[float]], floor: list[float]) -> None:
    print(
        f"\nDashboard in headless Chromium ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})\n"
    )
    print(
        "| measurement                                  |   n |   median |      p95 |      max | goal                   |"
    )
    print(
        "|----------------------------------------------|----:|---------:|---------:|---------:|------------------------|"
    )
    print(row("live: trial commit → visible", results["commit"], LIVE_GOAL))
    print(row("live: trial completed → visible", results["completed"], LIVE_GOAL))
    print(row(f"{trials:,}-trial run: first open", results["first"], OPEN_GOAL, "median"))
    print(row(f"{trials:,}-trial run: reopen", results["reopen"], OPEN_GOAL, "median"))
    print(row("then open the 'Charts' view (7 Vega charts)", results["tab"], VIEW_GOAL))
    print(row("reference: a one-metric Streamlit page", floor, OPEN_GOAL, "median"))
    load = os.getloadavg()
    print(f"\nload average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}")


if __name__ == "__main__":
    main()
