"""The sample, and the contract every dataset source keeps.

A **sample** is one task: an ``id`` (a string, unique in its dataset), an ``input`` (any JSON value:
a question, an issue, a puzzle), an optional ``target`` (any JSON: the expected answer) and
``metadata`` (a JSON object: every other field of the record, a difficulty, a category).

A **source** is what ``type:`` names in a dataset's config (``jsonl``, ``csv``, ``inline``,
``python``, ``synthetic``, ...). Each lives in one module of ``meta_orchestrator.core.datasets`` and
registers itself with ``@register_source``; the config's dataset union is derived from the registry,
so adding a source is adding one module. What a source must keep:

* ``model`` is a ``StrictModel`` extending ``DatasetOptions`` (the options every source accepts)
  with a field ``type: Literal[name]``; record-shaped sources extend ``RecordOptions``, whose field
  mapping ``sample_from_record`` applies.
* ``check(dataset, context)`` returns problem lines for what the model alone cannot know (an import
  path that does not import) without reading the data. It never raises.
* ``load(dataset, context)`` returns (or yields) ``(where, Sample)`` pairs in the source's own order
  (file order; what a function yields). ``where`` says where the sample came from in words a person
  can act on (``data/qa.jsonl line 3``, ``samples[2]``). Bad data raises ``DatasetError`` whose
  message starts with such a location. Duplicate ids, an empty dataset, targets present on some
  samples only, and the selection (``sample_ids``, ``shuffle``, ``limit``) are checked and applied
  once, by the package (``meta_orchestrator.core.datasets``), for every source alike.
* Loading happens once per config, in the orchestrating process, before anything is written; the
  samples then travel with each trial. A source is never called on a worker.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import Field

from meta_orchestrator.core.models import Count, StrictModel


@dataclass(frozen=True, slots=True)
class Sample:
    """One task of a dataset. Plain and picklable: it travels to workers inside a ``TrialSpec``."""

    id: str
    input: Any
    target: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # Whether input, target and metadata hold only scalars, so a shallow copy is a full one.
    _flat: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        flat = all(_is_flat(v) for v in (self.input, self.target, self.metadata))
        object.__setattr__(self, "_flat", flat)

    def for_agent(self, expose_target: bool = False) -> dict[str, Any]:
        """What an agent sees as ``context["sample"]``: the target only when the dataset says so.

        A copy: an agent that changes what it was given cannot change the sample other variants
        (and later epochs) run on in the same process.
        """
        if self._flat:
            shown = {"id": self.id, "input": self.input, "metadata": dict(self.metadata)}
            if isinstance(self.input, dict):
                shown["input"] = dict(self.input)
            if expose_target:
                shown["target"] = (
                    dict(self.target) if isinstance(self.target, dict) else self.target
                )
            return shown
        shown = {
            "id": self.id,
            "input": copy.deepcopy(self.input),
            "metadata": copy.deepcopy(self.metadata),
        }
        if expose_target:
            shown["target"] = copy.deepcopy(self.target)
        return shown

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "input": self.input,
            "target": self.target,
            "metadata": self.metadata,
        }


_SCALARS = (str, int, float, bool, type(None))


def _is_flat(value: Any) -> bool:
    """A scalar, or a mapping of scalars: what a shallow copy copies completely."""
    if isinstance(value, _SCALARS):
        return True
    return isinstance(value, dict) and all(isinstance(v, _SCALARS) for v in value.values())


class DatasetError(ValueError):
    """Bad data in a dataset. The message starts with where (``data/qa.jsonl line 3: ...``)."""


@dataclass(frozen=True)
class LoadContext:
    """What a source needs to load: where relative paths start and the user's import folders."""

    base_dir: Path
    python_path: list[str]

    def resolve(self, path: str) -> Path:
        return (self.base_dir / Path(path).expanduser()).resolve()


class DatasetOptions(StrictModel):
    """Options every source accepts. The selection is applied in this order: ``sample_ids``, then
    ``shuffle`` (seeded by the run seed), then ``limit``."""

    description: str = ""
    limit: Count | None = None
    shuffle: bool = False
    sample_ids: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = (
        None
    )
    expose_target: bool = False


class RecordOptions(DatasetOptions):
    """How a record (a JSON object, a CSV row, a mapping) becomes a sample.

    ``id_field`` missing from a record: the id is a stable hash of the record's content.
    ``input_field`` a list: the input is an object holding those fields. ``target_field`` present in
    some records must be present in all (and in every record when it is set explicitly); ``null``
    means the samples have no target. Every other field goes into ``metadata``.
    """

    id_field: Annotated[str, Field(min_length=1)] = "id"
    input_field: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    ) = "input"
    target_field: Annotated[str, Field(min_length=1)] | None = "target"

    @property
    def target_required(self) -> bool:
        return "target_field" in self.model_fields_set and self.target_field is not None


def sample_from_record(record: Mapping[str, Any], options: RecordOptions, where: str) -> Sample:
    """The sample a record describes under ``options``' field mapping; ``DatasetError`` if it can't."""
    if not isinstance(record, Mapping):
        raise DatasetError(f"{where}: expected an object with fields, got {_kind(record)}")
    inputs = [options.input_field] if isinstance(options.input_field, str) else options.input_field
    missing = [name for name in inputs if name not in record]
    if missing:
        raise DatasetError(
            f"{where}: input field {', '.join(repr(m) for m in missing)} is missing "
            f"(fields: {', '.join(map(str, record)) or 'none'}; set input_field to choose others)"
        )
    if isinstance(options.input_field, str):
        value = record[options.input_field]
    else:
        value = {name: record[name] for name in inputs}
    target_name = options.target_field
    if target_name is not None and target_name not in record and options.target_required:
        raise DatasetError(f"{where}: target field '{target_name}' is missing")
    target = record.get(target_name) if target_name is not None else None
    used = {*inputs, options.id_field, *([target_name] if target_name else [])}
    metadata = {str(k): v for k, v in record.items() if k not in used}
    if options.id_field in record:
        sample_id = sample_id_of(record[options.id_field], where, options.id_field)
    else:
        sample_id = content_id(record)
    return checked_sample(Sample(sample_id, value, target, metadata), where)


def sample_id_of(value: Any, where: str, field_name: str = "id") -> str:
    """An id as a string: strings and integers are ids; anything else is a mistake."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DatasetError(
            f"{where}: '{field_name}' must be a string or an integer, got {_kind(value)}"
        )
    text = str(value)
    if not text.strip():
        raise DatasetError(f"{where}: '{field_name}' is empty")
    return text


def content_id(record: Any) -> str:
    """A stable id from a record's content: the same record gets the same id on any machine."""
    digest = hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()
    return digest[:16]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def checked_sample(sample: Sample, where: str) -> Sample:
    """``sample`` if its input, target and metadata are JSON (they are stored and shipped as JSON)."""
    for name in ("input", "target", "metadata"):
        value = getattr(sample, name)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{where}: {name} is not JSON ({exc})") from None
    if not isinstance(sample.metadata, dict):
        raise DatasetError(f"{where}: metadata must be an object, got {_kind(sample.metadata)}")
    return sample


def _kind(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


class DatasetSource(ABC):
    """One ``type:`` of dataset. Subclasses set ``name`` and ``model`` and implement ``load``."""

    name: ClassVar[str]
    model: ClassVar[type[DatasetOptions]]

    def check(self, dataset: Any, context: LoadContext) -> list[str]:
        """Problems the model cannot see, found without reading the data; ``[]`` when none."""
        return []

    @abstractmethod
    def load(self, dataset: Any, context: LoadContext) -> Iterable[tuple[str, Sample]]:
        """``(where, sample)`` pairs in the source's order; raises ``DatasetError`` on bad data."""

    def describe(self, dataset: Any) -> str:
        """Where the samples come from, in a few words (``data/qa.jsonl``)."""
        return self.name


SOURCES: dict[str, DatasetSource] = {}
S = TypeVar("S", bound=type[DatasetSource])


def register_source(cls: S) -> S:
    """Class decorator: make ``cls`` the source for ``type: cls.name``."""
    existing = SOURCES.get(cls.name)
    if existing is not None and type(existing) is not cls:
        raise ValueError(f"dataset source '{cls.name}' is already registered by {type(existing)}")
    SOURCES[cls.name] = cls()
    return cls


def source_of(dataset: Any) -> DatasetSource:
    """The registered source of a validated dataset config."""
    return SOURCES[dataset.type]
