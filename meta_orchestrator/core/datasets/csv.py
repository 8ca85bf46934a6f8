"""``type: csv``: a CSV file with a header row; every value is a string, as written."""

from __future__ import annotations

import csv
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


class CsvDataset(RecordOptions):
    """A CSV file (path relative to the config) whose first row names the fields."""

    type: Literal["csv"]
    path: Annotated[str, Field(min_length=1)]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","


@register_source
class CsvSource(DatasetSource):
    name = "csv"
    model = CsvDataset

    def load(self, dataset: CsvDataset, context: LoadContext) -> Iterator[tuple[str, Sample]]:
        with open_text(dataset.path, context) as handle:
            reader = csv.reader(handle, delimiter=dataset.delimiter, strict=True)
            try:
                header = next(reader, None)
                if header is None:
                    raise DatasetError(f"{dataset.path}: the file is empty (no header row)")
                duplicated = sorted({name for name in header if header.count(name) > 1})
                if duplicated:
                    raise DatasetError(
                        f"{dataset.path} line 1: duplicate column {', '.join(map(repr, duplicated))}"
                    )
                for row in reader:
                    where = f"{dataset.path} line {reader.line_num}"
                    if not any(cell.strip() for cell in row):
                        continue
                    if len(row) != len(header):
                        raise DatasetError(
                            f"{where}: {len(row)} values for {len(header)} columns "
                            f"({', '.join(header)})"
                        )
                    yield (
                        where,
                        sample_from_record(dict(zip(header, row, strict=True)), dataset, where),
                    )
            except csv.Error as exc:
                raise DatasetError(
                    f"{dataset.path} line {reader.line_num}: not valid CSV: {exc}"
                ) from None
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"{dataset.path} line {reader.line_num + 1}: not UTF-8 text ({exc.reason})"
                ) from None

    def describe(self, dataset: CsvDataset) -> str:
        return dataset.path
