"""The Ray backend on the session's local Ray: lifecycle, killed workers, and what it ships."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

import meta_orchestrator
from meta_orchestrator.backends import create_backend
from meta_orchestrator.core.config import BackendConfig, RaySettings
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.errors import MissingDependencyError
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import RunStore
from tests.backends.helpers import agent, load, rows, runner_for, simulated, spec, suite
from tests.backends.helpers import write_agents as _write_agents


def test_missing_ray_names_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" now raises ImportError
    runner = runner_for(tmp_path, {"a": simulated(0.5)})
    backend = create_backend(runner, BackendConfig(type="ray"))
    with pytest.raises(MissingDependencyError, match=r"pip install 'meta-orchestrator\[ray\]'"):
        backend.start()


def test_uses_an_initialised_ray_and_leaves_it_running(
    ray_local: ModuleType, tmp_path: Path
) -> None:
    runner = runner_for(tmp_path, {"a": simulated(0.5)})
    backend = create_backend(runner, BackendConfig(type="ray", max_in_flight=2))
    with backend:
        backend.submit(spec("a", 0))
        result = backend.next_result(timeout=30)
    assert result is not None and result.ok
    assert result.node_id == ray_local.get_runtime_context().get_node_id()
    assert ray_local.is_initialized()


# With 4 in flight one actor runs all four trials at once and a kill takes all of them: each dies_once trial kills
# once, so its neighbours may be killed twice and need two retries. One task retry names the error.
KILL_CASES = {"tasks": (1, "WorkerCrashedError", "1 task retry"), "actors": (2, "Actor", "2 task")}


@pytest.mark.parametrize("executor", list(KILL_CASES))
def test_killed_workers_are_retried_or_recorded_and_the_run_completes(
    ray_local: ModuleType, tmp_path: Path, executor: str
) -> None:
    retries, crash, retried = KILL_CASES[executor]
    folder = _write_agents(tmp_path / "agents")
    markers = tmp_path / "markers"
    markers.mkdir()
    config = suite(
        folder,
        {
            "fine": simulated(0.5),
            "dies_once": agent("crash_once", marker_dir=str(markers)),
            "dies_always": agent("crash_always"),
        },
        [
            {"name": "faults", "variants": ["fine", "dies_once"], "trials_per_variant": 2},
            {"name": "fatal", "variants": ["dies_always"], "trials_per_variant": 1},
        ],
        {
            "type": "ray",
            "max_in_flight": 4,
            "ray_settings": {"max_task_retries": retries, "executor": executor},
        },
    )
    db = tmp_path / "runs.db"
    run_experiment_suite(load(config, folder), db_path=db, results_dir=tmp_path / "out")
    assert rows(db, "SELECT status FROM runs") == [("completed",)]
    trials = rows(db, "SELECT experiment, variant, status, error FROM trials ORDER BY seq")
    assert len(trials) == 5
    survived = [t for t in trials if t[1] != "dies_always"]
    assert all(status == "ok" for _, _, status, _ in survived)
    assert len(list(markers.iterdir())) == 2  # each dies_once trial really died once
    ((_, _, status, error),) = [t for t in trials if t[1] == "dies_always"]
    assert status == "error"
    assert "Ray could not run trial 0 of 'dies_always'" in error
    assert crash in error and retried in error


# ------------------------------------------------------------------------- runtime environment
def test_shipped_modules_are_the_package_and_each_top_level_module(tmp_path: Path) -> None:
    from meta_orchestrator.backends.ray import shipped_modules

    (tmp_path / "my_agents.py").write_text("", encoding="utf-8")
    (tmp_path / "helpers.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "results").mkdir()  # no __init__.py: not a package
    (tmp_path / "runs.db").write_text("", encoding="utf-8")
    (tmp_path / "not-a-name.py").write_text("", encoding="utf-8")
    package = Path(meta_orchestrator.__file__).resolve().parent
    assert shipped_modules([str(tmp_path), "/does/not/exist"]) == [
        str(package),
        str(tmp_path / "helpers.py"),
        str(tmp_path / "my_agents.py"),
        str(tmp_path / "pkg"),
    ]


def test_user_runtime_env_is_kept_and_extended_when_shipping(tmp_path: Path) -> None:
    from meta_orchestrator.backends.ray import runtime_env_for

    settings = RaySettings(address="auto", runtime_env={"env_vars": {"API": "x"}})
    env = runtime_env_for(settings, [str(tmp_path)], shipping=True)
    assert env is not None and env["env_vars"] == {"API": "x"}
    assert env["py_modules"][0].endswith("meta_orchestrator")
    assert runtime_env_for(RaySettings(), [str(tmp_path)], shipping=False) is None


def test_fast_trials_share_tasks_and_each_comes_back_once(
    ray_local: ModuleType, tmp_path: Path
) -> None:
    from meta_orchestrator.backends.ray import RayBackend
    from meta_orchestrator.driver import drive
    from meta_orchestrator.orchestrators import StandardOrchestrator

    config = load(
        suite(
            tmp_path,
            {"a": simulated(0.5), "b": simulated(0.7)},
            [{"name": "e", "variants": ["a", "b"], "trials_per_variant": 150}],
        ),
        tmp_path,
    )
    runner = TrialRunner.from_config(config)
    # The session Ray has 16 slots of 0.25 CPU: 64 in flight means 4 trials per task.
    backend = RayBackend(runner, max_in_flight=64, settings=RaySettings())
    tasks: list[int] = []
    with backend:
        backend._task = _Counting(backend._task, tasks)
        backend._mean_latency = 0.0  # as if fast trials had been seen: batch from the start
        orchestrator = StandardOrchestrator(config.experiments[0], seed=0)
        results = list(drive(orchestrator, backend, run_id="r", run_seed=0))
    assert sorted(r.index for r in results) == list(range(300))
    assert all(r.ok for r in results)
    assert tasks[:16] == [4] * 16  # the first 64 trials go out as 16 tasks
    assert max(tasks) == 4 and sum(tasks) == 300


class _Counting:
    """Wraps the remote function to record how many trials each task carries."""

    def __init__(self, task: object, sizes: list[int]) -> None:
        self.task = task
        self.sizes = sizes

    def remote(self, specs: list[object]) -> object:
        self.sizes.append(len(specs))
        return self.task.remote(specs)  # type: ignore[attr-defined]


def test_private_ray_keeps_an_idle_worker_per_slot(tmp_path: Path) -> None:
    from meta_orchestrator.backends.ray import RayBackend

    runner = runner_for(tmp_path, {"a": simulated(0.5)})
    quarter = RaySettings(num_cpus=8, num_cpus_per_trial=0.25)
    assert RayBackend(runner, 32, quarter)._local_resources() == {
        "num_cpus": 8,
        "_system_config": {"num_workers_soft_limit": 32},
    }
    whole = RaySettings(num_cpus=8, num_cpus_per_trial=1.0)
    assert RayBackend(runner, 32, whole)._local_resources() == {"num_cpus": 8}


# --------------------------------------------------------------------------------- actor pool
def test_actor_pool_is_shaped_to_fit_the_nodes() -> None:
    from meta_orchestrator.backends.ray import pool_shape

    assert pool_shape(32, 16, 0.25, [8.0]) == (16, 2)
    assert pool_shape(32, 4, 0.25, [8.0]) == (4, 8)
    assert pool_shape(32, 16, 0.25, [2.0]) == (8, 1)  # an actor cannot outgrow its node
    assert pool_shape(4, 16, 0.5, [1.0, 1.0]) == (2, 2)  # two one-CPU nodes: one actor each
    assert pool_shape(2, 16, 0.25, []) == (2, 1)  # nodes unknown: max_in_flight decides


def test_unknown_executor_lists_the_choices(tmp_path: Path) -> None:
    from meta_orchestrator.errors import ConfigError

    config = suite(
        tmp_path,
        {"a": simulated(0.5)},
        [{"name": "e", "variants": ["a"], "trials_per_variant": 1}],
        {"type": "ray", "ray_settings": {"executor": "processes", "trials_per_actor": 0}},
    )
    with pytest.raises(ConfigError) as caught:
        load(config, tmp_path)
    message = str(caught.value)
    assert "execution_backend.ray_settings.executor" in message
    assert "'tasks'" in message and "'actors'" in message
    assert "execution_backend.ray_settings.trials_per_actor" in message


def test_actor_pool_is_released_on_close(ray_local: ModuleType, tmp_path: Path) -> None:
    settings = RaySettings(executor="actors", trials_per_actor=2)
    runner = runner_for(tmp_path, {"a": simulated(0.5)})
    backend = create_backend(
        runner, BackendConfig(type="ray", max_in_flight=4, ray_settings=settings)
    )
    with backend:
        assert backend.describe() == "ray(4, local, actors)"
        for i in range(4):
            backend.submit(spec("a", i))
        results = [backend.next_result(timeout=30) for _ in range(4)]
        actors = list(backend._pool.actors)  # type: ignore[attr-defined]
    assert len(actors) == 2 and all(r is not None and r.ok for r in results)
    # ray.kill is asynchronous: a call sent at once can still reach the actor before the kill
    # does, so the test asks again until the actor answers dead (or 30 s pass, and it fails).
    deadline = time.monotonic() + 30
    with pytest.raises(ray_local.exceptions.RayActorError):
        while time.monotonic() < deadline:
            ray_local.get(actors[0].run.remote([]), timeout=30)
            time.sleep(0.05)


def test_modules_register_agents_on_every_ray_worker(ray_local: ModuleType, tmp_path: Path) -> None:
    """A Ray worker is a fresh process: the agent named ``ray_registered_q`` exists there only
    because the runner imports the config's ``modules`` before building agents."""
    (tmp_path / "ray_registered_agents_q.py").write_text(
        "import os\n\nfrom meta_orchestrator import register\n\n"
        "@register('ray_registered_q')\n"
        "def run(context):\n    return {'success': True, 'pid': float(os.getpid())}\n",
        encoding="utf-8",
    )
    config = suite(
        tmp_path,
        {"r": {"type": "python", "agent": "ray_registered_q"}},
        [{"name": "e", "variants": ["r"], "trials_per_variant": 8}],
        backend={"type": "ray", "max_in_flight": 4},
        modules=["ray_registered_agents_q"],
        custom_metrics=["pid"],
    )
    db = tmp_path / "runs.db"
    run_experiment_suite(config, db_path=db, results_dir=tmp_path / "results")
    statuses = rows(db, "SELECT status, COUNT(*) FROM trials GROUP BY status")
    assert statuses == [("ok", 8)], rows(db, "SELECT error FROM trials")
    with RunStore(db) as store:
        (run,) = store.list_runs()
        pids = {trial.metrics["pid"] for _, trial in store.iter_trials(run.id)}
    assert os.getpid() not in pids  # built and run in Ray's worker processes, not here
