"""The SQLite run store: one writer (the orchestrating process), any number of live readers."""

from meta_orchestrator.store.reader import (
    ExperimentRecord,
    LogLine,
    RunRecord,
    RunStore,
    SampleOutcome,
    VariantAggregate,
)
from meta_orchestrator.store.writer import COMMIT_INTERVAL, NewRun, StoreWriter

__all__ = [
    "COMMIT_INTERVAL",
    "ExperimentRecord",
    "LogLine",
    "NewRun",
    "RunRecord",
    "RunStore",
    "SampleOutcome",
    "StoreWriter",
    "VariantAggregate",
]
