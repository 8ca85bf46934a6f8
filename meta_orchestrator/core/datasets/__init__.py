"""Datasets: named sets of samples that experiments run their variants on.

Every module in this package defines one source (``jsonl``, ``csv``, ``inline``, ``python``,
``synthetic``) and registers it with ``@register_source`` (from ``base``, which holds the registry
and states the contract); this package imports them all, so a new source is one new module.

* ``dataset_config_type()`` is the config's discriminated union over the registered models;
* ``load_samples`` reads a source once and checks what every source must give: unique ids, a
  non-empty dataset, targets on all samples or on none;
* ``select`` applies the dataset's selection for one run (``sample_ids``, ``shuffle`` seeded by the
  run seed, ``limit``) and returns the ``Dataset`` the run uses, with its fingerprint.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Union

from pydantic import Field

from meta_orchestrator.core.datasets.base import (
    SOURCES,
    DatasetError,
    DatasetOptions,
    DatasetSource,
    LoadContext,
    RecordOptions,
    Sample,
    canonical_json,
    content_id,
    register_source,
    sample_from_record,
    source_of,
)

__all__ = [
    "SOURCES",
    "Dataset",
    "DatasetError",
    "DatasetOptions",
    "DatasetSource",
    "LoadContext",
    "LoadedSamples",
    "RecordOptions",
    "Sample",
    "content_id",
    "dataset_config_type",
    "fingerprint",
    "load_samples",
    "register_source",
    "sample_from_record",
    "select",
    "source_of",
]

_FIRST = ("jsonl", "csv", "inline", "python", "synthetic")  # listed first in messages


@dataclass(frozen=True)
class LoadedSamples:
    """Every sample a source gave, in its order, before a run's selection."""

    samples: tuple[Sample, ...]
    has_targets: bool


@dataclass(frozen=True)
class Dataset:
    """The samples one run uses, in the dataset's order after the selection.

    ``fingerprint`` identifies the content (ids, inputs, targets; not their order), so two runs over
    the same samples can be recognised as such whatever their shuffle.
    """

    name: str
    samples: tuple[Sample, ...]
    expose_target: bool = False

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.samples]

    @cached_property
    def by_id(self) -> dict[str, Sample]:
        return {s.id: s for s in self.samples}

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.samples)

    @property
    def has_targets(self) -> bool:
        return any(s.target is not None for s in self.samples)


def fingerprint(samples: Sequence[Sample]) -> str:
    """SHA-256 over the samples' ids, inputs and targets, in id order (``sha256:`` + 16 hex digits)."""
    digest = hashlib.sha256(b"meta-orchestrator/samples/1\n")
    for sample in sorted(samples, key=lambda s: s.id):
        digest.update(canonical_json([sample.id, sample.input, sample.target]).encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()[:16]


def dataset_config_type() -> Any:
    """``Annotated[Union[...models], Field(discriminator="type")]`` over every registered source."""
    models = tuple(SOURCES[name].model for name in SOURCES)
    return Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 - built at runtime


def load_samples(dataset: Any, context: LoadContext) -> LoadedSamples:
    """Read every sample of ``dataset``; ``DatasetError`` naming where the first problem is."""
    source = source_of(dataset)
    first_at: dict[str, str] = {}
    samples: list[Sample] = []
    without_target: str | None = None
    with_target = 0
    for where, sample in source.load(dataset, context):
        if sample.id in first_at:
            raise DatasetError(
                f"{where}: duplicate id '{sample.id}' (first at {first_at[sample.id]})"
            )
        first_at[sample.id] = where
        if sample.target is None:
            without_target = without_target or where
        else:
            with_target += 1
        samples.append(sample)
    if not samples:
        raise DatasetError(f"{source.describe(dataset)}: the dataset has no samples")
    if with_target and without_target is not None:
        field = getattr(dataset, "target_field", None) or "target"
        raise DatasetError(
            f"{without_target}: target field '{field}' is missing ({with_target} other "
            f"sample{'' if with_target == 1 else 's'} have one)"
        )
    return LoadedSamples(tuple(samples), with_target > 0)


def select(name: str, loaded: LoadedSamples, dataset: DatasetOptions, seed: int) -> Dataset:
    """The samples a run with ``seed`` uses: ``sample_ids``, then ``shuffle``, then ``limit``."""
    samples: Sequence[Sample] = loaded.samples
    if dataset.sample_ids is not None:
        known = {s.id for s in samples}
        unknown = [i for i in dataset.sample_ids if i not in known]
        if unknown:
            shown = ", ".join(repr(i) for i in unknown[:5])
            examples = ", ".join(s.id for s in samples[:3])
            raise DatasetError(
                f"sample_ids: no sample with id {shown} (the dataset has {len(samples)} samples, "
                f"such as {examples})"
            )
        wanted = set(dataset.sample_ids)
        samples = [s for s in samples if s.id in wanted]
    if dataset.shuffle:
        samples = list(samples)
        random.Random(f"{seed}:{name}").shuffle(samples)
    if dataset.limit is not None:
        samples = samples[: dataset.limit]
    return Dataset(name, tuple(samples), dataset.expose_target)


def _load_sources() -> None:
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in ("base", "files")]
    for name in sorted(names, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n)):
        importlib.import_module(f"{__name__}.{name}")


_load_sources()
