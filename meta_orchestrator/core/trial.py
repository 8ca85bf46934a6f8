"""The two values that cross every boundary: what to run (``TrialSpec``) and what happened (``TrialResult``).

Both are plain, picklable dataclasses so that a backend can ship them to a thread, a process or a Ray
worker on another machine and back. Neither holds a reference to a live agent.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TrialStatus = Literal["ok", "error", "timeout"]
TRIAL_STATUSES: tuple[str, ...] = ("ok", "error", "timeout")


def trial_seed(run_seed: int, experiment: str, index: int) -> int:
    """A stable per-trial seed: the same run seed gives every trial the same seed on any machine."""
    return zlib.crc32(f"{run_seed}:{experiment}:{index}".encode()) & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class TrialSpec:
    """One trial to run: which variant, with which seed, as which trial of which experiment.

    ``index`` is the trial's position in its experiment's dispatch order; together with ``run_id`` and
    ``experiment`` it identifies the trial, which is how ``resume`` knows what is already done.
    """

    run_id: str
    experiment: str
    variant: str
    index: int
    seed: int
    context: dict[str, Any] = field(default_factory=dict)

    def agent_context(self) -> dict[str, Any]:
        """The dictionary an agent receives: trial identity plus whatever the orchestrator added."""
        return {
            **self.context,
            "run_id": self.run_id,
            "experiment": self.experiment,
            "variant": self.variant,
            "trial_index": self.index,
            "seed": self.seed,
        }


@dataclass(slots=True)
class TrialResult:
    """What one trial produced. A failed trial (error, timeout) is scored as one that achieved
    nothing (``scoring.failure_score``); ``score`` is ``None`` only where no score could be given.

    ``metrics`` always holds the harness-measured ``latency`` (wall seconds) and, for a successful
    trial, the agent's validated metrics. ``node_id`` names the machine (Ray node or host) that ran it.
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
