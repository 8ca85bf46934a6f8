"""The SQLite run store: one batching writer thread, readers that never block it."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

import pytest

from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.errors import StoreError
from meta_orchestrator.store import COMMIT_INTERVAL, NewRun, RunStore, StoreWriter
from meta_orchestrator.store import writer as writer_module
from meta_orchestrator.store.schema import SCHEMA_VERSION


def _new_run(run_id: str = "run-1", planned: int = 10) -> NewRun:
    return NewRun(
        id=run_id,
        name="store-test",
        orchestrator="standard",
        backend="local",
        seed=1,
        planned_trials=planned,
        config_yaml="name: store-test\n",
        config_path=None,
        started_at=time.time(),
        package_version="0.0.test",
        git_commit=None,
        host="here",
        pid=1,
    )


def _trial(index: int, variant: str = "a", score: float | None = 1.0, **kw: object) -> TrialResult:
    metrics = {"success": 1.0 if score else 0.0, "cost": 0.01, "latency": 0.002}
    fields: dict = {
        "run_id": "run-1",
        "experiment": "e",
        "variant": variant,
        "index": index,
        "seed": 100 + index,
        "status": "ok",
        "started_at": 1000.0 + index,
        "ended_at": 1000.002 + index,
        "latency": 0.002,
        "metrics": metrics,
        "score": score,
    }
    fields.update(kw)
    return TrialResult(**fields)


@pytest.fixture
def writer(tmp_path: Path):  # type: ignore[no-untyped-def]
    with StoreWriter(tmp_path / "store.db") as w:
        w.create_run(_new_run())
        yield w


def test_store_is_in_wal_mode_with_the_schema_version(writer: StoreWriter) -> None:
    conn = sqlite3.connect(writer.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_trial_is_visible_to_readers_within_the_commit_interval_without_a_flush(
    writer: StoreWriter,
) -> None:
    reader = RunStore(writer.path)
    writer.add_trial(_trial(0))
    queued = time.monotonic()
    while reader.trial_count("run-1") == 0:
        assert time.monotonic() - queued < 20 * COMMIT_INTERVAL, "trial never committed"
        time.sleep(0.005)
    assert time.monotonic() - queued < 20 * COMMIT_INTERVAL
    reader.close()


def test_rows_round_trip_in_order_across_batches(writer: StoreWriter) -> None:
    # 123 rows: not a multiple of the writer's rows-per-statement, logs interleaved.
    for i in range(123):
        writer.add_trial(_trial(i, variant="ab"[i % 2], score=float(i)))
        if i % 10 == 0:
            writer.add_log("run-1", "INFO", f"line {i}")
    writer.flush()
    with RunStore(writer.path) as reader:
        stored = [t for _, t in reader.iter_trials("run-1")]
        logs = reader.logs("run-1")
    assert [t.index for t in stored] == list(range(123))
    assert stored[7] == _trial(7, variant="b", score=7.0)
    assert [line.message for line in logs] == [f"line {i}" for i in range(0, 123, 10)]


def test_rows_go_in_with_a_sqlite_that_allows_few_variables(writer: StoreWriter) -> None:
    writer._max_variables = 40  # two 17-column rows per statement, as an old SQLite would force
    for i in range(25):
        writer.add_trial(_trial(i))
    writer.flush()
    with RunStore(writer.path) as reader:
        assert [t.index for _, t in reader.iter_trials("run-1")] == list(range(25))


def test_a_fast_producer_waits_for_the_writer_instead_of_queueing_without_bound(
    writer: StoreWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "_MAX_QUEUED", 10)
    backlog = []
    for i in range(200):
        writer.add_trial(_trial(i))
        backlog.append(writer._queue.qsize())
    assert max(backlog) <= 11
    writer.flush()
    with RunStore(writer.path) as reader:
        assert reader.trial_count("run-1") == 200


def test_close_commits_everything_queued(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "s.db") as w:
        w.create_run(_new_run())
        for i in range(12_345):
            w.add_trial(_trial(i))
    with RunStore(tmp_path / "s.db") as reader:
        assert reader.trial_count("run-1") == 12_345


def test_a_trial_index_is_stored_once(writer: StoreWriter) -> None:
    writer.add_trial(_trial(3, score=1.0))
    writer.add_trial(_trial(3, score=0.0))
    writer.flush()
    with RunStore(writer.path) as reader:
        (only,) = [t for _, t in reader.iter_trials("run-1")]
    assert only.score == 1.0


def test_non_finite_values_do_not_corrupt_the_row(writer: StoreWriter) -> None:
    writer.add_trial(_trial(0, score=math.inf, metrics={"success": 1.0, "x": math.nan}))
    writer.flush()
    with RunStore(writer.path) as reader:
        (stored,) = [t for _, t in reader.iter_trials("run-1")]
    assert stored.score is None
    assert stored.metrics == {}


def test_readers_do_not_block_the_writer(writer: StoreWriter) -> None:
    reader = sqlite3.connect(f"file:{writer.path}?mode=ro", uri=True)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0  # snapshot held
    started = time.monotonic()
    for i in range(200):
        writer.add_trial(_trial(i))
    writer.flush()
    assert time.monotonic() - started < 5
    assert reader.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0  # still its snapshot
    reader.rollback()
    assert reader.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 200
    reader.close()


def test_variant_aggregates_stream_from_sql(writer: StoreWriter) -> None:
    scores = {"a": [1.0, 2.0, 4.0], "b": [0.5]}
    index = 0
    for variant, values in scores.items():
        for value in values:
            writer.add_trial(_trial(index, variant=variant, score=value))
            index += 1
    writer.add_trial(
        _trial(index, variant="b", score=None, status="error", metrics={"latency": 0.1})
    )
    writer.flush()
    with RunStore(writer.path) as reader:
        a, b = reader.variant_aggregates("run-1", "e")
        counts = reader.choice_counts("run-1", "e")
    assert (a.variant, a.trials, a.ok, a.score_n) == ("a", 3, 3, 3)
    assert a.score_mean == pytest.approx(7 / 3)
    assert a.score_sd == pytest.approx(1.5275252, rel=1e-6)
    assert (b.trials, b.ok, b.errors, b.score_n, b.score_sd) == (2, 1, 1, 1, None)
    assert counts == {"a": 3, "b": 2}


def test_a_failed_write_surfaces_as_a_store_error(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path / "s.db")
    with pytest.raises(StoreError, match="writing the run store .* failed: NOT NULL constraint"):
        writer.execute("INSERT INTO runs (id) VALUES (?)", ("incomplete",))
    with pytest.raises(StoreError):
        writer.add_trial(_trial(0))
    with pytest.raises(StoreError):
        writer.close()  # says so again, but still stops its thread and closes the file
    assert not writer._thread.is_alive()
    writer.close()  # a second close is a no-op


def test_run_lifecycle_is_recorded(writer: StoreWriter) -> None:
    writer.finish_run("run-1", "completed", stop_reason="budget: done")
    with RunStore(writer.path) as reader:
        record = reader.get_run("run-1")
        (listed,) = reader.list_runs()
    assert (record.status, record.stop_reason, record.package_version) == (
        "completed",
        "budget: done",
        "0.0.test",
    )
    assert record.ended_at is not None and listed.id == "run-1"


def test_a_file_that_is_not_a_run_store_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a meta-orchestrator run store"):
        StoreWriter(other)
    with pytest.raises(StoreError, match="not a meta-orchestrator run store"):
        RunStore(other)

    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError):
        StoreWriter(text)
    with pytest.raises(StoreError, match="no run store at"):
        RunStore(tmp_path / "missing.db")


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    StoreWriter(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer meta-orchestrator"):
        StoreWriter(path)
