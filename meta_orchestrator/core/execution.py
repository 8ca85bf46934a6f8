"""Running one trial: build the agent once, call it with a timeout, judge, validate, score, never raise.

``TrialRunner`` is what every backend executes; it is picklable (agents and scorers are rebuilt
lazily in each process) so the same object runs inline, in a thread pool or on a Ray worker on
another machine. On a dataset, the experiment's scorers judge the agent's ``output`` against the
trial's sample here, on the worker, so scoring runs as parallel as the agents do.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meta_orchestrator.core.config import ScorerConfig, SuiteConfig, VariantConfig
from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.core.kinds import Agent, TrialTimeout, build_agent, kind_of
from meta_orchestrator.core.paths import ensure_on_sys_path
from meta_orchestrator.core.registry import import_modules
from meta_orchestrator.core.reply import (
    DEFAULT_MAX_OUTPUT_BYTES,
    exception_facts,
    parse_reply,
    truncate_output,
)
from meta_orchestrator.core.scorers import Score, ScoreFn, ScorerError, build_scorer, label
from meta_orchestrator.core.scorers import scorer_kind as _scorer_kind
from meta_orchestrator.core.scoring import (
    MalformedResult,
    failure_score,
    trial_score,
    validate_metrics,
)
from meta_orchestrator.core.trial import TrialResult, TrialSpec, TrialStatus


@dataclass(frozen=True)
class ExperimentScoring:
    """How one experiment's trials are scored: its weights and its scorers (configs only)."""

    weights: dict[str, float]
    scorers: tuple[ScorerConfig, ...] = ()  # type: ignore[valid-type]


@dataclass(frozen=True)
class _BuiltScorer:
    name: str
    threshold: float
    watchdog: bool
    score: ScoreFn


@dataclass(frozen=True)
class _Judgement:
    metrics: dict[str, float]
    explanation: str | None


class _ScorerFailed(Exception):
    """A scorer raised, hung or returned garbage: the trial is an ``error`` of kind ``scorer``."""

    def __init__(self, message: str, trace: str | None = None) -> None:
        super().__init__(message)
        self.trace = trace


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
        modules: list[str] | None = None,
        experiments: Mapping[str, ExperimentScoring] | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        self.variants = dict(variants)
        self.weights = dict(weights)
        self.timeout = timeout
        self.retries = retries
        self.base_dir = base_dir or Path.cwd()
        self.python_path = list(python_path or [])
        self.modules = list(modules or [])  # the config's ``modules``: they register agents
        self.experiments = dict(experiments or {})
        self.max_output_bytes = max_output_bytes
        # The run's process ledger folder (``core.processes``), set by the run before it starts.
        self.ledger: str | None = None
        # The timeout the harness enforces per variant: none for kinds that enforce their own (a
        # command kills its program). Looked up once per trial, so worked out once here.
        self._harness_timeouts = {
            name: None if kind_of(v).enforces_timeout else timeout
            for name, v in self.variants.items()
        }
        self._agents: dict[str, Agent] = {}
        self._scorers: dict[str, tuple[_BuiltScorer, ...]] = {}
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
            modules=config.modules,
            experiments=experiment_scoring(config),
            max_output_bytes=config.trial.max_output_bytes,
        )

    def weights_for(self, experiment: str) -> dict[str, float]:
        """The scoring weights of ``experiment`` (the run's when it has none of its own)."""
        plan = self.experiments.get(experiment)
        return plan.weights if plan is not None else self.weights

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_agents"] = {}
        state["_scorers"] = {}
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __call__(self, spec: TrialSpec) -> TrialResult:
        return self.run(spec)

    def abort(self) -> None:
        """Kill what this process's agents are running now (a command's programs), from any
        thread: their trials fail. A backend calls it when it cancels in-flight trials, so no
        process a run started outlives it."""
        for agent in list(self._agents.values()):
            stop = getattr(agent, "abort", None)
            if callable(stop):
                stop()

    @property
    def needs_watchdog(self) -> bool:
        """Whether some variant's trials must be watched for the timeout (a command's kills its
        own program, so a run of commands alone, or one without a timeout, needs no watchdog)."""
        return self.timeout is not None and any(
            not kind_of(v).enforces_timeout for v in self.variants.values()
        )

    def run(
        self, spec: TrialSpec, watch: DeadlineSlot | None = None, attempts_before: int = 0
    ) -> TrialResult:
        """Run the trial, retrying failures up to ``retries`` times. Never raises for agent faults.

        Without ``watch`` each attempt's agent call goes through ``call_with_timeout`` (a hand-off
        to a watchdog thread). With it the agent is called on this thread and only the deadline is
        written to ``watch``: whoever reads the slot (``LocalBackend``) abandons this thread and
        records the timeout. ``attempts_before`` counts attempts already spent (a retry after such
        an abandonment).
        """
        attempts = attempts_before + 1
        result = self._attempt(spec, watch, attempts)
        while not result.ok and attempts <= self.retries:
            attempts += 1
            result = self._attempt(spec, watch, attempts)
        result.attempts = attempts
        return result

    def timed_out(self, spec: TrialSpec, slot: DeadlineSlot) -> TrialResult:
        """The ``timeout`` record of the attempt ``slot`` watched and its thread abandoned."""
        result = self._failed(
            spec, slot.started, slot.t0, "timeout", timeout_message(self.timeout), "timeout"
        )
        result.attempts = slot.attempt
        return result

    def _attempt(self, spec: TrialSpec, watch: DeadlineSlot | None, attempt: int) -> TrialResult:
        started = time.time()
        t0 = time.perf_counter()
        plan = self.experiments.get(spec.experiment)
        weights = plan.weights if plan is not None else self.weights
        reply = None
        try:
            agent = self._agent(spec.variant)
            timeout = self._harness_timeouts[spec.variant]
            if watch is None or timeout is None:
                raw = call_with_timeout(agent, spec.agent_context(), timeout)
            else:
                watch.arm(started, t0, t0 + timeout, attempt)
                try:
                    raw = agent(spec.agent_context())
                finally:
                    watch.deadline = None
            latency = time.perf_counter() - t0
            reply = parse_reply(spec.variant, raw)
            judged = None
            if spec.sample is not None and (plan is None or plan.scorers):
                judged = self._judge(spec, reply.output)
            found = reply.metrics if judged is None else {**reply.metrics, **judged.metrics}
            metrics = validate_metrics(spec.variant, found, latency, weights)
            score = trial_score(spec.variant, metrics, weights)
        except TrialTimeout as exc:
            return self._failed(spec, started, t0, "timeout", str(exc), "timeout")
        except _ScorerFailed as exc:
            return self._failed(spec, started, t0, "error", str(exc), "scorer", exc.trace, reply)
        except MalformedResult as exc:
            return self._failed(spec, started, t0, "error", str(exc), "malformed", None, reply)
        except (Exception, SystemExit) as exc:  # an agent's failure (even sys.exit) is data
            kind, retries = exception_facts(exc)
            error = f"variant '{spec.variant}' raised {type(exc).__name__}: {exc}"
            trace = traceback.format_exc()
            return self._failed(spec, started, t0, "error", error, kind, trace, retries=retries)
        output, truncated = reply.output, False
        if output is not None:
            output, truncated = truncate_output(output, self.max_output_bytes)
        sample = spec.sample
        return TrialResult(  # positional: this runs once per trial, and keywords cost
            spec.run_id,
            spec.experiment,
            spec.variant,
            spec.index,
            spec.seed,
            "ok",
            started,
            started + latency,
            latency,
            metrics,
            score,
            None,  # error
            None,  # traceback
            1,  # attempts
            current_node_id(),
            None if sample is None else sample.id,
            spec.epoch,
            output,
            truncated,
            None if judged is None else judged.explanation,
            reply.details,
            reply.transient_retries,
        )

    def _failed(
        self,
        spec: TrialSpec,
        started: float,
        t0: float,
        status: TrialStatus,
        error: str,
        kind: str,
        trace: str | None = None,
        reply: Any = None,
        retries: int = 0,
    ) -> TrialResult:
        """The failed trial, keeping what the agent said (a scorer's failure is not the agent's)."""
        output, truncated = (None, False)
        if reply is not None:
            output, truncated = truncate_output(reply.output, self.max_output_bytes)
        return failed_trial(
            spec,
            status=status,
            started=started,
            latency=time.perf_counter() - t0,
            error=error,
            traceback=trace,
            weights=self.weights_for(spec.experiment),
            node_id=current_node_id(),
            error_kind=kind,
            output=output,
            output_truncated=truncated,
            details=reply.details if reply is not None else None,
            transient_retries=reply.transient_retries if reply is not None else retries,
        )

    def _judge(self, spec: TrialSpec, output: Any) -> _Judgement | None:
        """Run the experiment's scorers on ``output``: their metrics and ``success`` (whether it
        passed every scorer that gave a value); ``None`` when the experiment has no scorers."""
        assert spec.sample is not None
        scorers = self._scorers_for(spec.experiment)
        if not scorers:
            return None
        metrics: dict[str, float] = {}
        explanations = []
        passed, judged = True, False
        for scorer in scorers:
            result = self._score_one(scorer, output, spec.sample)
            if result.value is not None:
                metrics[scorer.name] = result.value
                judged = True
                passed = passed and result.value >= scorer.threshold
            metrics.update(result.metrics)
            if result.explanation:
                explanations.append(f"{scorer.name}: {result.explanation}")
        if judged:
            metrics["success"] = 1.0 if passed else 0.0
        return _Judgement(metrics, "\n".join(explanations) or None)

    def _score_one(self, scorer: _BuiltScorer, output: Any, sample: Sample) -> Score:
        try:
            if scorer.watchdog:
                result = call_with_timeout(lambda _: scorer.score(output, sample), {}, self.timeout)
            else:
                result = scorer.score(output, sample)
        except TrialTimeout:
            raise _ScorerFailed(f"scorer '{scorer.name}' ran past {self.timeout}s") from None
        except ScorerError as exc:
            raise _ScorerFailed(str(exc)) from None
        except Exception as exc:
            raise _ScorerFailed(
                f"scorer '{scorer.name}' raised {type(exc).__name__}: {exc}", traceback.format_exc()
            ) from None
        if not isinstance(result, Score):
            raise _ScorerFailed(f"scorer '{scorer.name}' returned {type(result).__name__}")
        return result

    def _scorers_for(self, experiment: str) -> tuple[_BuiltScorer, ...]:
        built = self._scorers.get(experiment)
        if built is None:
            plan = self.experiments.get(experiment)
            with self._lock:
                built = self._scorers.get(experiment)
                if built is None:
                    built = self._build_scorers(plan.scorers if plan is not None else ())
                    self._scorers[experiment] = built
        return built

    def _build_scorers(self, configs: tuple[Any, ...]) -> tuple[_BuiltScorer, ...]:
        ensure_on_sys_path(self.python_path)
        import_modules(self.modules)
        built = []
        for config in configs:
            kind = _scorer_kind(config)
            try:
                score = build_scorer(config, self.base_dir, self.timeout, self.ledger)
            except Exception as exc:  # e.g. a user scorer whose module fails on this worker
                message = (
                    f"scorer '{label(config)}' could not be built: {type(exc).__name__}: {exc}"
                )
                score = _broken(message)
            built.append(
                _BuiltScorer(label(config), config.pass_threshold, kind.needs_watchdog, score)
            )
        return tuple(built)

    def _agent(self, name: str) -> Agent:
        agent = self._agents.get(name)
        if agent is None:
            with self._lock:
                agent = self._agents.get(name)
                if agent is None:
                    ensure_on_sys_path(self.python_path)
                    import_modules(self.modules)
                    agent = build_agent(
                        self.variants[name], self.base_dir, self.timeout, self.ledger
                    )
                    self._agents[name] = agent
        return agent


def experiment_scoring(config: SuiteConfig) -> dict[str, ExperimentScoring]:
    """How each experiment of ``config`` scores its trials."""
    return {
        e.name: ExperimentScoring(config.weights_for(e), tuple(e.scorers))
        for e in config.experiments
    }


def _broken(message: str) -> ScoreFn:
    def score(output: Any, sample: Sample) -> Score:
        raise ScorerError(message)

    return score


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
    error_kind: str | None = None,
    output: Any = None,
    output_truncated: bool = False,
    details: dict[str, Any] | None = None,
    transient_retries: int = 0,
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
        sample_id=spec.sample_id,
        epoch=spec.epoch,
        output=output,
        output_truncated=output_truncated,
        details=dict(details or {}),
        transient_retries=transient_retries,
        error_kind=error_kind,
    )


def escaped_trial(
    spec: TrialSpec, started: float, exc: BaseException, weights: Mapping[str, float]
) -> TrialResult:
    """An ``error`` trial for what escaped the runner (a ``BaseException`` an agent raised, say):
    the backends' threads record it instead of dying with it."""
    return failed_trial(
        spec,
        status="error",
        started=started,
        latency=time.time() - started,
        error=f"variant '{spec.variant}' raised {type(exc).__name__}: {exc}",
        weights=weights,
        traceback=traceback.format_exc(),
        error_kind="exception",
    )


# ------------------------------------------------------------------------------------ timeouts
def timeout_message(timeout: float | None) -> str:
    return f"trial ran past its timeout of {timeout}s"


class DeadlineSlot:
    """The deadline of the attempt one thread is running, for a watchdog that reads it.

    The running thread writes it (``arm``, then ``deadline = None``: a few attribute writes, no
    hand-off); the watchdog compares ``deadline`` with ``time.perf_counter()``. Plain attribute
    reads and writes are atomic under the GIL; ``arm`` writes ``deadline`` last, so a watchdog
    that sees a deadline sees the attempt it belongs to.
    """

    __slots__ = ("attempt", "deadline", "key", "started", "t0")

    def __init__(self) -> None:
        self.key: object = None  # the watcher's name for the trial (a backend's ticket)
        self.started = 0.0  # wall clock at the attempt's start
        self.t0 = 0.0  # perf_counter at the attempt's start
        self.attempt = 0
        self.deadline: float | None = None  # perf_counter; None while no agent call is running

    def arm(self, started: float, t0: float, deadline: float, attempt: int) -> None:
        self.started, self.t0, self.attempt = started, t0, attempt
        self.deadline = deadline

    def expired(self, now: float) -> bool:
        deadline = self.deadline
        return deadline is not None and now >= deadline


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
        raise TrialTimeout(timeout_message(timeout)) from None
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
