"""The SQLite run store: one writer (the orchestrating process), any number of live readers.

The only package with SQL. One file holds every run (``runs``, ``experiments``, ``trials``, ``logs``);
``schema.py`` owns the layout and its migrations, ``connection.py`` how files are opened.

``StoreWriter`` (one per run, in the orchestrating process):

* Thread-safe: any thread may call it; one background thread owns the connection and commits in
  batches. ``add_trial`` and ``add_log`` enqueue and return at once; ``execute`` and ``flush`` block
  until what they queued is committed, so a caller that needs durability (a run marked finished,
  an experiment marked complete) flushes first.
* Durability: a trial is committed within about ``COMMIT_INTERVAL`` seconds of ``add_trial``; a
  crash or kill -9 keeps every committed trial. Rows are never updated after they are written;
  a trial is identified by ``(run_id, experiment, trial_index)`` and a second insert of the same
  key is ignored. A run's closing summary (``save_summary``) is the one row replaced: a resumed
  run saves its new one.
* Errors: a write that fails is raised as ``StoreError`` from the next call on any thread; the
  writer never blocks a caller forever (locks are retried for a bounded time).
* Ownership (``ownership``): one process owns a run (its token), takes it over with
  ``claim_run`` (compare-and-set) and stamps a heartbeat; ``display_status`` says ``dead`` for a
  running run whose owner is gone.

``RunStore`` (any process, any number at once):

* Read-only connections that never block the writer (WAL); each call sees the last commit.
  ``snapshot()`` makes several reads see one state (a report whose counts match its trials).
* Nothing loads a whole run: trials stream from a cursor, statistics are SQL aggregates.
* Not thread-safe: one ``RunStore`` per thread. Raises ``StoreError`` for a file that is not a run
  store (or is newer than this version) and ``RunNotFoundError`` for an unknown run id.
"""

from meta_orchestrator.store.reader import (
    EXPORT_COLUMNS,
    HISTOGRAM_COLUMNS,
    BucketSums,
    ExperimentRecord,
    HistogramBin,
    LogLine,
    RunRecord,
    RunStore,
    SampleOutcome,
    SampleSums,
    StoredSummary,
    VariantAggregate,
)
from meta_orchestrator.store.writer import COMMIT_INTERVAL, NewRun, StoreWriter

__all__ = [
    "COMMIT_INTERVAL",
    "EXPORT_COLUMNS",
    "HISTOGRAM_COLUMNS",
    "BucketSums",
    "ExperimentRecord",
    "HistogramBin",
    "LogLine",
    "NewRun",
    "RunRecord",
    "RunStore",
    "SampleOutcome",
    "SampleSums",
    "StoreWriter",
    "StoredSummary",
    "VariantAggregate",
]
