"""End to end, as CI does it: benchmark two copies of the repository and gate them with ``compare``.

One copy is untouched, the other has a regression planted in the code of one built-in variant
(``retrieval`` finds fewer relevant documents). Each copy runs the real ``benchmark_config.yaml``
with its own code (``PYTHONPATH`` points at the copy), in parallel, about 10 s each on two cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meta_orchestrator.cli import main

ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns(
    ".git", "results", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache", ".benchmarks",
    "node_modules", "test-artifacts", ".venv", "build", "dist",
)  # fmt: skip
VARIANT_FILE = Path("meta_orchestrator/core/variants/examples.py")
ORIGINAL = "hits = sum(rng.random() < recall / k for _ in range(k))"
REGRESSED = "hits = sum(rng.random() < 0.8 * recall / k for _ in range(k))"  # success 92% -> 86%

pytestmark = pytest.mark.slow


def copy_repository(target: Path, *, regress: bool) -> Path:
    shutil.copytree(ROOT, target, ignore=IGNORE)
    if regress:
        source = target / VARIANT_FILE
        text = source.read_text(encoding="utf-8")
        assert ORIGINAL in text, f"{VARIANT_FILE} changed: update the planted regression"
        source.write_text(text.replace(ORIGINAL, REGRESSED), encoding="utf-8")
    return target


def copy_env(copy: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(copy)}


def start_benchmark(copy: Path, out: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "meta_orchestrator.cli", "run", "-c", "benchmark_config.yaml",
        "--db", str(out / "benchmark.db"), "--results-dir", str(out), "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=copy,
        env=copy_env(copy),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders: ``baseline`` and ``again`` (the untouched copy, twice) and ``regressed``."""
    work = tmp_path_factory.mktemp("e2e")
    pristine = copy_repository(work / "pristine", regress=False)
    regressed = copy_repository(work / "regressed", regress=True)
    for copy in (pristine, regressed):
        probe = subprocess.run(
            [sys.executable, "-c", "import meta_orchestrator; print(meta_orchestrator.__file__)"],
            cwd=copy, env=copy_env(copy), capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert probe.stdout.strip().startswith(str(copy)), "the copy's own code must run"
    started = {
        "baseline": start_benchmark(pristine, work / "out-baseline"),
        "again": start_benchmark(pristine, work / "out-again"),
        "regressed": start_benchmark(regressed, work / "out-regressed"),
    }
    folders = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, f"benchmark {name} failed:\n{stderr[-3000:]}"
        run_id = stdout.strip().splitlines()[-1]
        folders[name] = work / f"out-{name}" / run_id
        assert (folders[name] / "results.json").is_file()
    return folders


def gate(baseline: Path, candidate: Path, out: Path) -> tuple[int, str, dict]:  # type: ignore[type-arg]
    markdown, report = out / "comparison.md", out / "comparison.json"
    code = main(
        ["compare", str(baseline), str(candidate), "--max-regression", "0.02",
         "--markdown", str(markdown), "--json", str(report)]
    )  # fmt: skip
    return code, markdown.read_text(encoding="utf-8"), json.loads(report.read_text())


def test_a_planted_regression_fails_the_gate_and_is_named(runs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, markdown, report = gate(runs["baseline"], runs["regressed"], tmp_path)
    assert code == 1
    assert [r["variant"] for r in report["rows"] if r["blocking"]] == ["retrieval"]
    assert markdown.startswith("### ❌ Performance gate failed: 1 significant regression")
    assert "| 🔴 **regression** | `retrieval` |" in markdown
    assert "## meta-orchestrator run: benchmark" in markdown  # the candidate's summary.md follows
    row = next(r for r in report["rows"] if r["variant"] == "retrieval")
    assert row["relative_change"] < -0.05
    for other in report["rows"]:  # same seeds, same code: the other variants did not move at all
        if other["variant"] != "retrieval":
            assert other["difference"] == 0.0 and other["verdict"] == "no significant change"


def test_an_unchanged_repository_passes(runs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, markdown, report = gate(runs["baseline"], runs["again"], tmp_path)
    assert code == 0
    assert markdown.startswith("### ✅ Performance gate passed")
    assert report["counts"] == {"no significant change": 7}
    trials = json.loads((runs["baseline"] / "results.json").read_text())["trials"]
    assert len(trials) == 7 * 1400 * 2  # 1,400 tasks, 2 epochs
