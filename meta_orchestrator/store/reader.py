"""Reading the run store from any process, while a run is being written or after it ended.

Nothing here loads a whole run into memory: trials stream from a cursor, per-variant statistics are
SQL aggregates, and a variant's latency quantiles come from one sort in SQLite.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.errors import RunNotFoundError
from meta_orchestrator.store.connection import connect_for_reading

# The trial columns ``RunStore.export_rows`` returns, in order.
EXPORT_COLUMNS = (
    "seq", "experiment", "variant", "trial_index", "seed", "status", "started_at", "ended_at",
    "latency", "score", "success", "cost", "metrics_json", "error", "attempts", "node_id",
    "sample_id", "epoch", "output_json", "output_truncated", "explanation",
)  # fmt: skip
HISTOGRAM_COLUMNS = ("latency", "cost", "score")
_LATEST = re.compile(r"latest(?:~(\d+))?")


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    name: str
    status: str
    orchestrator: str
    backend: str
    seed: int
    planned_trials: int
    config_yaml: str
    config_path: str | None
    started_at: float
    ended_at: float | None
    stop_reason: str | None
    error: str | None
    package_version: str
    git_commit: str | None
    host: str | None
    pid: int | None
    active_seconds: float | None = None
    results_dir: str | None = None  # where the run's outputs go (NULL in stores before schema 2)
    owner_token: str | None = None  # the owner and its heartbeat: NULL in stores before schema 5
    owner_started: float | None = None
    heartbeat_at: float | None = None
    trials: int = 0


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    """One experiment of a run. ``dataset`` (``None`` without one), its ``dataset_fingerprint``,
    ``epochs`` and ``scoring`` (weights, scorers, reducer, k) are ``None`` / 1 / ``{}`` in stores
    written before datasets existed."""

    run_id: str
    position: int
    name: str
    orchestrator: str
    strategy: str | None
    variants: list[str]
    planned_trials: int
    status: str
    stop_reason: str | None
    dataset: str | None = None
    dataset_fingerprint: str | None = None
    epochs: int = 1
    scoring: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SampleOutcome:
    """How one variant did on one sample over its epochs: counts and the score's sum."""

    variant: str
    sample_id: str
    trials: int
    successes: int
    errors: int
    score_sum: float

    @property
    def pass_rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0


@dataclass(frozen=True, slots=True)
class SampleSums:
    """One variant's sums on one sample over its epochs: what a clustered standard error needs."""

    variant: str
    sample_id: str
    trials: int
    score_n: int
    score_sum: float
    score_sq: float
    successes: float  # trials that finished ok with success 1, over all ``trials``


@dataclass(frozen=True, slots=True)
class VariantAggregate:
    """Streaming sums for one variant of one experiment; enough for means, SDs and t-tests."""

    experiment: str
    variant: str
    trials: int
    ok: int
    errors: int
    timeouts: int
    score_n: int
    score_mean: float | None
    score_m2: float  # sum of squared deviations from the mean, for the SD
    successes: float
    success_n: int
    latency_mean: float | None
    cost_total: float

    @property
    def score_sd(self) -> float | None:
        return RunningMoments(self.score_n, self.score_mean or 0.0, self.score_m2).sd


@dataclass(frozen=True, slots=True)
class BucketSums:
    """Sums over one variant's trials in one slice (bucket) of an experiment's commit order."""

    experiment: str
    variant: str
    bucket: int
    trials: int
    failures: int  # trials whose status is not ``ok``
    score_n: int
    score_sum: float
    score_sq: float  # sum of squared scores
    last_seq: int  # the newest trial in the bucket


@dataclass(frozen=True, slots=True)
class HistogramBin:
    """How many of a variant's trials have a value in ``[start, end)``."""

    variant: str
    start: float
    end: float
    trials: int


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    ts: float
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class StoredSummary:
    """The summary a run saved as it closed (``StoreWriter.save_summary``), as opaque JSON text,
    and the trial count and status it was computed for."""

    run_id: str
    trials: int
    status: str
    summary_json: str
    written_at: float

    def holds_for(self, run: RunRecord) -> bool:
        """Whether ``run`` is still in the state the summary describes (a resumed or reopened run
        has more trials or another status; its old summary must not be shown as its new one)."""
        return run.id == self.run_id and run.trials == self.trials and run.status == self.status


class RunStore:
    """Read access to one store file. Cheap to create; each method runs its own short query."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = connect_for_reading(self.path)
        self._columns: dict[str, set[str]] = {}

    def _has(self, table: str, column: str) -> bool:
        """Whether the store has ``table.column`` (older schemas lack what later ones added)."""
        if table not in self._columns:
            rows = self._conn.execute(f"PRAGMA table_info({table})").fetchall()
            self._columns[table] = {row[1] for row in rows}
        return column in self._columns[table]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- runs
    def list_runs(self, limit: int | None = None) -> list[RunRecord]:
        sql = (
            "SELECT r.*, (SELECT COUNT(*) FROM trials t WHERE t.run_id = r.id) AS trials "
            "FROM runs r ORDER BY r.started_at DESC"
        )
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [_run(row) for row in self._conn.execute(sql, params)]

    def get_run(self, run_id: str) -> RunRecord:
        row = self._conn.execute(
            "SELECT r.*, (SELECT COUNT(*) FROM trials t WHERE t.run_id = r.id) AS trials "
            "FROM runs r WHERE r.id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run '{run_id}' in {self.path}")
        return _run(row)

    def resolve_run_id(self, ref: str) -> str:
        """The full id ``ref`` names: an exact id, a unique prefix, ``latest`` or ``latest~N``.

        ``latest`` is the most recently started run and ``latest~N`` the one N runs before it, as
        git's ``HEAD~N`` counts back; a prefix must match exactly one run (git's short hashes).
        Raises ``RunNotFoundError`` naming the store, and for an ambiguous prefix the runs it
        matches.
        """
        text = ref.strip()
        match = _LATEST.fullmatch(text)
        if match:
            back = int(match[1] or 0)
            row = self._conn.execute(
                "SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ?", (back,)
            ).fetchone()
            if row is None:
                total = self.run_count()
                raise RunNotFoundError(
                    f"'{ref}': the store {self.path} holds {total} run{'' if total == 1 else 's'}"
                )
            return str(row[0])
        if not text:
            raise RunNotFoundError("an empty run id names no run")
        if self._conn.execute("SELECT 1 FROM runs WHERE id = ?", (text,)).fetchone():
            return text
        rows = self._conn.execute(
            "SELECT id FROM runs WHERE substr(id, 1, ?) = ? ORDER BY started_at DESC LIMIT 6",
            (len(text), text),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if not rows:
            raise RunNotFoundError(
                f"no run '{ref}' in {self.path} (`meta-orchestrator runs` lists the runs; "
                "a unique prefix, latest or latest~N also names one)"
            )
        shown = ", ".join(str(r[0]) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise RunNotFoundError(
            f"run id prefix '{ref}' is ambiguous in {self.path}: it matches {shown}; "
            "give more characters"
        )

    def stored_summary(self, run_id: str) -> StoredSummary | None:
        """The summary the run saved as it closed, or ``None`` (still running, killed, written by
        a version before schema 6, or the save failed): a reader then summarises the trials."""
        if not self._has("run_summaries", "summary_json"):
            return None
        row = self._conn.execute(
            "SELECT run_id, trials, status, summary_json, written_at FROM run_summaries "
            "WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return None if row is None else StoredSummary(*row)

    def experiments(self, run_id: str) -> list[ExperimentRecord]:
        rows = self._conn.execute(
            "SELECT * FROM experiments WHERE run_id = ? ORDER BY position", (run_id,)
        )
        samples = self._has("experiments", "dataset")
        return [
            ExperimentRecord(
                run_id=row["run_id"],
                position=row["position"],
                name=row["name"],
                orchestrator=row["orchestrator"],
                strategy=row["strategy"],
                variants=json.loads(row["variants_json"]),
                planned_trials=row["planned_trials"],
                status=row["status"],
                stop_reason=row["stop_reason"],
                dataset=row["dataset"] if samples else None,
                dataset_fingerprint=row["dataset_fingerprint"] if samples else None,
                epochs=row["epochs"] if samples else 1,
                scoring=json.loads(row["scoring_json"]) if samples and row["scoring_json"] else {},
            )
            for row in rows
        ]

    # ---------------------------------------------------------------------------------- samples
    def datasets(self, run_id: str) -> list[str]:
        """Names of the datasets whose samples the run stored."""
        if not self._has("samples", "sample_id"):
            return []
        rows = self._conn.execute(
            "SELECT DISTINCT dataset FROM samples WHERE run_id = ? ORDER BY dataset", (run_id,)
        )
        return [row[0] for row in rows]

    def samples(self, run_id: str, dataset: str) -> Iterator[Sample]:
        """The run's samples of ``dataset`` in their order (none in a store without samples)."""
        if not self._has("samples", "sample_id"):
            return
        cursor = self._conn.execute(
            "SELECT sample_id, input_json, target_json, metadata_json FROM samples "
            "WHERE run_id = ? AND dataset = ? ORDER BY position",
            (run_id, dataset),
        )
        for row in cursor:
            target = None if row[2] is None else json.loads(row[2])
            yield Sample(row[0], json.loads(row[1]), target, json.loads(row[3]))

    def sample_outcomes(
        self, run_id: str, experiment: str, dataset: str, variant: str | None = None
    ) -> Iterator[tuple[Sample, list[SampleOutcome]]]:
        """Each stored sample of ``dataset`` in order, with how each variant did on it so far.

        Streamed: one sample's rows at a time, however large the run. A sample no trial reached
        yet comes with an empty list. Success counts trials that finished ``ok`` with ``success``
        1, as the success rate does.
        """
        if not self._has("samples", "sample_id"):
            return
        only = "AND variant = :variant" if variant is not None else ""
        cursor = self._conn.execute(
            f"""
            WITH outcome AS (
                SELECT sample_id, variant, COUNT(*) AS n,
                       COALESCE(SUM(CASE WHEN status = 'ok' THEN success ELSE 0 END), 0) AS c,
                       SUM(status != 'ok') AS errors, COALESCE(SUM(score), 0.0) AS score_sum
                FROM trials
                WHERE run_id = :run AND experiment = :exp AND sample_id IS NOT NULL {only}
                GROUP BY sample_id, variant
            )
            SELECT s.sample_id, s.input_json, s.target_json, s.metadata_json,
                   o.variant, o.n, o.c, o.errors, o.score_sum
            FROM samples s LEFT JOIN outcome o ON o.sample_id = s.sample_id
            WHERE s.run_id = :run AND s.dataset = :dataset
            ORDER BY s.position, o.variant
            """,
            {"run": run_id, "exp": experiment, "dataset": dataset, "variant": variant},
        )
        sample: Sample | None = None
        outcomes: list[SampleOutcome] = []
        for row in cursor:
            if sample is None or row[0] != sample.id:
                if sample is not None:
                    yield sample, outcomes
                target = None if row[2] is None else json.loads(row[2])
                sample = Sample(row[0], json.loads(row[1]), target, json.loads(row[3]))
                outcomes = []
            if row[4] is not None:
                outcomes.append(
                    SampleOutcome(row[4], row[0], row[5], int(row[6]), int(row[7] or 0), row[8])
                )
        if sample is not None:
            yield sample, outcomes

    def sample(self, run_id: str, dataset: str, sample_id: str) -> Sample | None:
        """One stored sample of the run's ``dataset``, or ``None``."""
        if not self._has("samples", "sample_id"):
            return None
        row = self._conn.execute(
            "SELECT sample_id, input_json, target_json, metadata_json FROM samples "
            "WHERE run_id = ? AND dataset = ? AND sample_id = ?",
            (run_id, dataset, sample_id),
        ).fetchone()
        if row is None:
            return None
        target = None if row[2] is None else json.loads(row[2])
        return Sample(row[0], json.loads(row[1]), target, json.loads(row[3]))

    def sample_trials(self, run_id: str, experiment: str, sample_id: str) -> list[TrialResult]:
        """Every trial of ``experiment`` on one sample, by variant and epoch (the sample page)."""
        if not self._has("trials", "sample_id"):
            return []
        cursor = self._conn.execute(
            "SELECT * FROM trials WHERE run_id = ? AND experiment = ? AND sample_id = ? "
            "ORDER BY variant, epoch, seq",
            (run_id, experiment, sample_id),
        )
        return [_trial(row) for row in cursor]

    def sample_sums(self, run_id: str, experiment: str) -> list[SampleSums]:
        """Per ``(variant, sample)`` counts and sums of score and success (one grouped query)."""
        if not self._has("trials", "sample_id"):
            return []
        rows = self._conn.execute(
            """
            SELECT variant, sample_id, COUNT(*), COUNT(score), COALESCE(SUM(score), 0.0),
                   COALESCE(SUM(score * score), 0.0),
                   COALESCE(SUM(CASE WHEN status = 'ok' THEN success ELSE 0 END), 0.0)
            FROM trials
            WHERE run_id = ? AND experiment = ? AND sample_id IS NOT NULL
            GROUP BY variant, sample_id
            ORDER BY variant, sample_id
            """,
            (run_id, experiment),
        )
        return [SampleSums(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def paired_sample_scores(
        self, run_id: str, experiment: str, variant_a: str, variant_b: str
    ) -> Iterator[tuple[str, float, float, int]]:
        """Per sample both variants ran: the mean score of each over the epochs both ran, and how
        many epochs that is, as ``(sample_id, mean_a, mean_b, epochs)``. Trials are matched on
        ``(sample, epoch)``, so a bandit's unequal counts pair only their shared prefix."""
        if not self._has("trials", "sample_id"):
            return
        # One sorted scan merged here: a self-join on (sample, epoch) finds no index to use and
        # would compare every trial of one variant with every trial of the other.
        cursor = self._conn.execute(
            """
            SELECT sample_id, epoch, variant, score FROM trials
            WHERE run_id = ? AND experiment = ? AND variant IN (?, ?)
              AND sample_id IS NOT NULL AND score IS NOT NULL
            ORDER BY sample_id, epoch, variant = ?
            """,
            (run_id, experiment, variant_a, variant_b, variant_b),
        )
        sample: str | None = None
        sum_a = sum_b = 0.0
        matched = 0
        pending: tuple[str, int, float] | None = None  # the last row of variant A, awaiting B
        for sample_id, epoch, variant, score in cursor:
            if sample_id != sample:
                if matched:
                    yield str(sample), sum_a / matched, sum_b / matched, matched
                sample, sum_a, sum_b, matched, pending = sample_id, 0.0, 0.0, 0, None
            if variant == variant_a:
                pending = (sample_id, epoch, float(score))
            elif pending is not None and pending[:2] == (sample_id, epoch):
                sum_a += pending[2]
                sum_b += float(score)
                matched += 1
                pending = None
        if matched:
            yield str(sample), sum_a / matched, sum_b / matched, matched

    # ----------------------------------------------------------------------------------- trials
    def trial_count(
        self, run_id: str, experiment: str | None = None, *, through_seq: int | None = None
    ) -> int:
        sql, params = "SELECT COUNT(*) FROM trials WHERE run_id = ?", [run_id]
        if experiment is not None:
            sql += " AND experiment = ?"
            params.append(experiment)
        if through_seq is not None:
            sql += " AND seq <= ?"
            params.append(through_seq)
        return int(self._conn.execute(sql, params).fetchone()[0])

    def iter_trials(
        self, run_id: str, *, experiment: str | None = None, after_seq: int = 0
    ) -> Iterator[tuple[int, TrialResult]]:
        """Trials in commit order, as ``(seq, result)``; ``after_seq`` reads only newer ones."""
        sql = "SELECT * FROM trials WHERE run_id = ? AND seq > ?"
        params: list[object] = [run_id, after_seq]
        if experiment is not None:
            sql += " AND experiment = ?"
            params.append(experiment)
        cursor = self._conn.execute(sql + " ORDER BY seq", params)
        convert = _trial if self._has("trials", "sample_id") else _legacy_trial
        for row in cursor:
            yield row["seq"], convert(row)

    def iter_trial_json(self, run_id: str) -> Iterator[str]:
        """Each trial as the JSON text of ``TrialResult.to_dict()``, in commit order."""
        for batch in self.trial_json_batches(run_id):
            yield from batch

    def last_trial_seq(self, run_id: str) -> int:
        """The ``seq`` of the run's newest committed trial (0 before its first). Trials are only
        ever appended, so every trial committed later has a higher one."""
        row = self._conn.execute("SELECT MAX(seq) FROM trials WHERE run_id = ?", (run_id,))
        return int(row.fetchone()[0] or 0)

    def trial_json_batches(
        self, run_id: str, size: int = 256, *, after_seq: int = 0, through_seq: int | None = None
    ) -> Iterator[list[str]]:
        """The texts of ``iter_trial_json`` in lists of up to ``size``, for writers of big files;
        ``after_seq`` and ``through_seq`` bound the ``seq`` of the trials read (a follower of a
        running run reads each new range once).

        SQLite assembles the text (the stored metrics, output and details are JSON already), so
        ``results.json`` costs no ``TrialResult`` and no ``json.dumps`` per trial. Only the REAL
        columns are formatted in Python (one ``%`` per trial), because SQLite prints 15
        significant digits where ``repr`` round-trips. Equal, once parsed, to
        ``json.dumps(trial.to_dict())`` (non-ASCII text stays unescaped).

        A run's trials usually fill one range of ``seq``: then they are read in table order, which
        needs no sort (sorting 50,000 assembled texts cost a quarter of a second).
        """
        if not self._has("trials", "sample_id"):  # an old schema: through TrialResult
            batch = []
            for seq, trial in self.iter_trials(run_id, after_seq=after_seq):
                if through_seq is not None and seq > through_seq:
                    break
                batch.append(
                    json.dumps({k: getattr(trial, k) for k in _TRIAL_KEYS}, allow_nan=False)
                )
                if len(batch) == size:
                    yield batch
                    batch = []
            if batch:
                yield batch
            return
        bounds = "run_id = ? AND seq > ?" + ("" if through_seq is None else " AND seq <= ?")
        params = (run_id, after_seq) + (() if through_seq is None else (through_seq,))
        first, last, count = self._conn.execute(
            f"SELECT MIN(seq), MAX(seq), COUNT(*) FROM trials WHERE {bounds}", params
        ).fetchone()
        if not count:
            return
        cursor = self._conn.cursor()
        cursor.row_factory = None  # plain tuples, straight into the ``%``
        if last - first < 2 * count:  # mostly this run's rows: scan the range
            cursor.execute(_TRIAL_JSON_IN_RANGE, (first, last, run_id))
        else:  # interleaved with another run's: the index, and a sort
            cursor.execute(_TRIAL_JSON_OF_RUN, (run_id, first, last))
        while rows := cursor.fetchmany(size):
            yield [_TRIAL_JSON_TEXT % row for row in rows]

    def completed_indices(self, run_id: str, experiment: str) -> set[int]:
        rows = self._conn.execute(
            "SELECT trial_index FROM trials WHERE run_id = ? AND experiment = ?",
            (run_id, experiment),
        )
        return {row[0] for row in rows}

    def choice_counts(self, run_id: str, experiment: str) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT variant, COUNT(*) FROM trials WHERE run_id = ? AND experiment = ? "
            "GROUP BY variant",
            (run_id, experiment),
        )
        return {row[0]: int(row[1]) for row in rows}

    def error_kind_counts(self, run_id: str) -> dict[str, int]:
        """How many of the run's failed trials ended with each ``error_kind`` (``rate_limited``...)."""
        if not self._has("trials", "error_kind"):  # a store before schema 4
            return {}
        rows = self._conn.execute(
            "SELECT error_kind, COUNT(*) FROM trials WHERE run_id = ? AND status != 'ok' "
            "AND error_kind IS NOT NULL GROUP BY error_kind ORDER BY error_kind",
            (run_id,),
        )
        return {row[0]: int(row[1]) for row in rows}

    def variant_aggregates(self, run_id: str, experiment: str) -> list[VariantAggregate]:
        """One aggregate per variant; variance via the two-pass form inside SQL for accuracy."""
        rows = self._conn.execute(
            """
            WITH m AS (
                SELECT variant, AVG(score) AS mean_score
                FROM trials WHERE run_id = :run AND experiment = :exp AND score IS NOT NULL
                GROUP BY variant
            )
            SELECT t.variant AS variant,
                   COUNT(*) AS trials,
                   SUM(t.status = 'ok') AS ok,
                   SUM(t.status = 'error') AS errors,
                   SUM(t.status = 'timeout') AS timeouts,
                   COUNT(t.score) AS score_n,
                   m.mean_score AS score_mean,
                   COALESCE(SUM((t.score - m.mean_score) * (t.score - m.mean_score)), 0.0) AS m2,
                   COALESCE(SUM(CASE WHEN t.status = 'ok' THEN t.success ELSE 0 END), 0.0)
                       AS successes,
                   COUNT(*) AS success_n,
                   AVG(t.latency) AS latency_mean,
                   COALESCE(SUM(t.cost), 0.0) AS cost_total
            FROM trials t LEFT JOIN m ON m.variant = t.variant
            WHERE t.run_id = :run AND t.experiment = :exp
            GROUP BY t.variant
            ORDER BY t.variant
            """,
            {"run": run_id, "exp": experiment},
        )
        return [
            VariantAggregate(
                experiment=experiment,
                variant=row["variant"],
                trials=row["trials"],
                ok=row["ok"] or 0,
                errors=row["errors"] or 0,
                timeouts=row["timeouts"] or 0,
                score_n=row["score_n"],
                score_mean=row["score_mean"],
                score_m2=row["m2"],
                successes=row["successes"],
                success_n=row["success_n"],
                latency_mean=row["latency_mean"],
                cost_total=row["cost_total"],
            )
            for row in rows
        ]

    def latency_quantile(
        self, run_id: str, experiment: str, variant: str, q: float
    ) -> float | None:
        """The ``q`` quantile of latency (nearest rank)."""
        return self.latency_quantiles(run_id, experiment, variant, (q,))[0]

    def latency_quantiles(
        self,
        run_id: str,
        experiment: str,
        variant: str,
        qs: Sequence[float],
        count: int | None = None,
    ) -> list[float | None]:
        """The ``qs`` quantiles of latency (nearest rank) of the variant's trials.

        The latencies are read in one scan into a float array (8 bytes a trial) and the ranks are
        selected with ``numpy.partition``: SQLite sorting them (a window function over ``ORDER BY
        latency``) cost 0.13-0.26 s per 50,000 trials, the scan and the selection 30 ms. ``count``:
        the variant's trials, when the caller knows it (none: nothing is read)."""
        if count == 0:
            return [None] * len(qs)
        import numpy as np  # lazily: the store is imported by every command

        cursor = self._conn.cursor()
        cursor.row_factory = None  # plain tuples
        cursor.execute(
            "SELECT latency FROM trials WHERE run_id = ? AND experiment = ? AND variant = ?",
            (run_id, experiment, variant),
        )
        latencies = np.fromiter((row[0] for row in cursor), dtype=np.float64)
        count = len(latencies)
        if count == 0:
            return [None] * len(qs)
        ranks = [min(count - 1, max(0, math.ceil(q * count) - 1)) for q in qs]
        chosen = np.partition(latencies, sorted(set(ranks)))
        return [float(chosen[rank]) for rank in ranks]

    def metric_values(
        self, run_id: str, experiment: str, variant: str, metric: str = "score"
    ) -> Iterator[float]:
        """The values of one metric for a variant: ``score`` and ``latency`` of every trial (a
        failed trial has both), any other metric (``cost``, custom ones) of the trials that finished ok."""
        if metric in ("score", "latency", "cost", "success"):
            status = "" if metric in ("score", "latency") else "AND status = 'ok' "
            cursor = self._conn.execute(
                f"SELECT {metric} FROM trials WHERE run_id = ? AND experiment = ? AND variant = ? "
                f"{status}AND {metric} IS NOT NULL",
                (run_id, experiment, variant),
            )
            for row in cursor:
                yield float(row[0])
            return
        cursor = self._conn.execute(
            "SELECT json_extract(metrics_json, ?) FROM trials WHERE run_id = ? AND experiment = ? "
            "AND variant = ? AND status = 'ok'",
            (f'$."{metric}"', run_id, experiment, variant),
        )
        for row in cursor:
            if row[0] is not None:
                yield float(row[0])

    # ------------------------------------------------------------------------- whole-run views
    def run_count(self) -> int:
        """How many runs the store holds (the dashboard redraws when it changes)."""
        return int(self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def max_seq(self, run_id: str) -> int:
        """The commit sequence number of the run's newest trial; 0 before its first."""
        row = self._conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM trials WHERE run_id = ?", (run_id,)
        ).fetchone()
        return int(row[0])

    def score_sequence(
        self, run_id: str, experiment: str, after_seq: int = 0
    ) -> Iterator[tuple[int, str, float | None]]:
        """``(seq, variant, score)`` of an experiment's trials in commit order, after ``after_seq``:
        what a confidence sequence needs, which depends on the order the scores came in."""
        cursor = self._conn.execute(
            "SELECT seq, variant, score FROM trials WHERE run_id = ? AND experiment = ? "
            "AND seq > ? ORDER BY seq",
            (run_id, experiment, after_seq),
        )
        for row in cursor:
            yield int(row[0]), str(row[1]), None if row[2] is None else float(row[2])

    def bucket_sums(self, run_id: str, upto: int, buckets: int) -> list[BucketSums]:
        """Per (experiment, variant, bucket) sums of the run's trials with ``seq <= upto``.

        Each experiment's commit order (its ``seq`` span) is cut into ``buckets`` equal slices, so
        a whole run becomes at most ``buckets`` points per variant: one grouped scan of the run's
        index, no per-row work in Python. Ordered by experiment, bucket, variant.
        """
        rows = self._conn.execute(
            """
            WITH span AS (
                SELECT experiment, MIN(seq) AS lo, MAX(seq) AS hi FROM trials
                WHERE run_id = :run AND seq <= :upto GROUP BY experiment
            )
            SELECT t.experiment, t.variant,
                   CAST((t.seq - s.lo) * :buckets / (s.hi - s.lo + 1) AS INTEGER) AS bucket,
                   COUNT(*) AS trials, COUNT(t.score) AS score_n, TOTAL(t.score) AS score_sum,
                   TOTAL(t.score * t.score) AS score_sq, TOTAL(t.status != 'ok') AS failures,
                   MAX(t.seq) AS last_seq
            FROM trials t JOIN span s ON s.experiment = t.experiment
            WHERE t.run_id = :run AND t.seq <= :upto
            GROUP BY t.experiment, bucket, t.variant
            ORDER BY t.experiment, bucket, t.variant
            """,
            {"run": run_id, "upto": upto, "buckets": max(1, buckets)},
        )
        return [
            BucketSums(
                experiment=row["experiment"],
                variant=row["variant"],
                bucket=row["bucket"],
                trials=row["trials"],
                failures=int(row["failures"]),
                score_n=row["score_n"],
                score_sum=row["score_sum"],
                score_sq=row["score_sq"],
                last_seq=row["last_seq"],
            )
            for row in rows
        ]

    def histogram(self, run_id: str, experiment: str, column: str, bins: int) -> list[HistogramBin]:
        """Trials per variant in ``bins`` equal-width bins of ``column`` (one of
        ``HISTOGRAM_COLUMNS``), computed in SQL; empty when no trial has a value.

        When every value is the same there is one narrow bin around it. Raises ``ValueError`` for
        another column.
        """
        if column not in HISTOGRAM_COLUMNS:
            raise ValueError(f"no histogram for column {column!r}")
        where = f"run_id = ? AND experiment = ? AND {column} IS NOT NULL"
        low, high = self._conn.execute(
            f"SELECT MIN({column}), MAX({column}) FROM trials WHERE {where}", (run_id, experiment)
        ).fetchone()
        if low is None:
            return []
        if high == low:
            half = abs(low) * 0.01 or 1e-6
            low, high, bins = low - half, high + half, 1
        width = (high - low) / bins
        rows = self._conn.execute(
            f"SELECT variant, MIN(CAST(({column} - ?) / ? AS INTEGER), ?) AS b, COUNT(*) "
            f"FROM trials WHERE {where} GROUP BY variant, b ORDER BY variant, b",
            (low, width, bins - 1, run_id, experiment),
        )
        return [HistogramBin(v, low + b * width, low + (b + 1) * width, n) for v, b, n in rows]

    def export_rows(self, run_id: str, limit: int | None = None) -> Iterator[tuple[Any, ...]]:
        """The run's raw trial rows in commit order (``EXPORT_COLUMNS``), at most ``limit``.

        Streamed from a cursor; ``metrics_json`` and ``output_json`` are left as the stored JSON
        text. A column an older schema lacks (``sample_id``, ``epoch``, ...) comes back as ``None``.
        """
        columns = ", ".join(c if self._has("trials", c) else f"NULL AS {c}" for c in EXPORT_COLUMNS)
        cursor = self._conn.execute(
            f"SELECT {columns} FROM trials WHERE run_id = ? ORDER BY seq LIMIT ?",
            (run_id, -1 if limit is None else limit),
        )
        yield from cursor

    # ------------------------------------------------------------------------------------- logs
    def logs(self, run_id: str, *, after_seq: int = 0, tail: int | None = None) -> list[LogLine]:
        if tail is not None:
            rows = self._conn.execute(
                "SELECT * FROM (SELECT * FROM logs WHERE run_id = ? AND seq > ? "
                "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                (run_id, after_seq, tail),
            )
        else:
            rows = self._conn.execute(
                "SELECT * FROM logs WHERE run_id = ? AND seq > ? ORDER BY seq", (run_id, after_seq)
            )
        return [LogLine(row["seq"], row["ts"], row["level"], row["message"]) for row in rows]

    # --------------------------------------------------------------------------------- snapshot
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Make every read inside the block see one state of the store, even while a run writes.

        A WAL read transaction: a report built inside it has summary counts that match its trials.
        Nested use is a no-op. Keep the block short; a long one delays the writer's checkpoints.
        """
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.rollback()


_TRIAL_KEYS = tuple(TrialResult.__dataclass_fields__)

# The pieces of one trial's JSON between its REAL columns, in ``TrialResult`` field order; each
# REAL column is passed as the number, or as the text ``null`` where it is NULL or infinite (JSON
# has no infinity; SQLite stores NaN as NULL).
_REAL = "CASE WHEN abs({0}) <= 1.7976931348623157e308 THEN {0} ELSE 'null' END"
_TRIAL_JSON_SQL = f"""
SELECT
    '{{"run_id": ' || json_quote(run_id) || ', "experiment": ' || json_quote(experiment)
        || ', "variant": ' || json_quote(variant) || ', "index": ' || trial_index
        || ', "seed": ' || seed || ', "status": ' || json_quote(status) || ', "started_at": ',
    {_REAL.format("started_at")}, {_REAL.format("ended_at")}, {_REAL.format("latency")},
    ', "metrics": ' || metrics_json || ', "score": ',
    {_REAL.format("score")},
    ', "error": ' || json_quote(error) || ', "traceback": ' || json_quote(traceback)
        || ', "attempts": ' || attempts || ', "node_id": ' || json_quote(node_id)
        || ', "sample_id": ' || json_quote(sample_id) || ', "epoch": ' || epoch
        || ', "output": ' || COALESCE(output_json, 'null')
        || ', "output_truncated": ' || CASE WHEN output_truncated THEN 'true' ELSE 'false' END
        || ', "explanation": ' || json_quote(explanation)
        || ', "details": ' || COALESCE(details_json, '{{}}')
        || ', "transient_retries": ' || transient_retries
        || ', "error_kind": ' || json_quote(error_kind) || '}}'
FROM trials
"""
# The run's rows in rowid order (no sort), or through the index and a sort.
_TRIAL_JSON_IN_RANGE = (
    _TRIAL_JSON_SQL + "NOT INDEXED WHERE seq BETWEEN ? AND ? AND run_id = ? ORDER BY seq"
)
_TRIAL_JSON_OF_RUN = _TRIAL_JSON_SQL + "WHERE run_id = ? AND seq BETWEEN ? AND ? ORDER BY seq"
# ``%s`` of a float is its ``repr``: the shortest text that reads back as the same number.
_TRIAL_JSON_TEXT = '%s%s, "ended_at": %s, "latency": %s%s%s%s'


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(**{k: row[k] for k in row.keys()})


def _trial(row: sqlite3.Row) -> TrialResult:
    output, details = row["output_json"], row["details_json"]
    return TrialResult(
        run_id=row["run_id"],
        experiment=row["experiment"],
        variant=row["variant"],
        index=row["trial_index"],
        seed=row["seed"],
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        latency=row["latency"],
        metrics=json.loads(row["metrics_json"]),
        score=row["score"],
        error=row["error"],
        traceback=row["traceback"],
        attempts=row["attempts"],
        node_id=row["node_id"],
        sample_id=row["sample_id"],
        epoch=row["epoch"],
        output=None if output is None else json.loads(output),
        output_truncated=bool(row["output_truncated"]),
        explanation=row["explanation"],
        details={} if details is None else json.loads(details),
        transient_retries=row["transient_retries"],
        error_kind=row["error_kind"],
    )


def _legacy_trial(row: sqlite3.Row) -> TrialResult:
    """A trial of a store written before samples existed (schema 1 or 2)."""
    return TrialResult(
        run_id=row["run_id"],
        experiment=row["experiment"],
        variant=row["variant"],
        index=row["trial_index"],
        seed=row["seed"],
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        latency=row["latency"],
        metrics=json.loads(row["metrics_json"]),
        score=row["score"],
        error=row["error"],
        traceback=row["traceback"],
        attempts=row["attempts"],
        node_id=row["node_id"],
    )
