"""``type: inline``: the samples written in the config itself, as a list of records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from meta_orchestrator.core.datasets.base import (
    DatasetSource,
    LoadContext,
    RecordOptions,
    Sample,
    register_source,
    sample_from_record,
)


class InlineDataset(RecordOptions):
    """Samples in the YAML: ``samples: [{id: q1, input: "2+3", target: "5"}, ...]``."""

    type: Literal["inline"]
    samples: list[Any]


@register_source
class InlineSource(DatasetSource):
    name = "inline"
    model = InlineDataset

    def load(self, dataset: InlineDataset, context: LoadContext) -> Iterator[tuple[str, Sample]]:
        for i, record in enumerate(dataset.samples):
            where = f"samples[{i}]"
            yield where, sample_from_record(record, dataset, where)

    def describe(self, dataset: InlineDataset) -> str:
        return f"{len(dataset.samples)} inline samples"
