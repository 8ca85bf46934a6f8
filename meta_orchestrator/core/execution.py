"""Running one trial: build the agent once, call it with a timeout, validate, score, never raise.

``TrialRunner`` is what every backend executes; it is picklable (agents are rebuilt lazily in each
process) so the same object runs inline, in a thread pool or on a Ray worker on another machine.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from meta_orchestrator.core.config import SuiteConfig, VariantConfig
from meta_orchestrator.core.kinds import Agent, TrialTimeout, build_agent, kind_of
from meta_orchestrator.core.paths import ensure_on_sys_path
from meta_orchestrator.core.scoring import (
    MalformedResult,
    failure_score,
    validate_metrics,
    weighted_score,
)
from meta_orchestrator.core.trial import TrialResult, TrialSpec, TrialStatus


class TrialRunner:
    """Runs any trial of one run. Holds configs only; agents are built on first use per process."""

    def __init__(
        self,
        variants: Mapping[str, VariantConfig],
        weights: Mapping[str, float],
        *,
        timeout: float | None = None,
        retries: int = 0,
        base_dir: Path | None = None,
        python_path: list[str] | None = None,
    ) -> None:
        self.variants = dict(variants)
        self.weights = dict(weights)
        self.timeout = timeout
        self.retries = retries
        self.base_dir = base_dir or Path.cwd()
        self.python_path = list(python_path or [])
        self._agents: dict[str, Agent] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: SuiteConfig) -> TrialRunner:
        return cls(
            config.variants,
            config.scoring_weights,
            timeout=config.trial.timeout_seconds,
            retries=config.trial.retries,
            base_dir=config.base_dir,
            python_path=config.resolved_python_path(),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_agents"] = {}
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __call__(self, spec: TrialSpec) -> TrialResult:
        return self.run(spec)

    def run(self, spec: TrialSpec) -> TrialResult:
        """Run the trial, retrying failures up to ``retries`` times. Never raises for agent faults."""
        result = self._attempt(spec)
        attempts = 1
        while not result.ok and attempts <= self.retries:
            attempts += 1
            result = self._attempt(spec)
        result.attempts = attempts
        return result

    def _attempt(self, spec: TrialSpec) -> TrialResult:
        started = time.time()
        t0 = time.perf_counter()
        status = "ok"
        metrics: dict[str, float] = {}
        score: float | None = None
        error: str | None = None
        trace: str | None = None
        try:
            agent = self._agent(spec.variant)
            # Some kinds enforce the timeout themselves: a command kills its program.
            own = kind_of(self.variants[spec.variant]).enforces_timeout
            timeout = None if own else self.timeout
            raw = call_with_timeout(agent, spec.agent_context(), timeout)
            latency = time.perf_counter() - t0
            metrics = validate_metrics(spec.variant, raw, latency, self.weights)
            score = weighted_score(metrics, self.weights)
        except TrialTimeout as exc:
            status, error = "timeout", str(exc)
        except MalformedResult as exc:
            status, error = "error", str(exc)
        except (Exception, SystemExit) as exc:  # an agent's failure (even sys.exit) is data
            status = "error"
            error = f"variant '{spec.variant}' raised {type(exc).__name__}: {exc}"
            trace = traceback.format_exc()
        if status != "ok":
            return failed_trial(
                spec,
                status=status,
                started=started,
                latency=time.perf_counter() - t0,
                error=error,
                traceback=trace,
                weights=self.weights,
                node_id=current_node_id(),
            )
        return TrialResult.for_spec(
            spec,
            status=status,
            started_at=started,
            ended_at=started + latency,
            latency=latency,
            metrics=metrics,
            score=score,
            error=error,
            traceback=trace,
            node_id=current_node_id(),
        )

    def _agent(self, name: str) -> Agent:
        agent = self._agents.get(name)
        if agent is None:
            with self._lock:
                agent = self._agents.get(name)
                if agent is None:
                    ensure_on_sys_path(self.python_path)
                    agent = build_agent(self.variants[name], self.base_dir, self.timeout)
                    self._agents[name] = agent
        return agent


def failed_trial(
    spec: TrialSpec,
    *,
    status: TrialStatus,
    started: float,
    latency: float,
    error: str,
    weights: Mapping[str, float],
    traceback: str | None = None,
    attempts: int = 1,
    node_id: str | None = None,
) -> TrialResult:
    """The record of a trial that failed, wherever it failed (the runner, a thread, a Ray worker).

    It is scored like every failed trial (``failure_score``), so each backend's failures count alike.
    """
    return TrialResult.for_spec(
        spec,
        status=status,
        started_at=started,
        ended_at=started + latency,
        latency=latency,
        metrics={"latency": latency},
        score=failure_score(latency, weights),
        error=error,
        traceback=traceback,
        attempts=attempts,
        node_id=node_id,
    )


# ------------------------------------------------------------------------------------ timeouts
class _Worker(threading.Thread):
    """A reusable daemon thread: a hung agent keeps its worker, and never blocks interpreter exit.

    Jobs and outcomes travel through the worker's own two queues (a C ``SimpleQueue`` hand-off is
    about twice as fast as an ``Event`` pair), so an abandoned worker's late outcome reaches nobody.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True, name="trial-watchdog")
        self.jobs: queue.SimpleQueue[tuple[Callable[..., Any], Any]] = queue.SimpleQueue()
        self.outcomes: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()
        self.start()

    def run(self) -> None:
        while True:
            fn, arg = self.jobs.get()
            try:
                outcome: tuple[Any, BaseException | None] = (fn(arg), None)
            except BaseException as exc:  # handed to the waiting caller
                outcome = (None, exc)
            self.outcomes.put(outcome)


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def call_with_timeout(fn: Agent, arg: dict[str, Any], timeout: float | None) -> Any:
    """Call ``fn(arg)``; raise ``TrialTimeout`` after ``timeout`` seconds and abandon the call.

    Python cannot kill a thread: a hung agent's thread is left running (as a daemon) and the run goes
    on. Command agents are killed by their own subprocess timeout.
    """
    if timeout is None:
        return fn(arg)
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is None:
        worker = _Worker()
    worker.jobs.put((fn, arg))
    try:
        result, error = worker.outcomes.get(timeout=timeout)
    except queue.Empty:
        raise TrialTimeout(f"trial ran past its timeout of {timeout}s") from None
    # Only a worker whose outcome was collected is reused (not one left behind by Ctrl-C).
    with _idle_lock:
        _idle.append(worker)
    if error is not None:
        raise error
    return result


_node_id: str | None = None


def current_node_id() -> str:
    """The Ray node id when running inside Ray, else the host name."""
    global _node_id
    if "ray" in sys.modules:
        try:
            import ray

            if ray.is_initialized():
                return ray.get_runtime_context().get_node_id()
        except Exception:  # not in a Ray worker after all
            pass
    if _node_id is None:
        _node_id = socket.gethostname()
    return _node_id
