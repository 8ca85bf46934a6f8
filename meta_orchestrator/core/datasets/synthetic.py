"""``type: synthetic``: a built-in dataset of addition tasks with a latent difficulty per sample.

Each sample asks ``"a + b"`` (target: the sum, as text) and carries ``metadata.difficulty``, drawn
from a normal distribution (``difficulty_mean``, ``difficulty_sd``) by the dataset's own ``seed``,
so the same config gives the same samples in every run. Harder samples get longer operands, so a
real solver finds them harder too. The simulated variant kind reads the difficulty: its success
probability is ``sigmoid(logit(success_rate) - difficulty)``, which makes simulated variants agree
on which samples are hard, as real agents do.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from meta_orchestrator.core.datasets.base import (
    DatasetOptions,
    DatasetSource,
    LoadContext,
    Sample,
    register_source,
)
from meta_orchestrator.core.models import NonNegative

MAX_SIZE = 1_000_000


class SyntheticDataset(DatasetOptions):
    """``size`` addition tasks; difficulty ~ Normal(difficulty_mean, difficulty_sd), seeded by ``seed``."""

    type: Literal["synthetic"]
    size: Annotated[int, Field(ge=1, le=MAX_SIZE)]
    seed: int = 0
    difficulty_mean: float = 0.0
    difficulty_sd: NonNegative = 1.5


@register_source
class SyntheticSource(DatasetSource):
    name = "synthetic"
    model = SyntheticDataset

    def load(self, dataset: SyntheticDataset, context: LoadContext) -> Iterator[tuple[str, Sample]]:
        rng = random.Random(f"synthetic:{dataset.seed}")
        width = len(str(dataset.size))
        for i in range(dataset.size):
            difficulty = rng.gauss(dataset.difficulty_mean, dataset.difficulty_sd)
            digits = max(1, min(9, 2 + round(difficulty)))
            a, b = (rng.randrange(10 ** (digits - 1), 10**digits) for _ in range(2))
            sample = Sample(
                id=f"syn-{i:0{width}d}",
                input=f"{a} + {b}",
                target=str(a + b),
                metadata={"difficulty": round(difficulty, 4)},
            )
            yield f"sample {i}", sample

    def describe(self, dataset: SyntheticDataset) -> str:
        return f"{dataset.size} synthetic addition tasks"
