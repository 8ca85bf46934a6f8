"""The building blocks of every config model: a strict base and the constrained field types.

Kept apart from ``config`` so that variant kinds (``core.kinds``) can define their models without
importing the whole config, which imports them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


class StrictModel(BaseModel):
    """Unknown keys are errors and a validated config never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
