"""The building blocks of every config model: a strict base and the constrained field types.

Kept apart from ``config`` so that variant kinds (``core.kinds``) can define their models without
importing the whole config, which imports them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]

# Counts are strict integers: YAML's ``true`` is not one trial, nor is ``1e20`` a count. The cap
# keeps a typo from planning a run that never ends (and every count fits SQLite's 64 bits).
MAX_COUNT = 10_000_000
Count = Annotated[int, Strict(), Field(gt=0, le=MAX_COUNT)]
# Durations: ``1e300`` seconds overflows every timer (``threading`` refuses more than ~292 years).
MAX_SECONDS = 30 * 24 * 3600.0
Seconds = Annotated[float, Field(gt=0.0, le=MAX_SECONDS)]
Duration = Annotated[float, Field(ge=0.0, le=MAX_SECONDS)]
Seed = Annotated[int, Strict(), Field(ge=-(1 << 63), le=(1 << 63) - 1)]


class StrictModel(BaseModel):
    """Unknown keys are errors, no number is infinite or NaN, and a validated config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
