"""Where agents come from: ``@register``, the entry-point group, and a user's own module."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator.core import registry
from meta_orchestrator.core.registry import ENTRY_POINT_GROUP, register, resolve_agent
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import RunStore
from tests.helpers import FIXTURES, Ran, RunSuite, python_agent, standard, suite


@pytest.fixture
def private_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, registry.Registered]:
    """Registrations made by a test vanish with it."""
    registry.registered()  # built-ins first, so the copy has them
    copy = dict(registry._REGISTRY)
    monkeypatch.setattr(registry, "_REGISTRY", copy)
    return copy


def test_register_makes_a_name_usable_in_a_config(
    private_registry: dict, run_suite: RunSuite
) -> None:
    @register("always_right", description="Never wrong, never expensive.")
    def always_right(context: dict[str, Any], cost: float = 0.0) -> dict[str, Any]:
        return {"success": True, "cost": cost}

    entry = private_registry["always_right"]
    assert entry.obj is always_right
    assert entry.description == "Never wrong, never expensive."
    assert entry.import_path.endswith(
        ":test_register_makes_a_name_usable_in_a_config.<locals>.always_right"
    )

    config = suite(
        {"right": python_agent("always_right", cost=0.25)}, [standard("e", ["right"], 2)]
    )
    trials = run_suite(config).trials()
    assert [(t.status, t.metrics["cost"]) for t in trials] == [("ok", 0.25), ("ok", 0.25)]


def test_a_name_cannot_be_taken_twice(private_registry: dict) -> None:
    @register("taken_once")
    def first(context: dict[str, Any]) -> dict[str, Any]:
        return {"success": True}

    def second(context: dict[str, Any]) -> dict[str, Any]:
        return {"success": False}

    with pytest.raises(ValueError, match="'taken_once' is already registered by .*first"):
        register("taken_once")(second)
    assert register("taken_once")(first) is first  # re-registering the same object is fine


def test_builtins_are_registered() -> None:
    names = registry.registered()
    assert {"noop", "planner", "retrieval", "simulated"} <= set(names)
    assert names["noop"].import_path == ("meta_orchestrator.core.variants.examples:noop_agent")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("faulty_agents:", "'faulty_agents:' is not of the form 'package.module:attr'"),
        ("faulty_agents:HANG_SECONDS", "'faulty_agents:HANG_SECONDS' is not callable"),
        ("faulty_agents:nothing.here", "module 'faulty_agents' has no attribute 'nothing.here'"),
    ],
)
def test_import_path_errors(monkeypatch: pytest.MonkeyPatch, ref: str, message: str) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_agent(ref)


def _plugin(tmp_path: Path, module: str, body: str, entry: str) -> Path:
    """A minimal installed distribution: a module plus a dist-info with entry_points.txt."""
    site = tmp_path / "site"
    dist_info = site / f"{module}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(body))
    return site


def test_entry_point_plugins_are_found(
    private_registry: dict,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    run_suite: RunSuite,
) -> None:
    site = _plugin(
        tmp_path,
        "mo_plugin_demo",
        """
        def shouting_agent(context, volume=1):
            return {"success": True, "cost": 0.001 * volume}
        """,
        "shouting = mo_plugin_demo:shouting_agent",
    )
    monkeypatch.syspath_prepend(str(site))

    entries = registry.registered()
    assert entries["shouting"].import_path == "mo_plugin_demo:shouting_agent"
    assert entries["shouting"].description == "plugin"
    assert resolve_agent("shouting").__name__ == "shouting_agent"

    config = suite({"loud": python_agent("shouting", volume=3)}, [standard("e", ["loud"], 1)])
    (trial,) = run_suite(config).trials()
    assert trial.status == "ok" and trial.metrics["cost"] == pytest.approx(0.003)


def test_a_broken_plugin_is_a_config_error_naming_it(
    private_registry: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = _plugin(
        tmp_path,
        "mo_plugin_broken",
        "raise ImportError('needs a GPU driver')\n",
        "broken_one = mo_plugin_broken:agent",
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(ConfigError) as caught:
        resolve_agent("broken_one")
    assert "the plugin variant 'broken_one' (mo_plugin_broken:agent) failed to load" in str(
        caught.value
    )
    assert "needs a GPU driver" in str(caught.value)


def test_user_module_outside_the_package_via_python_path(tmp_path: Path) -> None:
    """A user keeps agents in their own folder next to the config; nothing is installed."""
    project = tmp_path / "my_project"
    shutil.copytree(FIXTURES / "user_agents", project / "agents")
    config = {
        "name": "user-module",
        "seed": 3,
        "python_path": ["agents"],  # relative to the config file, not to the working directory
        "variants": {
            "keyword_low": {"type": "python", "agent": "acme_agents:KeywordAgent",
                            "params": {"skill": 0.0}},
            "keyword_high": {"type": "python", "agent": "acme_agents:KeywordAgent",
                             "params": {"skill": 1.0, "price": 0.5}},
            "echo": {"type": "python", "agent": "acme_agents:echo_agent",
                     "params": {"bonus": 2.5}},
        },
        "custom_metrics": ["keywords"],
        "scoring_weights": {"success": 1.0, "keywords": 0.1},
        "experiments": [standard("own", ["keyword_low", "keyword_high", "echo"], 3)],
    }  # fmt: skip
    path = project / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    db = tmp_path / "store.db"
    run_id = run_experiment_suite(str(path), db_path=db, results_dir=tmp_path / "results")
    ran = Ran(run_id, db, tmp_path / "results")
    trials = {v: [t for t in ran.trials() if t.variant == v] for v in config["variants"]}

    assert all(t.status == "ok" for ts in trials.values() for t in ts), ran.trials()
    # One class, two params sets, two variants that behave differently.
    assert [t.score for t in trials["keyword_low"]] == [pytest.approx(0.3)] * 3
    assert [t.score for t in trials["keyword_high"]] == [pytest.approx(1.3)] * 3
    assert {t.metrics["cost"] for t in trials["keyword_high"]} == {0.5}
    # A function variant receives the trial context and its params.
    for trial in trials["echo"]:
        assert trial.metrics["seen_index"] == trial.index
        assert trial.metrics["seen_seed"] == trial.seed
        assert trial.metrics["bonus"] == 2.5

    # The CLI, started from another directory in a fresh process, finds the module the same way
    # (python_path is relative to the config file) and, with no storage keys in the config, puts
    # the store in ./results of the working directory, where `runs` and `report` look for it.
    done = subprocess.run(
        [sys.executable, "-m", "meta_orchestrator.cli", "run", "-c", str(path), "--quiet"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    store = elsewhere / "results" / "meta_orchestrator.db"
    with RunStore(store) as reader:
        record = reader.get_run(done.stdout.strip().splitlines()[-1])
        stored = [t for _, t in reader.iter_trials(record.id)]
    assert record.status == "completed"
    assert [t.status for t in stored] == ["ok"] * 9
    assert not (project / "results").exists()
