"""``type: reasoning_gym``: samples from one of reasoning-gym's seeded task generators.

``name`` picks the generator (``chain_sum``, ``basic_arithmetic``, ``gcd``, ...), ``options`` are
that generator's own config fields (``min_terms``, ``max_digits``, ...), ``size`` how many tasks and
``seed`` which ones. reasoning-gym seeds each task from ``seed + index``, so the same name, options
and seed give the same questions on any machine, and a larger ``size`` keeps the earlier tasks.

A sample's ``input`` is the generator's question, its ``target`` the generator's answer, and its
``metadata`` the generator's metadata (made JSON) plus ``metadata.reasoning_gym``: the generator's
name, options, seed, size and the task's index. The ``reasoning_gym`` scorer reads that to rebuild
the exact task and call the generator's own ``score_answer`` (the metadata some graders need holds
tuples and objects that JSON would not keep).

Ids are ``NAME-DIGEST-INDEX`` (``chain_sum-3fa81c2e-0007``): the digest covers the name, options and
seed, so runs over different task sets never pair two different questions under one id when they
are compared. The package is an optional extra: ``pip install 'meta-orchestrator[reasoning-gym]'``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from meta_orchestrator.core.datasets.base import (
    DatasetError,
    DatasetOptions,
    DatasetSource,
    LoadContext,
    Sample,
    canonical_json,
    checked_sample,
    register_source,
)

MAX_SIZE = 100_000
INSTALL = "pip install 'meta-orchestrator[reasoning-gym]'"
METADATA_KEY = "reasoning_gym"
_OWN_FIELDS = ("seed", "size")  # set on the dataset, not among the generator's options

__all__ = [
    "INSTALL",
    "METADATA_KEY",
    "ReasoningGymDataset",
    "ReasoningGymSource",
    "generator",
    "generator_names",
    "reasoning_gym_missing",
]


class ReasoningGymDataset(DatasetOptions):
    """``size`` tasks of reasoning-gym's generator ``name`` with ``options``, chosen by ``seed``."""

    type: Literal["reasoning_gym"]
    name: Annotated[str, Field(min_length=1)]
    size: Annotated[int, Field(ge=1, le=MAX_SIZE)]
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _not_seed_or_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in _OWN_FIELDS:
            if name in value:
                raise ValueError(f"{name}: set it on the dataset itself, not under options")
        return value


def reasoning_gym_missing() -> str | None:
    """Why the reasoning-gym package cannot be used here, or ``None`` when it can."""
    if importlib.util.find_spec("reasoning_gym") is None:
        return f"the reasoning-gym package is not installed ({INSTALL})"
    return None


def generator_names() -> list[str]:
    """Every generator reasoning-gym registers (importing it registers them all)."""
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


def _option_names(name: str) -> list[str]:
    from reasoning_gym.factory import DATASETS

    config_cls = DATASETS[name][1]
    return [f.name for f in dataclasses.fields(config_cls) if f.name not in _OWN_FIELDS]


@lru_cache(maxsize=64)
def _generator(name: str, options_json: str, seed: int, size: int) -> Any:
    from reasoning_gym import create_dataset

    try:
        return create_dataset(name, seed=seed, size=size, **json.loads(options_json))
    except Exception as exc:  # its config's own checks: asserts, TypeError for a bad value ...
        raise DatasetError(
            f"reasoning_gym {name}: the generator refused its options ({exc or type(exc).__name__})"
        ) from None


def generator(name: str, options: Mapping[str, Any], seed: int, size: int) -> Any:
    """reasoning-gym's dataset object for these settings, built once per process.

    Generators are deterministic given their config and index, so one object serves every
    thread; ``DatasetError`` when the generator rejects the options.
    """
    return _generator(name, canonical_json(dict(options)), seed, size)


def task_digest(name: str, options: Mapping[str, Any], seed: int) -> str:
    payload = canonical_json([name, dict(options), seed]).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:8]


def _json_safe(value: Any) -> Any:
    """The generator's metadata as JSON (tuples become lists, other objects their text)."""
    return json.loads(json.dumps(value, default=str, allow_nan=False))


@register_source
class ReasoningGymSource(DatasetSource):
    name = "reasoning_gym"
    model = ReasoningGymDataset

    def problems(self, dataset: ReasoningGymDataset) -> list[str]:
        """What is wrong with the name or the options, checked against reasoning-gym itself.

        Found when the dataset loads (not in ``check``), so each mistake is reported once.
        """
        missing = reasoning_gym_missing()
        if missing:
            return [f"name: {missing}"]
        names = generator_names()
        if dataset.name not in names:
            close = difflib.get_close_matches(dataset.name, names, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            return [
                f"name: reasoning-gym has no generator '{dataset.name}' ({hint}"
                f"{len(names)} generators, such as {', '.join(names[:6])})"
            ]
        known = _option_names(dataset.name)
        return [
            f"options.{option}: not an option of reasoning-gym's {dataset.name} "
            f"(its options: {', '.join(known) or 'none'})"
            for option in dataset.options
            if option not in known
        ]

    def load(
        self, dataset: ReasoningGymDataset, context: LoadContext
    ) -> Iterator[tuple[str, Sample]]:
        problems = self.problems(dataset)
        if problems:
            raise DatasetError(problems[0])
        tasks = generator(dataset.name, dataset.options, dataset.seed, dataset.size)
        digest = task_digest(dataset.name, dataset.options, dataset.seed)
        origin = {
            "name": dataset.name,
            "options": _json_safe(dataset.options),
            "seed": dataset.seed,
            "size": dataset.size,
        }
        for index in range(dataset.size):
            where = f"reasoning_gym {dataset.name} task {index}"
            try:
                entry = tasks[index]
            except Exception as exc:  # a generator that fails on some seeds or options
                raise DatasetError(
                    f"{where}: reasoning-gym raised {type(exc).__name__}: {exc}"
                ) from None
            metadata = _json_safe(entry.get("metadata") or {})
            metadata[METADATA_KEY] = {**origin, "index": index}
            sample = Sample(
                id=f"{dataset.name}-{digest}-{index:04d}",
                input=entry["question"],
                target=entry.get("answer"),
                metadata=metadata,
            )
            yield where, checked_sample(sample, where)

    def describe(self, dataset: ReasoningGymDataset) -> str:
        return f"{dataset.size} reasoning-gym {dataset.name} tasks (seed {dataset.seed})"
