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

Executors (``ray_settings.executor``):

* ``"tasks"`` (default): each trial is a Ray task (see ``RayBackend``). ``cancel_all`` drops the
  pending trials without ``ray.cancel`` (which can abort the driver, see ``cancel_all``); the
  workers end with the run's Ray (``close``), and what their command programs started is killed
  when the run ends, through the run's process ledger (``core.processes``).
* ``"actors"``: a pool of threaded actors (``ActorPool``), each holding the runner once and running
  up to ``trials_per_actor`` trials at once on threads, with ``num_cpus_per_trial x concurrency``
  CPUs. Trials go to the least-loaded actor. Fewer processes compete for the CPU and Ray does less
  per trial, which matters when many I/O-bound trials share few cores. A killed actor is restarted
  and the trials it was running are retried (``max_task_retries``), all of them: Ray cannot tell
  which trial killed the process, so a trial that kills its worker also spends its neighbours'
  retries. ``cancel_all`` drops every result, but trials already sent to an actor go on until
  they return or hit the trial timeout (``trial.timeout_seconds``), holding their actor's slot
  meanwhile. ``close`` kills the pool's actors. The pool's processes start with each run (about
  half a second per actor on a busy 2-core machine, before the first trial), where tasks reuse
  the idle workers a running Ray keeps: short runs on a warm cluster favour tasks, long runs and
  runs that start their own Ray favour actors (``benchmarks/bench_parallel_efficiency.py``).
"""

from __future__ import annotations

import contextlib
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
from meta_orchestrator.backends.local import LocalBackend
from meta_orchestrator.core.config import RaySettings
from meta_orchestrator.core.execution import TrialRunner, failed_trial
from meta_orchestrator.core.trial import TrialResult, TrialSpec
from meta_orchestrator.errors import BackendError, MissingDependencyError

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
    """Runs trials as Ray tasks or on an actor pool; results come back through ``ray.wait``.

    A trial is one task, except for very fast trials (under ``FAST_TRIAL_SECONDS`` on average)
    when more trials are in flight than Ray has slots for them: then the trials that would wait
    in Ray's queue anyway go several to a task (``ceil(max_in_flight / slots)``, at most
    ``MAX_BATCH``), run one after the other on the worker and come back together. A worker that
    dies takes its whole task with it: Ray retries the task, then every trial in it is an error.
    ``batch_fast_trials=False`` keeps one trial per task always. With ``executor: actors`` the
    same batches go to the pool as actor calls instead of tasks.
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
        self._pool: ActorPool | None = None
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
            try:
                self._init_ray(ray, shipping)
            except BaseException:  # Ctrl-C or SIGTERM while Ray starts: stop what it started
                with contextlib.suppress(Exception):
                    ray.shutdown()  # safe when nothing started
                raise
            self._owns_ray = True
        worker_runner = _without_driver_paths(self.runner) if shipping else self.runner
        self._slots = self._count_slots(ray)
        if self.settings.executor == "actors":
            self._pool = ActorPool(ray, worker_runner, self.settings, self.max_in_flight)
        else:
            self._task = ray.remote(trial_function(worker_runner)).options(
                num_cpus=self.settings.num_cpus_per_trial,
                max_retries=self.settings.max_task_retries,
                retry_exceptions=False,
            )

    def close(self) -> None:
        self.cancel_all()
        self._task = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._owns_ray and self._ray is not None:
            self._ray.shutdown()
            self._owns_ray = False

    def describe(self) -> str:
        where = self.settings.address or "local"
        executor = "" if self.settings.executor == "tasks" else ", actors"
        return f"ray({self.max_in_flight}, {where}{executor})"

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
            raise BackendError(
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
        if self._task is None and self._pool is None:
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
        """Drop every pending trial; running tasks are left to finish, never ``ray.cancel``-ed.

        ``ray.cancel`` on a task whose reply is arriving at that moment aborts the driver inside
        Ray (``Check failed: it != submissible_tasks_.end()``, ray-project/ray#54846 and the
        fixes after it): the process dies with exit code 1, unrecorded, leaving its Ray behind.
        The race is rare, but a Ctrl-C of 30 ms trials met it in CI. So nothing is cancelled
        here: the results of running tasks are ignored, each task still ends at its
        trial timeout, and ``close`` ends them all — ``ray.shutdown`` stops a private Ray's
        workers, and a driver leaving a cluster ends its job, whose workers Ray kills; the
        run's process ledger then kills whatever their programs started.
        """
        if self._pool is not None:
            self._pool.cancel_all()
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
            ref = self._pool.submit(chunk) if self._pool is not None else self._task.remote(chunk)
            self._pending[ref] = (chunk, now)
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
        if self._pool is not None:
            self._pool.release(ready)
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
            retries = self.settings.max_task_retries
            return [
                crashed_result(
                    spec, submitted_at, exc, retries, self.runner.weights_for(spec.experiment)
                )
                for spec in specs
            ]

    def _observe_latency(self, latency: float) -> None:
        previous = self._mean_latency
        self._mean_latency = latency if previous is None else previous + 0.1 * (latency - previous)


class ActorPool:
    """A fixed pool of threaded actors running trials; each call goes to the least-loaded actor.

    Shape (``pool_shape``): up to ``trials_per_actor`` trials per actor, as many actors as
    ``max_in_flight`` needs and the nodes fit, spread over the nodes. Each actor is restarted when
    its process dies (``max_restarts=-1``); its calls are retried ``max_task_retries`` times.
    """

    def __init__(
        self, ray: ModuleType, runner: TrialRunner, settings: RaySettings, max_in_flight: int
    ) -> None:
        self._ray = ray
        per_trial = settings.num_cpus_per_trial
        self.concurrency, size = pool_shape(
            max_in_flight, settings.trials_per_actor, per_trial, _node_cpus(ray)
        )
        actor = ray.remote(TrialActor).options(
            num_cpus=per_trial * self.concurrency,
            max_concurrency=self.concurrency,
            max_restarts=-1,
            max_task_retries=settings.max_task_retries,
            scheduling_strategy="SPREAD",
        )
        self.actors = [actor.remote(runner) for _ in range(size)]
        self._load = [0] * size
        self._owner: dict[Any, tuple[int, int]] = {}

    def submit(self, specs: list[TrialSpec]) -> Any:
        """Send ``specs`` (run one after the other) to the least-loaded actor; its ``ObjectRef``."""
        slot = min(range(len(self._load)), key=self._load.__getitem__)
        ref = self.actors[slot].run.remote(specs)
        self._load[slot] += len(specs)
        self._owner[ref] = (slot, len(specs))
        return ref

    def release(self, refs: list[Any]) -> None:
        """Forget finished calls, freeing their actors' load."""
        for ref in refs:
            slot, count = self._owner.pop(ref, (0, 0))
            self._load[slot] -= count

    def cancel_all(self) -> None:
        """Forget every call, without ``ray.cancel`` (see ``RayBackend.cancel_all``): queued and
        running calls finish on their actors, and ``close`` kills the actors."""
        self._owner.clear()
        self._load = [0] * len(self._load)

    def close(self) -> None:
        for actor in self.actors:
            try:
                self._ray.kill(actor, no_restart=True)
            except Exception:  # already dead, or Ray is going away
                pass
        self.actors = []


def pool_shape(
    max_in_flight: int, trials_per_actor: int, per_trial: float, node_cpus: list[float]
) -> tuple[int, int]:
    """``(concurrency, actors)``: trials per actor and actor count that fit on the nodes.

    An actor needs ``per_trial x concurrency`` CPUs on one node, so concurrency is capped by the
    largest node; the count stops at what ``max_in_flight`` needs or what the nodes hold.
    """
    node_slots = [int(cpus / per_trial + 1e-9) for cpus in node_cpus] or [max_in_flight]
    concurrency = max(1, min(trials_per_actor, max_in_flight, max(node_slots)))
    fits = sum(slots // concurrency for slots in node_slots)
    return concurrency, max(1, min(math.ceil(max_in_flight / concurrency), fits))


def _node_cpus(ray: ModuleType) -> list[float]:
    try:
        return [float(n["Resources"].get("CPU", 0.0)) for n in ray.nodes() if n.get("Alive")]
    except Exception:  # informational only: then the pool is shaped by max_in_flight
        return []


class TrialActor:
    """The actor body: holds the runner (and the agents it builds) for the actor's lifetime.

    ``TrialRunner`` builds agents under a lock and each trial's timeout guard has its own thread,
    so one instance serves ``max_concurrency`` calls on the actor's threads at once.
    """

    def __init__(self, runner: TrialRunner) -> None:
        self.runner = runner

    def run(self, specs: list[TrialSpec]) -> list[TrialResult]:
        return [self.runner.run(spec) for spec in specs]


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
    return failed_trial(
        spec,
        status="error",
        started=submitted_at,
        latency=ended - submitted_at,
        error=message,
        weights=weights,
        traceback=str(exc)[-20_000:] or None,
        attempts=1 + retries,
        error_kind="worker_lost",
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

    lanes: list[LocalBackend] = []  # empty when shipped; the worker's own once it runs a trial

    def run_trials(specs: list[TrialSpec]) -> list[TrialResult]:
        if not runner.needs_watchdog:
            return [runner.run(spec) for spec in specs]
        # A timeout is watched as on the local backend: the task's thread reads the deadline the
        # worker's lane thread writes, one hand-off per task instead of one per trial, and each
        # trial's latency is the agent's own time, so fast trials are seen as fast and batched.
        if not lanes:
            lanes.append(LocalBackend(runner))
        lane = lanes[0]
        for spec in specs:
            lane.submit(spec)
        results = []
        while lane.in_flight:
            result = lane.next_result()
            assert result is not None  # next_result(None) waits for it
            results.append(result)
        return results

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
    "ActorPool",
    "RayBackend",
    "TrialActor",
    "crashed_result",
    "import_ray",
    "pool_shape",
    "runtime_env_for",
    "shipped_modules",
    "trial_function",
]
