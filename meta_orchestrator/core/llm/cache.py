"""A response cache for model calls: one SQLite file, shared by threads and processes.

The key is the SHA-256 of the canonical JSON of everything that decides a response: endpoint, model,
messages, request parameters, seed and the trial's epoch. The epoch is in the key so that repeating a
sample in several epochs gives independent answers (promptfoo #1431) while rerunning the same config
reuses every one. The API key is never part of a key or a value.

It is not the run store (``store/``), and lives here because variant kinds sit below the store: it
belongs to the chat kind, keeps only responses, and can be deleted at any time. WAL mode and a busy
timeout let several processes (Ray workers) read and write it at once; each thread has its own
connection. A cache that cannot be read or written is logged and treated as a miss: it never fails
a trial.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "cache_key"]

log = logging.getLogger("meta_orchestrator.llm")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key        TEXT PRIMARY KEY,
    response   TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
_KEY_VERSION = 1


def cache_key(**parts: Any) -> str:
    """SHA-256 hex of the canonical JSON (sorted keys, no whitespace) of ``parts``."""
    canonical = json.dumps(
        {"v": _KEY_VERSION, **parts}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """``get(key)`` / ``put(key, value)`` of JSON objects in the SQLite file at ``path``."""

    def __init__(self, path: Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            row = (
                self._connection()
                .execute("SELECT response FROM responses WHERE key = ?", (key,))
                .fetchone()
            )
        except (sqlite3.Error, OSError) as exc:
            log.warning(
                "response cache %s could not be read (%s); calling the model", self.path, exc
            )
            return None
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            with self._connection() as connection:
                connection.execute(
                    "INSERT OR REPLACE INTO responses (key, response, created_at) VALUES (?, ?, ?)",
                    (key, json.dumps(value, ensure_ascii=False), time.time()),
                )
        except (sqlite3.Error, OSError) as exc:
            log.warning("response cache %s could not be written (%s)", self.path, exc)

    def __len__(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close this thread's connection (another thread's closes when that thread ends)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            self._local.connection = None
            connection.close()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
            connection.commit()
            self._local.connection = connection
        return connection
