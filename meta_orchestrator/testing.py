"""Test doubles and helpers for testing orchestrators, backends and your own agents.

* ``ScriptedBackend`` runs nothing: each trial's result comes from a function of its spec, and
  results come back in the order you choose (newest first, oldest first, or shuffled), so an
  orchestrator can be driven through thousands of trials in milliseconds, with feedback arriving out
  of dispatch order as on the thread and Ray backends.
* ``scripted_result(spec, score)`` is the ``TrialResult`` such a backend returns.
* ``run_agent(agent, params=...)`` runs one trial of your agent through the real trial runner --
  the same validation of the returned metrics, scoring and timeout as in a run -- without a store.
* ``run_config(config)`` runs a whole config into a temporary store and returns its trials.

Example, in your own test suite::

    from meta_orchestrator.testing import run_agent

    def test_my_agent_succeeds_within_its_budget():
        result = run_agent("my_agents:ToolAgent", params={"model": "small"}, seed=3)
        assert result.ok, result.error
        assert result.metrics["success"] == 1.0 and result.metrics["cost"] < 0.01
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from meta_orchestrator.backends.base import Backend
from meta_orchestrator.core.config import BUILTIN_METRICS, SuiteConfig, build_config
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.registry import resolve_agent
from meta_orchestrator.core.trial import TrialResult, TrialSpec, TrialStatus
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.listener import RunListener
from meta_orchestrator.store import ExperimentRecord, RunRecord, RunStore

__all__ = [
    "Order",
    "Outcome",
    "RunOutcome",
    "ScriptedBackend",
    "run_agent",
    "run_config",
    "scripted_result",
]

Order = Literal["lifo", "fifo", "random"]
Outcome = Callable[[TrialSpec], "float | TrialResult"]
ORDERS: tuple[str, ...] = ("lifo", "fifo", "random")


# ------------------------------------------------------------------------------- scripted backend
def scripted_result(
    spec: TrialSpec,
    score: float,
    status: TrialStatus = "ok",
    *,
    metrics: Mapping[str, float] | None = None,
    latency: float = 0.0,
    error: str | None = None,
) -> TrialResult:
    """The result of ``spec`` with the given score, as a backend would return it.

    ``metrics`` defaults to ``{"success": score, "cost": 0.0, "latency": latency}``; a result whose
    status is not ``ok`` gets an ``error`` message if none is given. On a dataset it names the
    spec's sample and epoch, as a real runner's result does.
    """
    if status != "ok" and error is None:
        error = f"scripted {status}"
    return TrialResult.for_spec(
        spec,
        status=status,
        started_at=0.0,
        ended_at=latency,
        latency=latency,
        metrics=dict(metrics)
        if metrics is not None
        else {"success": score, "cost": 0.0, "latency": latency},
        score=score,
        error=error,
        sample_id=spec.sample_id,
        epoch=spec.epoch,
    )


class ScriptedBackend(Backend):
    """A backend that runs nothing: ``outcome(spec)`` gives each trial's score (or whole result).

    ``order`` is the completion order of the trials in flight: ``"lifo"`` (newest submission
    finishes first, so feedback arrives out of dispatch order whenever more than one trial is in
    flight), ``"fifo"`` (oldest first) or ``"random"`` (shuffled, seeded by ``seed``). ``outcome`` is
    called when a trial completes, in completion order, so a seeded random draw inside it is
    reproducible. ``submitted`` keeps every spec in dispatch order (``keep_submitted=False`` keeps
    none, for long runs) and ``cancelled`` those dropped by ``cancel_all``. Never blocks, never sleeps.
    """

    name = "scripted"

    def __init__(
        self,
        outcome: Outcome,
        max_in_flight: int = 1,
        *,
        order: Order = "lifo",
        seed: int = 0,
        keep_submitted: bool = True,
    ) -> None:
        super().__init__(max_in_flight)
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        self.outcome = outcome
        self.order = order
        self.keep_submitted = keep_submitted
        self.submitted: list[TrialSpec] = []
        self.cancelled: list[TrialSpec] = []
        self._pending: list[TrialSpec] = []
        self._rng = random.Random(seed)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def pending(self) -> list[TrialSpec]:
        """The trials in flight, in submission order (a copy)."""
        return list(self._pending)

    def submit(self, spec: TrialSpec) -> None:
        self._pending.append(spec)
        if self.keep_submitted:
            self.submitted.append(spec)

    def next_result(self, timeout: float | None = None) -> TrialResult | None:
        if not self._pending:
            return None
        if self.order == "lifo":
            spec = self._pending.pop()
        elif self.order == "fifo":
            spec = self._pending.pop(0)
        else:
            spec = self._pending.pop(self._rng.randrange(len(self._pending)))
        outcome = self.outcome(spec)
        return outcome if isinstance(outcome, TrialResult) else scripted_result(spec, outcome)

    def cancel_all(self) -> None:
        self.cancelled.extend(self._pending)
        self._pending.clear()


# ---------------------------------------------------------------------------- testing an agent
AgentLike = str | Callable[..., Any] | Mapping[str, Any]


def run_agent(
    agent: AgentLike,
    *,
    params: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    seed: int = 0,
    timeout: float | None = 30.0,
    scoring_weights: Mapping[str, float] | None = None,
    python_path: Sequence[str | Path] | None = None,
    base_dir: str | Path | None = None,
) -> TrialResult:
    """Run one trial of ``agent`` through the real ``TrialRunner`` and return its result.

    ``agent`` is what a config's variant names: an import path (``"my_agents:ToolAgent"``) or a
    registered name, a module-level function or class (named by its import path, as a config
    would), or a whole variant config mapping (``{"type": "command", "command": [...]}``; its
    params go inside it). The variant is validated as ``meta-orchestrator run`` validates it
    (``ConfigError`` otherwise); the agent gets ``seed`` as its trial seed and ``context``'s keys in
    its context. Like a run, this never raises for the agent's own failure: a trial that raised,
    timed out or returned bad metrics is a result with status ``error`` or ``timeout``.
    """
    weights = dict(scoring_weights or {"success": 1.0})
    data: dict[str, Any] = {
        "name": "run-agent",
        "seed": seed,
        "variants": {"agent": _variant(agent, params)},
        "experiments": [{"name": "test", "variants": ["agent"], "trials_per_variant": 1}],
        "scoring_weights": weights,
        "custom_metrics": [m for m in weights if m not in BUILTIN_METRICS],
        "trial": {"timeout_seconds": timeout, "retries": 0},
    }
    if python_path is not None:
        data["python_path"] = [str(p) for p in python_path]
    config = build_config(data, base_dir=Path(base_dir) if base_dir else Path.cwd())
    spec = TrialSpec(
        run_id="run-agent",
        experiment="test",
        variant="agent",
        index=0,
        seed=seed,
        context=dict(context or {}),
    )
    return TrialRunner.from_config(config).run(spec)


def _variant(agent: AgentLike, params: Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(agent, Mapping):
        if params is not None:
            raise TypeError("a variant config mapping holds its own params; do not pass params=")
        return dict(agent)
    if not isinstance(agent, str):
        agent = _import_path(agent)
    return {"type": "python", "agent": agent, "params": dict(params or {})}


def _import_path(obj: Callable[..., Any]) -> str:
    """The ``module:attr`` path a config would use for ``obj``, checked to name ``obj`` itself."""
    path = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}"
    try:
        found = resolve_agent(path)
    except ConfigError:
        found = None
    if found is not obj:
        raise TypeError(
            f"{obj!r} cannot be named by an import path ({path}); pass a module-level function "
            "or class, its 'module:attr' path, or a registered name"
        )
    return path


# ------------------------------------------------------------------------------ running a config
@dataclass(frozen=True)
class RunOutcome:
    """What ``run_config`` left: the run record, its experiments, every trial and the summary."""

    run_id: str
    record: RunRecord
    experiments: dict[str, ExperimentRecord]
    trials: list[TrialResult]
    summary: str  # summary.md; empty if the report could not be written

    @property
    def status(self) -> str:
        return self.record.status

    def scores(self, variant: str, experiment: str | None = None) -> list[float]:
        """The scores of ``variant``'s trials (of one experiment, or of all), in store order."""
        return [
            t.score
            for t in self.trials
            if t.variant == variant
            and t.score is not None
            and (experiment is None or t.experiment == experiment)
        ]


def run_config(
    config: SuiteConfig | str | Path | Mapping[str, Any],
    *,
    seed: int | None = None,
    directory: str | Path | None = None,
    listener: RunListener | None = None,
) -> RunOutcome:
    """Run ``config`` with ``run_experiment_suite`` into a fresh store and read back what it stored.

    The store and results folder go to a temporary folder that is removed afterwards, unless
    ``directory`` names one to keep (``store.db`` and ``results/`` inside it). Every trial is read
    into memory: meant for test-sized runs. Errors propagate as from ``run_experiment_suite``.
    """
    if directory is not None:
        return _run_into(Path(directory), config, seed, listener)
    with tempfile.TemporaryDirectory(prefix="meta-orchestrator-test-") as folder:
        return _run_into(Path(folder), config, seed, listener)


def _run_into(
    folder: Path,
    config: SuiteConfig | str | Path | Mapping[str, Any],
    seed: int | None,
    listener: RunListener | None,
) -> RunOutcome:
    db, results = folder / "store.db", folder / "results"
    run_id = run_experiment_suite(
        config, db_path=db, results_dir=results, seed=seed, listener=listener
    )
    with RunStore(db) as store:
        record = store.get_run(run_id)
        experiments = {e.name: e for e in store.experiments(run_id)}
        trials = [r for _, r in store.iter_trials(run_id)]
    summary_path = results / run_id / "summary.md"
    summary = summary_path.read_text(encoding="utf-8") if summary_path.is_file() else ""
    return RunOutcome(run_id, record, experiments, trials, summary)
