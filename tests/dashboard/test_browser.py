"""End to end in a real browser: ``meta-orchestrator dashboard`` served on 127.0.0.1, headless Chromium.

Watches a CLI run appear in an empty store and update live (trial count and chart), sees it finish,
launches and stops a run from the launcher, opens the comparison, and saves a screenshot of each
step to ``test-artifacts/dashboard/``. Needs Debian's ``chromium`` (Playwright's own browser
download is not used); without it the test skips, and under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from meta_orchestrator.analysis.compare import compare_runs
from meta_orchestrator.analysis.loaders import run_data_from_store
from meta_orchestrator.dashboard.guard import TOKEN_ENV
from meta_orchestrator.store import RunStore
from tests.helpers import import_or_skip, skip_or_fail

from .helpers import slow_config, write_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TOKEN = "browser-test-token"  # the dashboard takes $META_ORCHESTRATOR_DASHBOARD_TOKEN as its token
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
TIMEOUT_MS = 45_000

pytestmark = pytest.mark.slow


def _browser_or_skip() -> None:
    import_or_skip("playwright.sync_api", "needs playwright: pip install '.[dev]'")
    if not CHROMIUM.exists():
        skip_or_fail(
            f"the browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dashboard(db: Path, config_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``meta-orchestrator dashboard`` on a free port; returns once Streamlit answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "meta_orchestrator.cli", "dashboard", "--host", "127.0.0.1",
        "--port", str(port), "--db", str(db), "--config-dir", str(config_dir),
    ]  # fmt: skip
    with open(log, "wb") as out:
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
        if server.poll() is not None:
            raise AssertionError(f"the dashboard exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.2)
    stop_process_group(server)
    raise AssertionError(f"the dashboard did not answer within 60 s:\n{log.read_text()}")


def stop_process_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a process this test started in its own session, and anything it started."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    _browser_or_skip()
    db, config_dir = tmp_path / "results" / "runs.db", tmp_path / "configs"
    write_config(config_dir, slow_config("launched", latency=0.03, trials_per_variant=150))
    server, url = start_dashboard(db, config_dir, tmp_path / "dashboard.log")
    try:
        yield url, db, tmp_path
    finally:
        stop_process_group(server)


def test_live_run_launcher_and_compare_in_chromium(served: tuple[str, Path, Path]) -> None:
    from playwright.sync_api import sync_playwright

    url, db, tmp_path = served
    cli_config = write_config(
        tmp_path / "cli", slow_config("watched", latency=0.06, trials_per_variant=100)
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{url}/?token={TOKEN}")  # the page sets the cookie later loads carry
        page.get_by_text("No run store at").wait_for()  # nothing has run yet
        page.screenshot(path=ARTIFACTS / "0-empty-store.png")

        run = subprocess.Popen(
            [sys.executable, "-m", "meta_orchestrator.cli", "run", "-c", str(cli_config),
             "--db", str(db), "--quiet"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _watch_live(page, db)
            assert run.wait(timeout=120) == 0, run.stdout.read() if run.stdout else ""
        finally:
            stop_process_group(run, signal.SIGINT)
        _finished_views(page)

        _launch_and_stop(page, db)
        _compare(page, db)
        browser.close()


def _finished_views(page) -> None:  # type: ignore[no-untyped-def]
    """Redrawn as a finished run: the Overview's two score pictures and rankings, no Vega chart
    until the Charts view is picked; then the interactive charts, drawn."""
    main = page.locator('[data-testid="stMain"]')
    main.locator('[data-testid="stRadio"]').get_by_text("summary.md").wait_for()
    assert _trials_done(page) == "360"
    # the live panel's elements stay until the finished page's script run ends, then go
    page.wait_for_function(
        """() => { const main = document.querySelector('[data-testid="stMain"]');
                   const images = [...main.querySelectorAll('[data-testid="stImage"] img')];
                   return images.length === 2 && images.every(i => i.complete && i.naturalWidth)
                     && !main.querySelector('[data-testid="stVegaLiteChart"]')
                     && main.querySelectorAll('[data-testid="stMarkdownContainer"] table').length === 4; }"""
    )  # two score pictures, two rankings and two tables of tests against the best, no Vega
    _full_screenshot(page, ARTIFACTS / "2-finished-run.png")
    main.locator('[data-testid="stRadio"] label').filter(has_text="Charts").click()
    charts = main.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(6).wait_for()  # both scores, the bandit's choices, latency and cost of each
    for i in range(7):
        charts.nth(i).locator("svg .mark-line path, svg .mark-rect path").first.wait_for()
    page.wait_for_function(  # the Overview's pictures go once the view's script run ends
        """() => !document.querySelector('[data-testid="stMain"] [data-testid="stImage"]')"""
    )
    _full_screenshot(page, ARTIFACTS / "2b-finished-run-charts.png")


def _full_screenshot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Streamlit scrolls inside its main block, so a tall viewport is what captures all of it."""
    viewport = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 3000"
    )
    page.set_viewport_size({"width": viewport["width"], "height": min(int(height) + 100, 8000)})
    page.wait_for_timeout(1500)  # let the charts re-fit the new size
    page.screenshot(path=path)
    page.set_viewport_size(viewport)


def _trials_done(page) -> str:  # type: ignore[no-untyped-def]
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Trials done")
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def _done_count(page) -> int:  # type: ignore[no-untyped-def]
    return int(_trials_done(page).replace(",", ""))


def _watch_live(page, db: Path) -> None:  # type: ignore[no-untyped-def]
    """The run appears without a reload; its trial count and score chart change while it runs."""
    page.locator('[data-testid="stMetric"]').filter(has_text="Trials done").wait_for()
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    chart.locator("svg .mark-line").first.wait_for()  # Vega has drawn the running means
    first_count, first_chart = _done_count(page), _drawn(chart)
    page.screenshot(path=ARTIFACTS / "1-live-run.png")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if _done_count(page) > first_count and _drawn(chart) != first_chart:
            break
    else:
        raise AssertionError("the trial count or the chart did not change while the run went on")
    with RunStore(db) as store:
        (record,) = store.list_runs()
    assert record.status == "running", "the run ended before the live view was checked"
    page.screenshot(path=ARTIFACTS / "1b-live-run-later.png")


def _drawn(chart) -> str:  # type: ignore[no-untyped-def]
    """The SVG paths of the chart's lines: they change when Vega redraws with new points."""
    return str(chart.locator("svg .mark-line").first.inner_html())


def _launch_and_stop(page, db: Path) -> None:  # type: ignore[no-untyped-def]
    page.locator('[data-testid="stSidebar"] label').filter(has_text="Launch").click()
    page.get_by_text("Valid config").wait_for()
    page.screenshot(path=ARTIFACTS / "3-launcher.png")
    page.get_by_role("button", name="Launch run").click()
    page.get_by_role("heading", name="launched").wait_for()  # switched to the new run
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
                 .some(m => m.innerText.includes('Trials done') && !/^0$/m.test(m.innerText))"""
    )
    page.screenshot(path=ARTIFACTS / "4-launched-run.png")
    page.get_by_role("button", name="Stop run (SIGINT)").click()
    page.get_by_text("This run was interrupted").wait_for()
    with RunStore(db) as store:
        launched = next(r for r in store.list_runs() if r.name == "launched")
    assert launched.status == "interrupted" and 0 < launched.trials < launched.planned_trials
    page.screenshot(path=ARTIFACTS / "5-stopped-run.png")


def _compare(page, db: Path) -> None:  # type: ignore[no-untyped-def]
    """The view compares the two newest runs by default; its verdict is the one compare_runs
    gives those runs (either verdict would pass a test that accepted both)."""
    with RunStore(db) as store:
        newest, older = store.list_runs()[:2]
        expected = compare_runs(
            run_data_from_store(store, older.id, summary=False),
            run_data_from_store(store, newest.id, summary=False),
        )
    shown, other = (
        ("Gate fails", "Gate passes") if expected.failed else ("Gate passes", "Gate fails")
    )
    page.locator('[data-testid="stSidebar"] label').filter(has_text="Compare").click()
    page.get_by_role("heading", name="Compare runs").wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.get_by_text(shown).first.wait_for()
    assert page.get_by_text(other).count() == 0
    page.screenshot(path=ARTIFACTS / "6-compare.png")
