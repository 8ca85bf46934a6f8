"""The run store's single writer.

Only the orchestrating process writes (workers hand results back to it): SQLite with several writers
is a known way to crash runs. A background thread owns the connection; callers enqueue rows and never
wait on disk. Rows are committed in batches at most ``COMMIT_INTERVAL`` seconds after they were
queued, so another process following the run sees a trial within about 100 ms of its completion.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meta_orchestrator.core.datasets import Sample
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.errors import StoreError
from meta_orchestrator.store.connection import connect_for_writing

COMMIT_INTERVAL = 0.1
_MAX_BATCH = 5000
_MAX_QUEUED = 2 * _MAX_BATCH  # rows; past this, add_trial waits for the writer
_ROWS_PER_STATEMENT = 500  # fewer if the SQLite build allows fewer bound variables

_INSERT_TRIAL = """
INSERT OR IGNORE INTO trials (run_id, experiment, variant, trial_index, seed, status, started_at,
    ended_at, latency, score, success, cost, metrics_json, error, traceback, attempts, node_id,
    sample_id, epoch, output_json, output_truncated, explanation, details_json, transient_retries,
    error_kind)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_INSERT_LOG = "INSERT INTO logs (run_id, ts, level, message) VALUES (?, ?, ?, ?)"
_INSERT_SAMPLE = """
INSERT OR IGNORE INTO samples (run_id, dataset, sample_id, position, input_json, target_json,
    metadata_json)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""


@dataclass(frozen=True, slots=True)
class NewRun:
    """The row written when a run starts."""

    id: str
    name: str
    orchestrator: str
    backend: str
    seed: int
    planned_trials: int
    config_yaml: str
    config_path: str | None
    started_at: float
    package_version: str
    git_commit: str | None
    host: str | None
    pid: int | None
    results_dir: str | None = None


def trial_row(result: TrialResult) -> tuple[Any, ...]:
    metrics = result.metrics
    success = metrics.get("success")
    return (
        result.run_id,
        result.experiment,
        result.variant,
        result.index,
        result.seed,
        result.status,
        result.started_at,
        result.ended_at,
        result.latency,
        _finite_or_none(result.score),
        None if success is None else float(success),
        float(metrics.get("cost", 0.0)),
        _metrics_json(metrics),
        result.error,
        result.traceback,
        result.attempts,
        result.node_id,
        result.sample_id,
        result.epoch,
        None if result.output is None else _any_json(result.output),
        1 if result.output_truncated else 0,
        result.explanation,
        _any_json(result.details) if result.details else None,
        result.transient_retries,
        result.error_kind,
    )


def sample_row(run_id: str, dataset: str, position: int, sample: Sample) -> tuple[Any, ...]:
    return (
        run_id,
        dataset,
        sample.id,
        position,
        _any_json(sample.input),
        None if sample.target is None else _any_json(sample.target),
        _any_json(sample.metadata),
    )


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


_encode_json = json.JSONEncoder(allow_nan=False, default=float).encode


_encode_any = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def _any_json(value: Any) -> str:
    """JSON of a value the runner checked to be JSON; anything else is kept as its text."""
    try:
        return _encode_any(value)
    except (TypeError, ValueError):
        return _encode_any(repr(value))


def _metrics_json(metrics: dict[str, float]) -> str:
    try:
        return _encode_json(metrics)
    except ValueError:  # a non-finite value: the row keeps its columns, the JSON stays valid
        return "{}"


class _Barrier:
    def __init__(self) -> None:
        self.done = threading.Event()


class _Statement:
    def __init__(self, sql: str, params: tuple[Any, ...]) -> None:
        self.sql = sql
        self.params = params
        self.done = threading.Event()


class _Rows(_Statement):
    """Many rows of one statement, written in the same transaction: all of them or none."""

    def __init__(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        super().__init__(sql, ())
        self.rows = rows


class StoreWriter:
    """Queue-fed writer of one store file. Thread-safe; ``close`` commits everything queued."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = connect_for_writing(self.path)
        self._max_variables = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake = threading.Event()  # set by callers that wait; rows never wake the thread
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="store-writer", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------------------- public API
    def create_run(self, run: NewRun) -> None:
        self.execute(
            """INSERT INTO runs (id, name, status, orchestrator, backend, seed, planned_trials,
                config_yaml, config_path, started_at, package_version, git_commit, host, pid,
                results_dir)
               VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                run.id,
                run.name,
                run.orchestrator,
                run.backend,
                run.seed,
                run.planned_trials,
                run.config_yaml,
                run.config_path,
                run.started_at,
                run.package_version,
                run.git_commit,
                run.host,
                run.pid,
                run.results_dir,
            ),
        )

    def mark_running(self, run_id: str, pid: int | None) -> None:
        self.execute(
            "UPDATE runs SET status = 'running', ended_at = NULL, stop_reason = NULL, error = NULL, "
            "pid = ? WHERE id = ?",
            (pid, run_id),
        )

    def upsert_experiment(
        self,
        run_id: str,
        position: int,
        name: str,
        orchestrator: str,
        strategy: str | None,
        variants: list[str],
        planned_trials: int,
        *,
        dataset: str | None = None,
        dataset_fingerprint: str | None = None,
        epochs: int = 1,
        scoring: dict[str, Any] | None = None,
    ) -> None:
        """Record an experiment once. ``scoring`` is how its trials are scored and reduced
        (weights, scorer names, reducer, k): what reports need to read its trials right."""
        self.execute(
            """INSERT INTO experiments (run_id, position, name, orchestrator, strategy, variants_json,
                   planned_trials, dataset, dataset_fingerprint, epochs, scoring_json)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (run_id, name) DO NOTHING""",
            (
                run_id,
                position,
                name,
                orchestrator,
                strategy,
                json.dumps(variants),
                planned_trials,
                dataset,
                dataset_fingerprint,
                epochs,
                None if scoring is None else json.dumps(scoring),
            ),
        )

    def add_samples(self, run_id: str, dataset: str, samples: Iterable[Sample]) -> None:
        """Store a run's samples of one dataset, in order, in one transaction (a crash leaves all
        or none of them; a second call adds nothing), and wait until they are committed: a run's
        trials never refer to samples the store lacks."""
        self._check()
        rows = [sample_row(run_id, dataset, i, sample) for i, sample in enumerate(samples)]
        statement = _Rows(_INSERT_SAMPLE, rows)
        self._queue.put(statement)
        self._wake.set()
        statement.done.wait()
        self._check()

    def set_experiment_status(
        self, run_id: str, name: str, status: str, stop_reason: str | None = None
    ) -> None:
        self.execute(
            "UPDATE experiments SET status = ?, stop_reason = ? WHERE run_id = ? AND name = ?",
            (status, stop_reason, run_id, name),
        )

    def finish_run(
        self,
        run_id: str,
        status: str,
        stop_reason: str | None = None,
        error: str | None = None,
        active_seconds: float | None = None,
    ) -> None:
        """Close a run. ``active_seconds`` is its wall time spent running, over every resume."""
        self.execute(
            "UPDATE runs SET status = ?, ended_at = ?, stop_reason = ?, error = ?, "
            "active_seconds = ? WHERE id = ?",
            (status, time.time(), stop_reason, error, active_seconds, run_id),
        )

    def add_trial(self, result: TrialResult) -> None:
        self._check()
        self._queue.put((_INSERT_TRIAL, trial_row(result)))
        if self._queue.qsize() > _MAX_QUEUED:
            # The writer fell behind (it shares the GIL with a fast producer): wait for it rather
            # than let the queue, and memory, grow with the number of trials.
            self.flush()

    def add_log(self, run_id: str, level: str, message: str) -> None:
        if not self._closed:
            self._queue.put((_INSERT_LOG, (run_id, time.time(), level, message)))

    def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        """Run one statement on the writer thread and wait until it is committed."""
        self._check()
        statement = _Statement(sql, params)
        self._queue.put(statement)
        self._wake.set()
        statement.done.wait()
        self._check()

    def flush(self) -> None:
        """Block until every row queued so far is committed."""
        if self._closed:
            return
        barrier = _Barrier()
        self._queue.put(barrier)
        self._wake.set()
        barrier.done.wait()
        self._check()

    def close(self) -> None:
        """Commit what is queued and stop the thread; a failed write still raises, after cleanup."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._queue.put(None)
            self._wake.set()
            self._thread.join()
            self._conn.close()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------- writer thread
    def _check(self) -> None:
        if self._error is not None:
            raise StoreError(f"writing the run store {self.path} failed: {self._error}") from (
                self._error
            )
        if self._closed:
            raise StoreError(f"the run store writer for {self.path} is closed")

    def _loop(self) -> None:
        backlog = False
        while True:
            items = [self._queue.get()]
            if isinstance(items[0], tuple) and not backlog:
                # Let rows gather for up to the commit interval. Rows do not wake this thread (a
                # wake-up per row costs the producer a GIL hand-off per trial); a caller waiting on
                # a flush or a statement sets ``_wake`` and cuts the wait short.
                self._wake.wait(COMMIT_INTERVAL)
            self._wake.clear()
            backlog = self._drain(items)
            if self._write(items):
                return
            del items  # an idle writer holds no rows

    def _drain(self, items: list[Any]) -> bool:
        """Move queued items into ``items``; True if the batch is full and more may be waiting."""
        while len(items) < _MAX_BATCH:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return False
        return True

    def _write(self, items: list[Any]) -> bool:
        """Commit ``items`` in one transaction; consecutive rows go in with one ``executemany``."""
        waiters = [item.done for item in items if isinstance(item, _Statement | _Barrier)]
        try:
            with self._conn:
                for sql, group in itertools.groupby(items, _row_sql):
                    if sql is not None:
                        self._insert_rows(sql, [row for _, row in group])
                        continue
                    for item in group:
                        if isinstance(item, _Rows):
                            if item.rows:
                                self._insert_rows(item.sql, item.rows)
                        elif isinstance(item, _Statement):
                            self._conn.execute(item.sql, item.params)
        except sqlite3.Error as exc:  # surfaced to the orchestrating thread on its next call
            self._error = exc
        for event in waiters:
            event.set()
        return any(item is None for item in items)

    def _insert_rows(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        # sqlite3 releases the GIL around every statement step and must win it back from the
        # orchestrating thread: one step per row starves the writer. Many rows per statement don't.
        size = max(1, min(_ROWS_PER_STATEMENT, self._max_variables // len(rows[0])))
        full = len(rows) - len(rows) % size
        if full:
            many = _multi_row_sql(sql, size)
            for start in range(0, full, size):
                self._conn.execute(
                    many, list(itertools.chain.from_iterable(rows[start : start + size]))
                )
        if full < len(rows):
            self._conn.executemany(sql, rows[full:])


@functools.cache
def _multi_row_sql(sql: str, rows: int) -> str:
    head, _, values = sql.rpartition("VALUES")
    return f"{head}VALUES {', '.join([values.strip()] * rows)}"


def _row_sql(item: Any) -> str | None:
    """The statement of a queued row (``(sql, params)``); ``None`` for statements and barriers."""
    return item[0] if isinstance(item, tuple) else None
