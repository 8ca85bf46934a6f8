"""The run store's single writer.

Only the orchestrating process writes (workers hand results back to it): SQLite with several writers
is a known way to crash runs. A background thread owns the connection; callers enqueue rows and never
wait on disk. Rows are committed in batches at most ``COMMIT_INTERVAL`` seconds after they were
queued, so another process following the run sees a trial within about 100 ms of its completion.

Nothing a caller hands in may kill the thread or lose a batch quietly. Text is stored as valid
UTF-8: a batch SQLite refuses for a lone surrogate is cleaned (each surrogate becomes U+FFFD) and
written again, so the common case pays nothing. An integer beyond SQLite's 64 bits in a statement
is refused in the caller's thread. A locked database is retried with backoff for up to
``WRITE_RETRY_SECONDS``; any other failure is logged at once, the rows of the failed batch are
written one by one so that only the bad ones are lost, and the error is raised from the caller's
next call. Every wait is bounded: a writer that cannot commit within the retry time (or whose thread
is gone) raises ``StoreError`` instead of hanging.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
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
BUSY_TIMEOUT = 5.0  # seconds one statement waits for another process's lock (SQLite busy_timeout)
WRITE_RETRY_SECONDS = 120.0  # how long a batch is retried, with backoff, while the file is locked
_WAIT_MARGIN = 30.0  # a caller's wait beyond the retry time before it calls the writer stuck
_INT64 = (-(2**63), 2**63 - 1)
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
_HEARTBEAT = "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND owner_token = ?"
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
    owner_token: str | None = None
    owner_started: float | None = None


log = logging.getLogger("meta_orchestrator.store")


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


def clean_text(text: str | None) -> str | None:
    """``text`` as valid UTF-8: SQLite refuses a lone surrogate (``"x \\udcff"``, from an agent's
    exception or a file decoded with ``surrogateescape``), so each becomes U+FFFD."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _clean_params(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """Statement parameters SQLite can bind: text cleaned, integers checked against 64 bits."""
    cleaned = []
    for position, value in enumerate(params, 1):
        if isinstance(value, str):
            value = clean_text(value)
        elif isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            raise StoreError(
                f"value {value} (parameter {position}) is beyond the 64-bit integers the run "
                "store can hold"
            )
        cleaned.append(value)
    return tuple(cleaned)


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
    """The metrics as JSON, as ``json.dumps`` writes them. A run's trials share a few sets of
    metric names, so the common case (finite floats, the runner's validated metrics) fills a
    template made once per set: ``json.dumps`` builds its C encoder on every call, which cost
    twice the template's time, and this runs once per trial."""
    keys = tuple(metrics)
    template = _METRICS_TEMPLATES.get(keys)
    if template is None:
        template = _metrics_template(keys)
    if template:
        values = tuple(metrics.values())
        for value in values:
            if type(value) is not float:  # an int, a bool or a numpy number: the encoder decides
                break
        else:
            if math.isfinite(sum(values)):  # else one is not finite (or the sum overflowed)
                return template % values  # ``%r`` of a float is what ``json`` writes for it
    try:
        return _encode_json(metrics)
    except ValueError:  # a non-finite value: the row keeps its columns, the JSON stays valid
        return "{}"


_METRICS_TEMPLATES: dict[tuple[Any, ...], str] = {}
_MAX_TEMPLATES = 256  # an agent inventing metric names per trial does not grow the cache


def _metrics_template(keys: tuple[Any, ...]) -> str:
    """``{"success": %r, ...}`` for ``keys``, remembered; ``""`` when they are not all strings."""
    if not all(type(key) is str for key in keys):
        return ""
    fields = ", ".join(json.dumps(key).replace("%", "%%") + ": %r" for key in keys)
    template = "{" + fields + "}"
    if len(_METRICS_TEMPLATES) < _MAX_TEMPLATES:
        _METRICS_TEMPLATES[keys] = template
    return template


class _Barrier:
    def __init__(self) -> None:
        self.done = threading.Event()


class _Statement:
    """One statement. ``always``: written even after an earlier write failed (closing the run as
    failed, the heartbeat); other statements are skipped then, so nothing is marked complete over
    lost rows."""

    def __init__(self, sql: str, params: tuple[Any, ...], always: bool = False) -> None:
        self.sql = sql
        self.params = params
        self.always = always
        self.rowcount = -1
        self.done = threading.Event()


class _Rows(_Statement):
    """Many rows of one statement, written in the same transaction: all of them or none."""

    def __init__(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        super().__init__(sql, ())
        self.rows = rows


class StoreWriter:
    """Queue-fed writer of one store file. Thread-safe; ``close`` commits everything queued."""

    def __init__(
        self,
        path: str | Path,
        *,
        retry_seconds: float = WRITE_RETRY_SECONDS,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self.retry_seconds = retry_seconds
        self._wait_limit = retry_seconds + busy_timeout + _WAIT_MARGIN
        self._conn = connect_for_writing(self.path, busy_timeout)
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
                results_dir, owner_token, owner_started, heartbeat_at)
               VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
                run.owner_token,
                run.owner_started,
                time.time(),
            ),
        )

    def claim_run(
        self,
        run_id: str,
        expected_token: str | None,
        token: str,
        host: str,
        pid: int,
        started_at: float | None,
    ) -> bool:
        """Take a run over, if its owner is still the one the caller read (``expected_token``) and
        it is not completed: one compare-and-set update, so of two claims exactly one wins. Marks
        the run ``running`` under the new owner; False if another process got there first."""
        statement = _Statement(
            "UPDATE runs SET status = 'running', ended_at = NULL, stop_reason = NULL, error = NULL, "
            "host = ?, pid = ?, owner_token = ?, owner_started = ?, heartbeat_at = ? "
            "WHERE id = ? AND status != 'completed' AND owner_token IS ?",
            (host, pid, token, started_at, time.time(), run_id, expected_token),
        )
        self._submit(statement)
        return statement.rowcount == 1

    def heartbeat(self, run_id: str, token: str) -> None:
        """Stamp the run as alive; queued, never waited on (see ``store.ownership``)."""
        if not self._closed:
            self._queue.put(_Statement(_HEARTBEAT, (time.time(), run_id, token), always=True))

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
        rows = [sample_row(run_id, dataset, i, sample) for i, sample in enumerate(samples)]
        self._submit(_Rows(_INSERT_SAMPLE, rows))

    def set_experiment_status(
        self, run_id: str, name: str, status: str, stop_reason: str | None = None
    ) -> None:
        self.execute(
            "UPDATE experiments SET status = ?, stop_reason = ? WHERE run_id = ? AND name = ?",
            (status, stop_reason, run_id, name),
        )

    def save_summary(self, run_id: str, trials: int, status: str, summary_json: str) -> None:
        """Keep the summary a run computed as it closed, for readers that would otherwise compute
        it again (the dashboard's first view of a big run); ``trials`` and ``status`` are what it
        holds for (``StoredSummary.holds_for``). Replaces the run's previous one (a resumed run's)."""
        self.execute(
            "INSERT OR REPLACE INTO run_summaries (run_id, trials, status, summary_json, "
            "written_at) VALUES (?, ?, ?, ?, ?)",
            (run_id, trials, status, summary_json, time.time()),
        )

    def finish_run(
        self,
        run_id: str,
        status: str,
        stop_reason: str | None = None,
        error: str | None = None,
        active_seconds: float | None = None,
        ended_at: float | None = None,
    ) -> None:
        """Close a run. ``active_seconds`` is its wall time spent running, over every resume.
        Written even after a failed write (so the run is marked ``failed``, not left running)."""
        ended = time.time() if ended_at is None else ended_at
        params = (status, ended, stop_reason, error, active_seconds, run_id)
        sql = (
            "UPDATE runs SET status = ?, ended_at = ?, stop_reason = ?, error = ?, "
            "active_seconds = ? WHERE id = ?"
        )
        self._submit(_Statement(sql, _clean_params(params), always=True), check_error=False)

    def add_trial(self, result: TrialResult) -> None:
        if self._error is not None or self._closed:
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
        self._submit(_Statement(sql, _clean_params(params)))

    def flush(self) -> None:
        """Block until every row queued so far is committed (or raise ``StoreError``)."""
        if self._closed:
            return
        self._submit(_Barrier())

    @property
    def failed(self) -> bool:
        """Whether a write failed: rows may be missing, so nothing may be marked complete."""
        return self._error is not None

    def _submit(self, item: _Statement | _Barrier, check_error: bool = True) -> None:
        """Queue ``item`` and wait, boundedly, until the writer thread has handled it."""
        self._check(check_error)
        self._queue.put(item)
        self._wake.set()
        deadline = time.monotonic() + self._wait_limit
        while not item.done.wait(0.25):
            if not self._thread.is_alive():
                raise StoreError(f"the run store writer for {self.path} stopped unexpectedly")
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the run store {self.path} could not commit within {self._wait_limit:.0f}s "
                    "(is another process holding a write lock on it?)"
                )
        self._check(check_error)

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
            self._thread.join(timeout=self._wait_limit)
            if not self._thread.is_alive():
                self._conn.close()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------- writer thread
    def _check(self, check_error: bool = True) -> None:
        if check_error and self._error is not None:
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
        """Commit ``items`` (retrying while the file is locked); on any other failure keep every
        row that can be kept. Never raises: the thread outlives every failure, and every waiter
        is released."""
        try:
            try:
                self._commit_retrying(items)
            except UnicodeEncodeError:  # rare, so text is cleaned here, not on every row
                items = [_cleaned(item) for item in items]
                self._commit_retrying(items)
        except BaseException as exc:  # anything at all: reported, never a dead thread
            self._fail(exc, items)
        finally:
            for item in items:
                if isinstance(item, _Statement | _Barrier):
                    item.done.set()
        return any(item is None for item in items)

    def _commit_retrying(self, items: list[Any]) -> None:
        deadline = time.monotonic() + self.retry_seconds
        pause = 0.05
        while True:
            try:
                self._commit(items)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("the run store %s is locked (%s); retrying", self.path, exc)
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def _commit(self, items: list[Any]) -> None:
        """One transaction; consecutive rows go in with one multi-row statement."""
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
                        if self._error is None or item.always:
                            item.rowcount = self._conn.execute(item.sql, item.params).rowcount

    def _fail(self, exc: BaseException, items: list[Any]) -> None:
        """Record the first failure, say so at once, and write what can still be written."""
        if self._error is None:
            self._error = exc
        rows = sum(isinstance(item, tuple) for item in items)
        log.error(
            "writing the run store %s failed (%s: %s); %d queued rows are being written one by one",
            self.path,
            type(exc).__name__,
            exc,
            rows,
        )
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            return  # still locked after the retries: one by one would not fare better
        lost = 0
        for item in items:
            if isinstance(item, tuple) or (isinstance(item, _Statement) and item.always):
                try:
                    self._commit([item])
                except Exception:  # this row is the bad one
                    lost += 1
        if lost:
            log.error("%d rows could not be written to %s", lost, self.path)

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


def _cleaned(item: Any) -> Any:
    """``item`` with its text made valid UTF-8 (statements and row sets are cleaned in place, so
    their waiters see the same objects)."""
    if isinstance(item, tuple):
        return (item[0], _clean_row(item[1]))
    if isinstance(item, _Rows):
        item.rows = [_clean_row(row) for row in item.rows]
    elif isinstance(item, _Statement):
        item.params = _clean_row(item.params)
    return item


def _clean_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(clean_text(v) if isinstance(v, str) else v for v in row)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _row_sql(item: Any) -> str | None:
    """The statement of a queued row (``(sql, params)``); ``None`` for statements and barriers."""
    return item[0] if isinstance(item, tuple) else None
