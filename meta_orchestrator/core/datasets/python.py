"""``type: python``: samples from the user's own function, ``"package.module:function"``.

The function is called as ``function(**params)`` and returns or yields samples: ``Sample`` objects,
or mappings that the field mapping (``id_field``, ``input_field``, ``target_field``) turns into
samples. Generated datasets and loaders for formats we do not read go here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from meta_orchestrator.core.datasets.base import (
    DatasetError,
    DatasetSource,
    LoadContext,
    RecordOptions,
    Sample,
    checked_sample,
    register_source,
    sample_from_record,
    sample_id_of,
)
from meta_orchestrator.core.paths import extra_sys_path
from meta_orchestrator.core.registry import import_callable
from meta_orchestrator.errors import ConfigError


class PythonDataset(RecordOptions):
    """``function: "package.module:function"`` called with ``params``; returns or yields samples."""

    type: Literal["python"]
    function: Annotated[str, Field(min_length=3, pattern=r"^[^:]+:[^:]+$")]
    params: dict[str, Any] = Field(default_factory=dict)


@register_source
class PythonSource(DatasetSource):
    name = "python"
    model = PythonDataset

    def load(self, dataset: PythonDataset, context: LoadContext) -> Iterator[tuple[str, Sample]]:
        ref = dataset.function
        with extra_sys_path(context.python_path):
            try:
                function = import_callable(ref)
            except ConfigError as exc:
                raise DatasetError(str(exc)) from None
            try:
                produced = function(**dataset.params)
                if not isinstance(produced, Iterable) or isinstance(
                    produced, str | bytes | Mapping
                ):
                    raise DatasetError(
                        f"{ref} returned {type(produced).__name__}; expected a list or a generator "
                        "of samples"
                    )
                for i, item in enumerate(produced):
                    where = f"{ref} item {i}"
                    yield where, _sample(item, dataset, where)
            except DatasetError:
                raise
            except Exception as exc:  # the user's loader failed: say so, with its words
                raise DatasetError(f"{ref} raised {type(exc).__name__}: {exc}") from exc


def _sample(item: Any, dataset: PythonDataset, where: str) -> Sample:
    if isinstance(item, Sample):
        return checked_sample(dataclasses.replace(item, id=sample_id_of(item.id, where)), where)
    if isinstance(item, Mapping):
        return sample_from_record(item, dataset, where)
    raise DatasetError(f"{where}: expected a Sample or a mapping, got {type(item).__name__}")
