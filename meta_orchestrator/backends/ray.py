"""The Ray backend: trials run as Ray tasks, on this machine or across a cluster.

Where Ray comes from (``execution_backend.ray_settings.address``):

* ``null`` (default): a private Ray started for this run on this machine (``num_cpus`` applies only
  here) and shut down when the run ends. It never attaches to a cluster found through ``RAY_ADDRESS``
  or ``ray start``.
* ``"auto"`` or ``"host:port"``: an existing cluster (``ray start --head`` on the head node,
  ``ray start --address=HEAD:PORT`` on the others). The run disconnects from it at the end and
  leaves it running. The machine running ``meta-orchestrator`` is the driver: it must reach the
  head's GCS port and every node's ports; the run store is written on the driver only.
* If this process already called ``ray.init``, that Ray is used as it is and left running.

Clusters started with ``ray start`` (Ray 2.60, the version tested) require an authentication
token by default, and a driver that names an explicit address does not look for one: set
``RAY_AUTH_MODE=token`` (with the cluster's token in ``~/.ray/auth_token`` or ``RAY_AUTH_TOKEN``)
in the environment of ``meta-orchestrator run``, or start a private test cluster with
``RAY_AUTH_MODE=disabled``. With fractional ``num_cpus_per_trial`` start the nodes with
``--system-config='{"num_workers_soft_limit": N}'`` (N = trials a node runs at once): Ray keeps only
``num_cpus`` idle workers by default and restarts the others, seconds each, after every pause. A
private local Ray gets this setting automatically.

What the workers need to import a trial, when the run connects to a cluster (an address is set):

* **Shipped for you**: the ``meta_orchestrator`` package of the driver, and every top-level module
  (``*.py``) and package (a folder with ``__init__.py``) found directly in each ``python_path``
  folder of the config (``["."]`` by default: the config's folder). They go through the job's
  runtime environment (``py_modules``) and workers import them from there only, never from the
  driver's paths: a loopback cluster behaves like a remote one.
* **Yours to provide on every node**: Python and Ray of the same versions as the driver, the
  package's dependencies (``pydantic``, ``pyyaml``), your variants' own third-party packages
  (or ``runtime_env: {pip: [...]}``), plugins registered through entry points, and for command
  variants the program and its ``cwd`` at the same paths as on the driver.
* ``ray_settings.runtime_env`` is passed to ``ray.init``; if it sets ``py_modules`` itself, nothing
  is shipped automatically. Folders nested in a namespace package (no ``__init__.py``), data files
  next to your modules and anything over Ray's package size limit are not shipped: use
  ``runtime_env: {working_dir: ...}`` for those.

With a private local Ray nothing is shipped: workers run on this machine and import from
``python_path`` as the driver does. If Ray was initialised by the caller, runtime environments are
the caller's business (``ray.init(runtime_env=...)``).

Faults: a worker process that dies mid-trial is retried by Ray up to ``max_task_retries`` times; once
retries are exhausted (or the node, the object or the runtime environment is lost) the trial comes
back as status ``error`` naming the Ray failure, and the run goes on.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.errors import MetaOrchestratorError, MissingDependencyError
from meta_orchestrator.experiment_hub.config import RaySettings
from meta_orchestrator.experiment_hub.execution import TrialRunner
from meta_orchestrator.experiment_hub.scoring import failure_score
from meta_orchestrator.experiment_hub.trial import TrialResult, TrialSpec

log = logging.getLogger("meta_orchestrator.run")

# Longest a single ray.wait blocks, so that Ctrl-C is seen promptly whatever the trial length.
_WAIT_SLICE = 0.5
# Trials shorter than this (running mean, measured on the worker) share Ray tasks: Ray's own cost
# per task (about a millisecond of CPU) would otherwise dominate them.
FAST_TRIAL_SECONDS = 0.005
MAX_BATCH = 16


def import_ray() -> ModuleType:
    """``import ray``, or a ``MissingDependencyError`` that names the pip command."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", "ray", "The ray backend") from exc
    return ray


class RayBackend(Backend):
    """Runs trials as Ray tasks; results come back in completion order through ``ray.wait``.

    A trial is one task, except for very fast trials (under ``FAST_TRIAL_SECONDS`` on average)
    when more trials are in flight than Ray has slots for them: then the trials that would wait
    in Ray's queue anyway go several to a task (``ceil(max_in_flight / slots)``, at most
    ``MAX_BATCH``), run one after the other on the worker and come back together. A worker that
    dies takes its whole task with it: Ray retries the task, then every trial in it is an error.
    ``batch_fast_trials=False`` keeps one trial per task always.
    """

    name = "ray"

    def __init__(
        self,
        runner: TrialRunner,
        max_in_flight: int = 8,
        settings: RaySettings | None = None,
        *,
        batch_fast_trials: bool = True,
    ) -> None:
        super().__init__(max_in_flight)
        self.runner = runner
        self.settings = settings or RaySettings()
        self.batch_fast_trials = batch_fast_trials
        self._ray: ModuleType | None = None
        self._owns_ray = False
        self._task: Any = None
        self._slots = 1
        self._buffer: list[TrialSpec] = []
        self._pending: dict[Any, tuple[list[TrialSpec], float]] = {}
        self._in_tasks = 0
        self._ready: deque[TrialResult] = deque()
        self._mean_latency: float | None = None

    # ---------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        ray = import_ray()
        self._ray = ray
        shipping = False
        if ray.is_initialized():
            self._owns_ray = False
        else:
            shipping = self.settings.address is not None and "py_modules" not in (
                self.settings.runtime_env or {}
            )
            self._init_ray(ray, shipping)
            self._owns_ray = True
        worker_runner = _without_driver_paths(self.runner) if shipping else self.runner
        self._task = ray.remote(trial_function(worker_runner)).options(
            num_cpus=self.settings.num_cpus_per_trial,
            max_retries=self.settings.max_task_retries,
            retry_exceptions=False,
        )
        self._slots = self._count_slots(ray)

    def close(self) -> None:
        self.cancel_all()
        self._task = None
        if self._owns_ray and self._ray is not None:
            self._ray.shutdown()
            self._owns_ray = False

    def describe(self) -> str:
        where = self.settings.address or "local"
        return f"ray({self.max_in_flight}, {where})"

    def _init_ray(self, ray: ModuleType, shipping: bool) -> None:
        address = self.settings.address
        options: dict[str, Any] = {
            "address": address if address is not None else "local",
            "include_dashboard": False,
            "ignore_reinit_error": True,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        if address is None:
            options.update(self._local_resources())
        runtime_env = runtime_env_for(self.settings, self.runner.python_path, shipping)
        if runtime_env:
            options["runtime_env"] = runtime_env
        try:
            ray.init(**options)
        except Exception as exc:
            where = f"the Ray cluster at {address!r}" if address else "a local Ray"
            raise MetaOrchestratorError(
                f"cannot start or reach {where}: {type(exc).__name__}: {exc}. Check "
                "execution_backend.ray_settings (address null starts a private local Ray; "
                "'host:port' needs `ray start --head` running there)."
            ) from exc

    def _local_resources(self) -> dict[str, Any]:
        """``num_cpus`` and, for fractional trials, enough idle workers kept for every slot.

        Ray keeps ``num_cpus`` idle workers and stops the others after a second idle; with
        0.25 CPU per trial, three in four workers would be restarted (seconds each) after every
        pause in dispatching, such as between experiments.
        """
        options: dict[str, Any] = {}
        if self.settings.num_cpus is not None:
            options["num_cpus"] = self.settings.num_cpus
        cpus = self.settings.num_cpus or os.cpu_count() or 1
        workers = min(math.ceil(cpus / self.settings.num_cpus_per_trial), self.max_in_flight)
        if workers > cpus:
            options["_system_config"] = {"num_workers_soft_limit": workers}
        return options

    def _count_slots(self, ray: ModuleType) -> int:
        """How many trials the cluster runs at once; warns when that is below max_in_flight."""
        try:
            cpus = float(ray.cluster_resources().get("CPU", 0.0))
        except Exception:  # informational only
            return self.max_in_flight
        slots = max(1, int(cpus / self.settings.num_cpus_per_trial + 1e-9))
        if slots < self.max_in_flight:
            log.warning(
                "Ray has %g CPUs: with num_cpus_per_trial %g at most %d trials run at once "
                "(max_in_flight %d); the others wait in Ray's queue",
                cpus,
                self.settings.num_cpus_per_trial,
                slots,
                self.max_in_flight,
            )
        return slots

    # ------------------------------------------------------------------------------- trials
    @property
    def in_flight(self) -> int:
        return len(self._buffer) + self._in_tasks + len(self._ready)

    def submit(self, spec: TrialSpec) -> None:
        if self._task is None:
            self.start()
        self._buffer.append(spec)
        self._flush(everything=False)

    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        if not self._ready:
            # Trials submitted since the last wait go out in full batches; a remainder waits for
            # the next results unless nothing else is running.
            self._flush(everything=not self._pending)
            if not self._pending:
                self._flush(everything=True)
            if self._pending:
                self._collect(timeout)
        return self._ready.popleft() if self._ready else None

    def cancel_all(self) -> None:
        if self._ray is not None:
            for ref in self._pending:
                try:
                    self._ray.cancel(ref, force=True)
                except Exception:  # already finished, or Ray is going away
                    pass
        self._buffer.clear()
        self._pending.clear()
        self._in_tasks = 0
        self._ready.clear()

    def _batch_size(self) -> int:
        fast = self._mean_latency is not None and self._mean_latency < FAST_TRIAL_SECONDS
        if not (self.batch_fast_trials and fast):
            return 1
        return max(1, min(MAX_BATCH, math.ceil(self.max_in_flight / self._slots)))

    def _flush(self, *, everything: bool) -> None:
        size = self._batch_size()
        count = len(self._buffer) if everything else len(self._buffer) - len(self._buffer) % size
        now = time.time()
        for start in range(0, count, size):
            chunk = self._buffer[start : start + size]
            self._pending[self._task.remote(chunk)] = (chunk, now)
            self._in_tasks += len(chunk)
        del self._buffer[:count]

    def _collect(self, timeout: float | None) -> None:
        """Take every task already finished; if none, wait for the first one to finish.

        Taking them in one ``ray.wait`` and one ``ray.get`` halves the calls into Ray when
        trials finish faster than the driver loops, which is when the driver's time matters.
        """
        assert self._ray is not None
        refs = list(self._pending)
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        if not ready:
            for slice_ in _slices(timeout):
                ready, _ = self._ray.wait(refs, num_returns=1, timeout=slice_)
                if ready:
                    break
            else:
                return
        chunks = [self._pending.pop(ref) for ref in ready]
        try:
            batches = self._ray.get(ready)
        except Exception:  # one of them failed: take them one by one to name the culprit
            batches = [self._get_one(ref, *chunk) for ref, chunk in zip(ready, chunks, strict=True)]
        for batch in batches:
            self._in_tasks -= len(batch)
            self._ready.extend(batch)
            for result in batch:
                self._observe_latency(result.latency)

    def _get_one(self, ref: Any, specs: list[TrialSpec], submitted_at: float) -> list[TrialResult]:
        assert self._ray is not None
        try:
            return list(self._ray.get(ref))
        except Exception as exc:
            retries, weights = self.settings.max_task_retries, self.runner.weights
            return [crashed_result(spec, submitted_at, exc, retries, weights) for spec in specs]

    def _observe_latency(self, latency: float) -> None:
        previous = self._mean_latency
        self._mean_latency = latency if previous is None else previous + 0.1 * (latency - previous)


def crashed_result(
    spec: TrialSpec,
    submitted_at: float,
    exc: BaseException,
    retries: int,
    weights: Mapping[str, float],
) -> TrialResult:
    """The ``error`` trial recorded when Ray could not run a trial (worker died, node lost ...).

    Scored like any failed trial (``failure_score``), its latency counted from submission.
    """
    ended = time.time()
    kind = type(exc).__name__
    detail = str(exc).strip().splitlines()
    message = (
        f"Ray could not run trial {spec.index} of '{spec.variant}': {kind} after "
        f"{retries} task retr{'y' if retries == 1 else 'ies'}"
        + (f": {detail[0][:500]}" if detail else "")
    )
    return TrialResult(
        run_id=spec.run_id,
        experiment=spec.experiment,
        variant=spec.variant,
        index=spec.index,
        seed=spec.seed,
        status="error",
        started_at=submitted_at,
        ended_at=ended,
        latency=ended - submitted_at,
        metrics={"latency": ended - submitted_at},
        score=failure_score(ended - submitted_at, weights),
        error=message,
        traceback=str(exc)[-20_000:] or None,
        attempts=1 + retries,
    )


def _slices(timeout: float | None) -> Iterator[float]:
    """Yield wait slices of at most ``_WAIT_SLICE`` seconds covering ``timeout`` (None: forever)."""
    if timeout is None:
        while True:
            yield _WAIT_SLICE
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        left = deadline - time.monotonic()
        yield max(0.0, min(left, _WAIT_SLICE))
        if left <= _WAIT_SLICE:
            return


# ------------------------------------------------------------------------------ worker side
def trial_function(runner: TrialRunner) -> Callable[[list[TrialSpec]], list[TrialResult]]:
    """The Ray task body, with the runner captured in its closure.

    Ray exports a remote function to the cluster once per job and each worker process loads it
    once, so the runner is shipped once per worker and its agents are built once per worker. Per
    task only the small ``TrialSpec`` list travels. (Passing ``ray.put(runner)`` as an argument costs
    more per task: Ray resolves a top-level ref on every call and tracks a nested one as a
    borrowed reference — see ``benchmarks/bench_ray_overhead.py``.)
    """

    def run_trials(specs: list[TrialSpec]) -> list[TrialResult]:
        return [runner.run(spec) for spec in specs]

    return run_trials


# ------------------------------------------------------------------------- runtime environment
def runtime_env_for(
    settings: RaySettings, python_path: list[str], shipping: bool
) -> dict[str, Any] | None:
    """The job's runtime environment: the user's, plus the modules to ship when ``shipping``."""
    env = dict(settings.runtime_env or {})
    if shipping:
        env["py_modules"] = shipped_modules(python_path)
    return env or None


def shipped_modules(python_path: list[str]) -> list[str]:
    """``meta_orchestrator`` itself, then each top-level module and package of each folder."""
    import meta_orchestrator

    package = Path(meta_orchestrator.__file__).resolve().parent
    found: dict[str, Path] = {"meta_orchestrator": package}
    for entry in python_path:
        folder = Path(entry)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = _module_name(path)
            if name is not None and name not in found:  # first on the path wins, as in Python
                found[name] = path.resolve()
    return [str(path) for path in found.values()]


def _module_name(path: Path) -> str | None:
    if path.name.startswith((".", "__")):
        return None
    if path.is_file() and path.suffix == ".py" and path.stem.isidentifier():
        return path.stem
    if path.is_dir() and path.name.isidentifier() and (path / "__init__.py").is_file():
        return path.name
    return None


def _without_driver_paths(runner: TrialRunner) -> TrialRunner:
    """A copy of the runner that imports only what was shipped, never the driver's folders."""
    clone = TrialRunner.__new__(TrialRunner)
    clone.__setstate__({**runner.__getstate__(), "python_path": []})
    return clone


__all__ = [
    "RayBackend",
    "crashed_result",
    "import_ray",
    "runtime_env_for",
    "shipped_modules",
    "trial_function",
]
