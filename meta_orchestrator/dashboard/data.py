"""What the dashboard makes of the run store: state objects and pandas frames, no Streamlit and no
SQL (the queries are ``RunStore`` methods).

A live view keeps one ``RunView`` per browser session. Opening a run *bootstraps* it with one
grouped SQL scan (per-variant sums in ``SERIES_POINTS`` slices of each experiment, so at most that
many points per variant, merged into ``RunningMoments``); every refresh after that reads only the
trials committed after its ``after_seq`` cursor and adds them to the same moments. So a refresh
costs the same for the 100th and the 100,000th trial, and a finished 100,000-trial run is drawn
from a few hundred points.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from scipy import stats as _scipy_stats

from meta_orchestrator.analysis.formatting import DASH
from meta_orchestrator.analysis.saved_summary import saved_summary
from meta_orchestrator.analysis.stats import mean_ci
from meta_orchestrator.analysis.summary import RunSummary, summarize_run
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.store import EXPORT_COLUMNS, RunRecord, RunStore
from meta_orchestrator.store.ownership import display_status

SERIES_POINTS = 200  # per variant; a running mean is smooth, and each point costs the browser
HISTOGRAM_BINS = 30
EXPORT_LIMIT = 200_000
LOG_TAIL = 200
CONFIDENCE = 0.95


# ---------------------------------------------------------------------------- running moments
@dataclass
class VariantStats:
    """One variant so far: its trials, failures and the running moments of its score."""

    trials: int = 0
    failures: int = 0
    score: RunningMoments = field(default_factory=RunningMoments)

    def add(self, status: str, score: float | None) -> None:
        self.trials += 1
        if status != "ok":
            self.failures += 1
        if score is not None and math.isfinite(score):
            self.score.add(score)

    def merge(self, trials: int, failures: int, score: RunningMoments) -> None:
        """Several trials at once: a bootstrap bucket's counts and score moments."""
        self.trials += trials
        self.failures += failures
        self.score.merge(score)

    @property
    def mean(self) -> float | None:
        return self.score.mean_or_none

    @property
    def sd(self) -> float | None:
        return self.score.sd


# A point of a variant's running-mean series: (trials done in the experiment, n, mean, sd or nan).
SeriesPoint = tuple[int, int, float, float]


@dataclass
class ExperimentView:
    """One experiment of a run: per-variant moments and their thinned running-mean series."""

    name: str
    trials: int = 0
    variants: dict[str, VariantStats] = field(default_factory=dict)
    series: dict[str, list[SeriesPoint]] = field(default_factory=dict)  # <= 2 * SERIES_POINTS

    def add(self, variant: str, status: str, score: float | None) -> None:
        self.trials += 1
        stats = self.variants.setdefault(variant, VariantStats())
        stats.add(status, score)
        points = self.series.setdefault(variant, [])
        points.append(_point(self.trials, stats.score))
        if len(points) > 2 * SERIES_POINTS:
            points[:] = points[-1::-2][::-1]  # keep every other point, always the newest

    def merge(
        self, variant: str, at: int, trials: int, failures: int, score: RunningMoments
    ) -> None:
        """Several trials of ``variant`` at once (a bootstrap bucket), drawn at trial ``at``."""
        stats = self.variants.setdefault(variant, VariantStats())
        stats.merge(trials, failures, score)
        self.series.setdefault(variant, []).append(_point(at, stats.score))

    def leader(self) -> tuple[str, float] | None:
        """The best mean score; ``None`` while every trial failed (the least bad failure leads
        nothing, as in summary.md and ``runs``)."""
        scored = [(name, s.mean) for name, s in self.variants.items() if s.mean is not None]
        if not scored or all(s.failures == s.trials for s in self.variants.values()):
            return None
        return max(scored, key=lambda item: (item[1], _neg_name(item[0])))


def _point(at: int, score: RunningMoments) -> SeriesPoint:
    sd = score.sd
    return (at, score.n, score.mean, math.nan if sd is None else sd)


def _neg_name(name: str) -> tuple[int, ...]:
    """Sort key so that ties on the mean go to the alphabetically first variant under ``max``."""
    return tuple(-ord(c) for c in name)


class RunView:
    """Everything the live and finished views draw for one run, updated incrementally.

    Not thread-safe; Streamlit runs one script (or fragment) per session at a time.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.after_seq = 0
        self.experiments: dict[str, ExperimentView] = {}
        self.last_experiment: str | None = None

    @classmethod
    def bootstrap(cls, store: RunStore, run_id: str) -> RunView:
        """Load the run's trials so far from SQL sums (``RunStore.bucket_sums``), without reading
        every row.

        The series gets one point per variant per bucket (``SERIES_POINTS`` buckets per
        experiment), placed at the number of the experiment's trials done by the bucket's end.
        """
        view = cls(run_id)
        view.after_seq = store.max_seq(run_id)
        rows = store.bucket_sums(run_id, view.after_seq, SERIES_POINTS)
        last_seq = 0
        for name, experiment_rows in itertools.groupby(rows, key=lambda r: r.experiment):
            experiment = view.experiments[name] = ExperimentView(name)
            for _, bucket in itertools.groupby(experiment_rows, key=lambda r: r.bucket):
                sums = list(bucket)
                end = experiment.trials + sum(r.trials for r in sums)
                for r in sums:
                    score = RunningMoments.from_sums(r.score_n, r.score_sum, r.score_sq)
                    experiment.merge(r.variant, end, r.trials, r.failures, score)
                    if r.last_seq > last_seq:
                        last_seq, view.last_experiment = r.last_seq, name
                experiment.trials = end
        return view

    def update(self, store: RunStore) -> int:
        """Read the trials committed since the last call; return how many there were."""
        added = 0
        for seq, result in store.iter_trials(self.run_id, after_seq=self.after_seq):
            experiment = self.experiments.setdefault(
                result.experiment, ExperimentView(result.experiment)
            )
            experiment.add(result.variant, result.status, result.score)
            self.after_seq = seq
            self.last_experiment = result.experiment
            added += 1
        return added

    # ------------------------------------------------------------------------------ read-outs
    @property
    def trials(self) -> int:
        return sum(e.trials for e in self.experiments.values())

    @property
    def failures(self) -> int:
        return sum(s.failures for e in self.experiments.values() for s in e.variants.values())

    def leader(self) -> tuple[str, float] | None:
        """The best mean score so far in the experiment that last recorded a trial."""
        if self.last_experiment is None:
            return None
        return self.experiments[self.last_experiment].leader()

    def series_frame(self, experiment: str) -> pd.DataFrame:
        """Running mean score per variant with its 95% band, one row per kept point."""
        rows = [
            (variant, *point)
            for variant, points in self.experiments[experiment].series.items()
            for point in points
            if point[1] > 0
        ]
        frame = pd.DataFrame(rows, columns=["variant", "trials", "n", "mean", "sd"])
        dof = (frame["n"] - 1).clip(lower=1)
        half = _scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, dof) * frame["sd"] / frame["n"] ** 0.5
        frame["low"] = (frame["mean"] - half).where(frame["n"] > 1)
        frame["high"] = (frame["mean"] + half).where(frame["n"] > 1)
        return frame[["variant", "trials", "n", "mean", "low", "high"]]

    def ranking_frame(self, experiment: str) -> pd.DataFrame:
        """Variants by running mean score (best first), with a 95% interval and error counts."""
        rows = []
        for name, s in self.experiments[experiment].variants.items():
            interval = mean_ci(s.score.n, s.mean, s.sd, CONFIDENCE)
            low, high = (interval.low, interval.high) if interval else (None, None)
            rows.append((name, s.trials, s.mean, low, high, s.failures))
        frame = pd.DataFrame(
            rows, columns=["variant", "trials", "mean score", "CI low", "CI high", "errors"]
        )
        frame = frame.sort_values(
            ["mean score", "variant"], ascending=[False, True], na_position="last"
        )
        return frame.reset_index(drop=True)

    def choice_frame(self, experiment: str) -> pd.DataFrame:
        variants = self.experiments[experiment].variants
        return pd.DataFrame(
            [(name, s.trials) for name, s in variants.items()], columns=["variant", "trials"]
        )


# ---------------------------------------------------------------------------------- summaries
class Summaries:
    """A run's summary once per (store, run, trial count, status), started early, shared: the one
    the run saved as it closed (``analysis.saved_summary``) when it holds, else ``summarize_run``.

    ``start`` returns a future at once: the summary's SQL (quantiles sort every variant's
    latencies) runs on a worker thread with its own connection while the page draws its charts,
    and every browser session reuses the result. Thread-safe; keeps the ``size`` newest.
    """

    def __init__(self, size: int = 32, workers: int = 2) -> None:
        self._futures: OrderedDict[tuple[str, str, int, str], Future[RunSummary]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="run-summary")

    def start(self, db: Path, run: RunRecord) -> Future[RunSummary]:
        key = (str(db), run.id, run.trials, run.status)
        with self._lock:
            future = self._futures.get(key)
            if future is None or (future.done() and future.exception() is not None):
                future = self._futures[key] = self._pool.submit(_summarize, db, run)
            self._futures.move_to_end(key)
            while len(self._futures) > self._size:
                self._futures.popitem(last=False)
            return future

    def close(self) -> None:
        """Wait for the summaries under way and stop the workers (the dashboard's own instance
        lives as long as its server; a test's is closed)."""
        self._pool.shutdown(wait=True)


def _summarize(db: Path, run: RunRecord) -> RunSummary:
    """The summary the run saved as it closed, if it still holds; else computed from its trials."""
    with RunStore(db) as store:
        return saved_summary(store, run) or summarize_run(store, run.id)


# ---------------------------------------------------------------------------------- progress
@dataclass(frozen=True)
class Progress:
    done: int
    planned: int
    failures: int
    elapsed: float
    eta: float | None
    leader: tuple[str, float] | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.planned) if self.planned else 0.0


def progress(run: RunRecord, view: RunView, now: float | None = None) -> Progress:
    """Done / planned, errors, elapsed and (while running) the ETA at the current pace."""
    end = run.ended_at if run.ended_at is not None else (now or time.time())
    elapsed = max(0.0, end - run.started_at)
    done = view.trials
    eta = None
    if run.status == "running" and done and run.planned_trials > done:
        eta = elapsed / done * (run.planned_trials - done)
    return Progress(done, run.planned_trials, view.failures, elapsed, eta, view.leader())


def process_gone(run: RunRecord) -> bool:
    """True if a ``running`` run's owner is gone (killed, crashed, or silent past its heartbeat)."""
    return display_status(run) == "dead"


# ------------------------------------------------------------------------------- run browser
RUN_COLUMNS = ["id", "name", "date", "status", "trials", "leader", "orchestrator"]


def run_table(records: list[RunRecord], leaders: dict[str, str | None]) -> pd.DataFrame:
    """One row per run, in the given order; ``leaders`` maps run ids to their leading variant."""
    rows = [
        (
            r.id,
            r.name,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at)),
            display_status(r),
            f"{r.trials}/{r.planned_trials}",
            leaders.get(r.id) or DASH,
            r.orchestrator,
        )
        for r in records
    ]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def filter_runs(
    runs: pd.DataFrame, text: str = "", statuses: list[str] | None = None
) -> pd.DataFrame:
    """Runs whose id, name, date, orchestrator or leader contains ``text`` (case-insensitive)."""
    keep = pd.Series(True, index=runs.index)
    if statuses:
        keep &= runs["status"].isin(statuses)
    needle = text.strip().lower()
    if needle:
        haystack = (
            runs[["id", "name", "date", "orchestrator", "leader"]].astype(str).agg(" ".join, axis=1)
        )
        keep &= haystack.str.lower().str.contains(needle, regex=False)
    return runs[keep]


# ------------------------------------------------------------------------- histograms, downloads
def histogram_frame(
    store: RunStore, run_id: str, experiment: str, column: str, bins: int = HISTOGRAM_BINS
) -> pd.DataFrame:
    """Trials per variant in equal-width bins of ``latency``, ``cost`` or ``score``:
    ``variant, start, end, trials`` (``RunStore.histogram``)."""
    return pd.DataFrame(
        [
            (b.variant, b.start, b.end, b.trials)
            for b in store.histogram(run_id, experiment, column, bins)
        ],
        columns=["variant", "start", "end", "trials"],
    )


def trials_csv(store: RunStore, run_id: str, limit: int = EXPORT_LIMIT) -> str:
    """The trials as CSV, one row each (``EXPORT_COLUMNS``): with ``sample_id`` and ``epoch`` a
    run on a dataset can be joined to its samples; ``output_json`` is the answer's JSON text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(store.export_rows(run_id, limit))
    return out.getvalue()


def trials_json(store: RunStore, run_id: str, limit: int = EXPORT_LIMIT) -> str:
    """A JSON array of trials; ``metrics_json`` and ``output_json`` are expanded into ``metrics``
    and ``output`` (any JSON value, ``null`` when none was stored)."""
    out = io.StringIO()
    out.write("[")
    for i, row in enumerate(store.export_rows(run_id, limit)):
        record = dict(zip(EXPORT_COLUMNS, row, strict=True))
        record["metrics"] = json.loads(record.pop("metrics_json") or "{}")
        output = record.pop("output_json")
        record["output"] = None if output is None else json.loads(output)
        if record["output_truncated"] is not None:
            record["output_truncated"] = bool(record["output_truncated"])
        out.write(("," if i else "") + "\n" + json.dumps(record, allow_nan=False, default=str))
    out.write("\n]\n")
    return out.getvalue()
