"""The two values that cross every boundary: what to run (``TrialSpec``) and what happened (``TrialResult``).

Both are plain, picklable dataclasses so that a backend can ship them to a thread, a process or a Ray
worker on another machine and back. Neither holds a reference to a live agent. Neither is frozen,
though nothing changes a spec once built: a frozen dataclass's ``__init__`` sets every field through
``object.__setattr__``, which cost 1.4 µs per spec, a tenth of a no-op trial's whole cost.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from meta_orchestrator.core.datasets.base import Sample

TrialStatus = Literal["ok", "error", "timeout"]
TRIAL_STATUSES: tuple[str, ...] = ("ok", "error", "timeout")


def trial_seed(run_seed: int, experiment: str, index: int) -> int:
    """A stable per-trial seed: the same run seed gives every trial the same seed on any machine."""
    return zlib.crc32(f"{run_seed}:{experiment}:{index}".encode()) & 0x7FFFFFFF


def sample_seed(run_seed: int, experiment: str, variant: str, sample_id: str, epoch: int) -> int:
    """The seed of a trial on a sample: one per (variant, sample, epoch), whatever the dispatch order.

    So a resumed run, a concurrent one and a sequential one give each attempt the same seed, and
    epochs differ. The variant is part of it: two variants do not share their random draws, so
    any agreement between them comes from the samples, as with real agents.
    """
    key = f"{run_seed}:{experiment}:{variant}:{sample_id}:{epoch}"
    return zlib.crc32(key.encode()) & 0x7FFFFFFF


@dataclass(slots=True)
class TrialSpec:
    """One trial to run: which variant, with which seed, as which trial of which experiment.

    ``index`` is the trial's position in its experiment's dispatch order; together with ``run_id`` and
    ``experiment`` it identifies the trial, which is how ``resume`` knows what is already done. On a
    dataset, ``sample`` is the task (its target included, for the scorers; the agent sees it only
    when ``expose_target``) and ``epoch`` which attempt at it this is.
    """

    run_id: str
    experiment: str
    variant: str
    index: int
    seed: int
    context: dict[str, Any] = field(default_factory=dict)
    sample: Sample | None = None
    epoch: int = 0
    expose_target: bool = False

    @property
    def sample_id(self) -> str | None:
        return None if self.sample is None else self.sample.id

    def agent_context(self) -> dict[str, Any]:
        """The dictionary an agent receives: trial identity plus whatever the orchestrator added."""
        context = {
            **self.context,
            "run_id": self.run_id,
            "experiment": self.experiment,
            "variant": self.variant,
            "trial_index": self.index,
            "seed": self.seed,
        }
        if self.sample is not None:
            context["sample"] = self.sample.for_agent(self.expose_target)
            context["epoch"] = self.epoch
        return context


@dataclass(slots=True)
class TrialResult:
    """What one trial produced. A failed trial (error, timeout) is scored as one that achieved
    nothing (``scoring.failure_score``); ``score`` is ``None`` only where no score could be given.

    ``metrics`` always holds the harness-measured ``latency`` (wall seconds) and, for a successful
    trial, the agent's validated metrics and the scorers'. ``node_id`` names the machine (Ray node or
    host) that ran it. On a dataset, ``sample_id`` and ``epoch`` say which attempt at which sample
    this was. ``output`` is the agent's answer (any JSON; cut to the run's ``max_output_bytes``,
    then ``output_truncated``), ``explanation`` what the scorers said about it, ``details`` the
    non-numeric facts the agent reported. ``error_kind`` is a machine-readable failure reason
    (``timeout``, ``malformed``, ``scorer``, ``exception``, or what the agent's exception carried);
    ``transient_retries`` how often the agent retried transient faults (rate limits) itself.
    """

    run_id: str
    experiment: str
    variant: str
    index: int
    seed: int
    status: TrialStatus
    started_at: float
    ended_at: float
    latency: float
    metrics: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    error: str | None = None
    traceback: str | None = None
    attempts: int = 1
    node_id: str | None = None
    sample_id: str | None = None
    epoch: int = 0
    output: Any = None
    output_truncated: bool = False
    explanation: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    transient_retries: int = 0
    error_kind: str | None = None

    @classmethod
    def for_spec(cls, spec: TrialSpec, **fields: Any) -> TrialResult:
        """A result of ``spec``: its identity (run, experiment, variant, index, seed) plus ``fields``."""
        return cls(
            run_id=spec.run_id,
            experiment=spec.experiment,
            variant=spec.variant,
            index=spec.index,
            seed=spec.seed,
            **fields,
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cost(self) -> float:
        return float(self.metrics.get("cost", 0.0))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})
