"""The SQLite run store: one writer (the orchestrating process), any number of live readers."""

from meta_orchestrator.store.reader import (
    EXPORT_COLUMNS,
    HISTOGRAM_COLUMNS,
    BucketSums,
    ExperimentRecord,
    HistogramBin,
    LogLine,
    RunRecord,
    RunStore,
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
    "StoreWriter",
    "VariantAggregate",
]
