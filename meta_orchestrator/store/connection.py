"""Opening the store file: WAL for the writer, read-only URIs for readers, clear errors for both."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from meta_orchestrator.errors import StoreError
from meta_orchestrator.store.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

_REQUIRED_TABLES = {"runs", "experiments", "trials", "logs"}


def connect_for_writing(path: Path, busy_timeout: float = 30.0) -> sqlite3.Connection:
    """Create the file and schema if needed. The connection is handed to the writer thread.

    ``busy_timeout`` is how long one statement waits for another process's lock (the writer retries
    whole batches on top of it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level="DEFERRED", timeout=busy_timeout
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = _tables(conn)
        if tables and not _REQUIRED_TABLES <= tables:
            raise StoreError(
                f"{path} is a SQLite database but not a meta-orchestrator run store "
                f"(tables: {', '.join(sorted(tables))}); pass another --db path"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by a newer meta-orchestrator (schema {version}); upgrade"
            )
        if tables and version < SCHEMA_VERSION:
            _migrate(conn, version)
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.commit()
        return conn
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the run store {path}: {exc}") from exc


def connect_for_reading(path: Path) -> sqlite3.Connection:
    """A read-only connection that never blocks the writer (WAL readers see the last commit)."""
    if not path.exists():
        raise StoreError(f"no run store at {path}: run an experiment first, or pass --db")
    try:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30
        )
        conn.row_factory = sqlite3.Row
        tables = _tables(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a meta-orchestrator run store: {exc}") from exc
    if not _REQUIRED_TABLES <= tables:
        conn.close()
        raise StoreError(f"{path} is not a meta-orchestrator run store (missing run tables)")
    return conn


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a store written by an older version up to ``SCHEMA_VERSION``, all or nothing."""
    with conn:
        for step in range(max(version, 1), SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}
