"""Live anytime-valid bands: each variant's confidence sequence (``core.confseq``) as a run grows.

The live dashboard redraws every second; a fixed-sample 95% interval read that often misses the
true mean in about half of all runs (``benchmarks/bench_anytime_coverage.py``). These bands cover it
at every look at once, so they may be watched. They need the scores' bounds: ``score_bounds`` finds
them from the experiment's weights when every weighted metric is bounded (``success``,
``autonomy``), or from ``mab_settings.early_stop.score_bounds``; otherwise there is no band, and
``LiveBands`` is never built.

``LiveBands`` reads only the trials committed since its last update (``RunStore.score_sequence``),
so a refresh costs the new trials, and keeps at most ``2 * points`` band points per variant (the
band itself is exact: every score goes into the sequence; only the drawn points are thinned).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import yaml

from meta_orchestrator.core.confseq import ConfidenceSequence
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.store import ExperimentRecord, RunStore

BOUNDED_METRICS: dict[str, tuple[float, float]] = {"success": (0.0, 1.0), "autonomy": (0.0, 1.0)}
ALPHA = 0.05
POINTS = 200
COLUMNS = ["variant", "trials", "n", "mean", "low", "high"]


def score_bounds(experiment: ExperimentRecord, config_yaml: str) -> tuple[float, float] | None:
    """The lowest and highest score a trial of ``experiment`` can get, or ``None`` if unknown."""
    configured = _configured_bounds(experiment.name, config_yaml)
    if configured is not None:
        return configured
    weights = {m: w for m, w in (experiment.scoring.get("weights") or {}).items() if w != 0}
    if not weights or any(m not in BOUNDED_METRICS for m in weights):
        return None
    low = sum(w * BOUNDED_METRICS[m][0 if w > 0 else 1] for m, w in weights.items())
    high = sum(w * BOUNDED_METRICS[m][1 if w > 0 else 0] for m, w in weights.items())
    return (float(low), float(high)) if low < high else None


def _configured_bounds(name: str, config_yaml: str) -> tuple[float, float] | None:
    """``mab_settings.early_stop.score_bounds`` of experiment ``name`` in a config snapshot."""
    try:
        data = yaml.safe_load(config_yaml)
    except yaml.YAMLError:
        return None
    experiments = data.get("experiments") if isinstance(data, dict) else None
    for experiment in experiments if isinstance(experiments, list) else []:
        if isinstance(experiment, dict) and experiment.get("name") == name:
            stop = (experiment.get("mab_settings") or {}).get("early_stop") or {}
            bounds = stop.get("score_bounds") if isinstance(stop, dict) else None
            if isinstance(bounds, list | tuple) and len(bounds) == 2:
                return float(bounds[0]), float(bounds[1])
    return None


@dataclass
class _VariantBand:
    sequence: ConfidenceSequence
    moments: RunningMoments = field(default_factory=RunningMoments)
    points: list[tuple[int, int, float, float, float]] = field(default_factory=list)
    outside: float | None = None  # a score outside the bounds ends the band


class LiveBands:
    """The anytime-valid (1 - ``alpha``) band of every variant of one experiment, incrementally.

    Each update extends every variant's sequence by its new scores in one numpy pass
    (``ConfidenceSequence.extend``), so opening a finished 100,000-trial run costs milliseconds
    of arithmetic. Not thread-safe (one per browser session, like ``dashboard.data.RunView``).
    """

    def __init__(
        self,
        run_id: str,
        experiment: str,
        bounds: tuple[float, float],
        alpha: float = ALPHA,
        points: int = POINTS,
    ) -> None:
        self.run_id, self.experiment, self.bounds, self.alpha = run_id, experiment, bounds, alpha
        self.points = points
        self.after_seq = 0
        self.trials = 0
        self.variants: dict[str, _VariantBand] = {}

    def update(self, store: RunStore) -> int:
        """Take in the trials committed since the last call; return how many there were."""
        new: dict[str, tuple[list[int], list[float]]] = {}
        added = 0
        for seq, variant, score in store.score_sequence(
            self.run_id, self.experiment, self.after_seq
        ):
            self.after_seq, self.trials, added = seq, self.trials + 1, added + 1
            if variant not in self.variants:
                sequence = ConfidenceSequence(self.alpha, *self.bounds)
                self.variants[variant] = _VariantBand(sequence)
            if score is not None:
                at, scores = new.setdefault(variant, ([], []))
                at.append(self.trials)
                scores.append(score)
        for variant, (at, scores) in new.items():
            self._extend(self.variants[variant], at, scores)
        return added

    def _extend(self, band: _VariantBand, at: list[int], scores: list[float]) -> None:
        if band.outside is not None:
            return
        values = np.asarray(scores, dtype=float)
        outside = (values < self.bounds[0]) | (values > self.bounds[1])
        if outside.any():
            band.outside = float(values[outside][0])
            return
        lows, highs = band.sequence.extend(values)
        n0, means = band.moments.n, band.moments.mean
        band.moments.merge(RunningMoments.of(values))
        counts = n0 + np.arange(1, len(values) + 1)
        running = (means * n0 + np.cumsum(values)) / counts
        keep = np.unique(np.linspace(0, len(values) - 1, min(len(values), self.points)).round())
        for i in keep.astype(int):
            band.points.append((at[i], int(counts[i]), float(running[i]), lows[i], highs[i]))
        while len(band.points) > 2 * self.points:
            band.points[:] = band.points[-1::-2][::-1]  # every other point, the newest kept

    def frame(self) -> pd.DataFrame:
        """``variant, trials, n, mean, low, high``: one row per kept point of each variant."""
        rows = [
            (variant, *point)
            for variant, band in self.variants.items()
            if band.outside is None
            for point in band.points
        ]
        return pd.DataFrame(rows, columns=COLUMNS)

    def outside(self) -> dict[str, float]:
        """Variants whose band ended at a score outside the bounds, with that score."""
        return {v: b.outside for v, b in self.variants.items() if b.outside is not None}
