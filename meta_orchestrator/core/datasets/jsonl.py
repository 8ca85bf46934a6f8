"""``type: jsonl``: one JSON object per line, fields mapped to samples by ``RecordOptions``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from meta_orchestrator.core.datasets.base import (
    DatasetError,
    DatasetSource,
    LoadContext,
    RecordOptions,
    Sample,
    register_source,
    sample_from_record,
)
from meta_orchestrator.core.datasets.files import open_text


class JsonlDataset(RecordOptions):
    """A JSON Lines file (path relative to the config); blank lines are skipped."""

    type: Literal["jsonl"]
    path: Annotated[str, Field(min_length=1)]


@register_source
class JsonlSource(DatasetSource):
    name = "jsonl"
    model = JsonlDataset

    def load(self, dataset: JsonlDataset, context: LoadContext) -> Iterator[tuple[str, Sample]]:
        with open_text(dataset.path, context) as handle:
            number = 0
            try:
                for number, line in enumerate(handle, start=1):  # noqa: B007 - used after the loop
                    if not line.strip():
                        continue
                    where = f"{dataset.path} line {number}"
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DatasetError(
                            f"{where}: not valid JSON: {exc.msg} (column {exc.colno})"
                        ) from None
                    yield where, sample_from_record(record, dataset, where)
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"{dataset.path} line {number + 1}: not UTF-8 text ({exc.reason})"
                ) from None

    def describe(self, dataset: JsonlDataset) -> str:
        return dataset.path
