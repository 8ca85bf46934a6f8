"""The run store's SQLite schema. One file holds every run; WAL lets readers follow a run live.

``SCHEMA_VERSION`` is stored in ``PRAGMA user_version``; a file without our tables is "not a run store".
``SCHEMA`` creates the newest layout; ``MIGRATIONS[v]`` brings a store of version ``v`` to ``v + 1``
(the writer applies them in order, in one transaction, before it writes anything). Readers open
older stores as they are: every column a migration adds reads as ``NULL`` there.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE runs ADD COLUMN results_dir TEXT",),
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
    results_dir     TEXT
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
    UNIQUE (run_id, experiment, trial_index)
);
CREATE INDEX IF NOT EXISTS trials_by_variant ON trials (run_id, experiment, variant);

CREATE TABLE IF NOT EXISTS logs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL,
    ts              REAL NOT NULL,
    level           TEXT NOT NULL,
    message         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs (run_id, seq);
"""
