"""The run store's SQLite schema. One file holds every run; WAL lets readers follow a run live.

``SCHEMA_VERSION`` is stored in ``PRAGMA user_version``; a file without our tables is "not a run store".
``SCHEMA`` creates the newest layout; ``MIGRATIONS[v]`` brings a store of version ``v`` to ``v + 1``
(the writer applies them in order, in one transaction, before it writes anything). Readers open
older stores as they are: every column a migration adds reads as ``NULL`` (or its default) there,
and a table a newer schema adds reads as empty.
"""

from __future__ import annotations

SCHEMA_VERSION = 6

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE runs ADD COLUMN results_dir TEXT",),
    2: (),  # placeholder for schema 3 (run ownership), added on another branch
    # 4: samples. Trials know their sample, epoch, output and failure kind; experiments their
    # dataset; the new ``samples`` table is created by SCHEMA, which runs after the migrations.
    3: (
        "ALTER TABLE trials ADD COLUMN sample_id TEXT",
        "ALTER TABLE trials ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE trials ADD COLUMN output_json TEXT",
        "ALTER TABLE trials ADD COLUMN output_truncated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE trials ADD COLUMN explanation TEXT",
        "ALTER TABLE trials ADD COLUMN details_json TEXT",
        "ALTER TABLE trials ADD COLUMN transient_retries INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE trials ADD COLUMN error_kind TEXT",
        "ALTER TABLE experiments ADD COLUMN dataset TEXT",
        "ALTER TABLE experiments ADD COLUMN dataset_fingerprint TEXT",
        "ALTER TABLE experiments ADD COLUMN epochs INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE experiments ADD COLUMN scoring_json TEXT",
    ),
    # 5: run ownership (``store.ownership``): the owner's token and start time, and its heartbeat.
    4: (
        "ALTER TABLE runs ADD COLUMN owner_token TEXT",
        "ALTER TABLE runs ADD COLUMN owner_started REAL",
        "ALTER TABLE runs ADD COLUMN heartbeat_at REAL",
    ),
    # 6: ``run_summaries``, the summary a run computed as it closed; created by SCHEMA.
    5: (),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    orchestrator    TEXT NOT NULL,
    backend         TEXT NOT NULL,
    seed            INTEGER NOT NULL,
    planned_trials  INTEGER NOT NULL,
    config_yaml     TEXT NOT NULL,
    config_path     TEXT,
    started_at      REAL NOT NULL,
    ended_at        REAL,
    stop_reason     TEXT,
    error           TEXT,
    package_version TEXT NOT NULL,
    git_commit      TEXT,
    host            TEXT,
    pid             INTEGER,
    active_seconds  REAL,
    results_dir     TEXT,
    owner_token     TEXT,
    owner_started   REAL,
    heartbeat_at    REAL
);

CREATE TABLE IF NOT EXISTS experiments (
    run_id          TEXT NOT NULL REFERENCES runs(id),
    position        INTEGER NOT NULL,
    name            TEXT NOT NULL,
    orchestrator    TEXT NOT NULL,
    strategy        TEXT,
    variants_json   TEXT NOT NULL,
    planned_trials  INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    stop_reason     TEXT,
    dataset         TEXT,
    dataset_fingerprint TEXT,
    epochs          INTEGER NOT NULL DEFAULT 1,
    scoring_json    TEXT,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE IF NOT EXISTS trials (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL REFERENCES runs(id),
    experiment      TEXT NOT NULL,
    variant         TEXT NOT NULL,
    trial_index     INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    status          TEXT NOT NULL,
    started_at      REAL NOT NULL,
    ended_at        REAL NOT NULL,
    latency         REAL NOT NULL,
    score           REAL,
    success         REAL,
    cost            REAL,
    metrics_json    TEXT NOT NULL,
    error           TEXT,
    traceback       TEXT,
    attempts        INTEGER NOT NULL DEFAULT 1,
    node_id         TEXT,
    sample_id       TEXT,
    epoch           INTEGER NOT NULL DEFAULT 0,
    output_json     TEXT,
    output_truncated INTEGER NOT NULL DEFAULT 0,
    explanation     TEXT,
    details_json    TEXT,
    transient_retries INTEGER NOT NULL DEFAULT 0,
    error_kind      TEXT,
    UNIQUE (run_id, experiment, trial_index)
);
CREATE INDEX IF NOT EXISTS trials_by_variant ON trials (run_id, experiment, variant);

CREATE TABLE IF NOT EXISTS samples (
    run_id          TEXT NOT NULL REFERENCES runs(id),
    dataset         TEXT NOT NULL,
    sample_id       TEXT NOT NULL,
    position        INTEGER NOT NULL,
    input_json      TEXT NOT NULL,
    target_json     TEXT,
    metadata_json   TEXT NOT NULL,
    PRIMARY KEY (run_id, dataset, sample_id)
);

CREATE TABLE IF NOT EXISTS logs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL,
    ts              REAL NOT NULL,
    level           TEXT NOT NULL,
    message         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs (run_id, seq);

-- The summary (``analysis.saved_summary``'s JSON) of a run as it closed, with the trial count and
-- status it holds for: a reader uses it only while the run still has both, so a resumed run's old
-- summary is never shown as its new one.
CREATE TABLE IF NOT EXISTS run_summaries (
    run_id          TEXT PRIMARY KEY REFERENCES runs(id),
    trials          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    summary_json    TEXT NOT NULL,
    written_at      REAL NOT NULL
);
"""
