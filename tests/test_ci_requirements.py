"""Under ``CI=true`` a missing optional dependency fails the tests that need it instead of skipping
them (Ray, Streamlit, Playwright, the ``ray`` command, Chromium, the local model): CI installs all
of them, so a skip there would hide that a whole part of the product went untested."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import import_or_skip, skip_or_fail, which_or_skip

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "call",
    [
        lambda: import_or_skip("no_such_module_q", "needs no_such_module_q"),
        lambda: which_or_skip("no-such-command-q", "needs no-such-command-q"),
        lambda: skip_or_fail("needs something"),
    ],
    ids=["module", "command", "reason"],
)
def test_missing_dependencies_skip_locally_and_fail_under_ci(call, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        call()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"required under CI=true"):
        call()


def test_present_dependencies_are_returned(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CI", "true")
    assert import_or_skip("json", "x").dumps([]) == "[]"
    assert Path(which_or_skip("sh", "x")).name == "sh"


def test_the_ray_tests_fail_under_ci_without_ray(tmp_path: Path) -> None:
    """With Ray made unimportable, the Ray tests skip, and under CI=true they fail."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        textwrap.dedent(
            """
            import sys
            class Block:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] == "ray":
                        raise ImportError(f"blocked: {name}")
            sys.meta_path.insert(0, Block())
            """
        )
    )
    tests = ["tests/backends/test_ray.py"]
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    env_base = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    for ci, expected in (("false", 0), ("true", 1)):
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
            env={**env_base, "CI": ci},
        )  # fmt: skip
        assert done.returncode in ((0, 5) if expected == 0 else (1, 2)), done.stdout[-2000:]
        if ci == "true":
            assert "required under CI=true" in done.stdout
        else:
            assert "skipped" in done.stdout
