"""``RunningMoments``: count, mean and spread of a stream of numbers in O(1) memory.

The one accumulator every layer uses: the live leaderboard, the bandits' arms, the comparison of two
runs, the dashboard's live series and the power analysis. Welford's update keeps the sum of squared
deviations (``m2``) instead of a sum of squares, so a constant stream has exactly zero spread and a
stream of large, close values loses no precision. Moments from elsewhere (a SQL ``SUM`` and
``SUM(x*x)``, a numpy array, another accumulator) are merged with Chan's parallel formula.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RunningMoments:
    """Streaming ``n``, ``mean`` and ``m2`` (sum of squared deviations from the mean)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    def merge(self, other: RunningMoments) -> None:
        """Fold another accumulator's values into this one (Chan et al.)."""
        if other.n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2 = other.n, other.mean, other.m2
            return
        total = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / total
        self.m2 += other.m2 + delta * delta * self.n * other.n / total
        self.n = total

    def copy(self) -> RunningMoments:
        return RunningMoments(self.n, self.mean, self.m2)

    # --------------------------------------------------------------------------- constructors
    @classmethod
    def of(cls, values: Iterable[float]) -> RunningMoments:
        moments = cls()
        for value in values:
            moments.add(value)
        return moments

    @classmethod
    def from_sums(cls, n: int, total: float, squares: float) -> RunningMoments:
        """From a count, a sum and a sum of squares (what SQL aggregates give)."""
        if n <= 0:
            return cls()
        mean = total / n
        return cls(n, mean, max(0.0, squares - total * mean))

    @classmethod
    def from_array(cls, values: Any) -> RunningMoments:
        """From a numpy array, ignoring NaN; exact (``m2`` 0) when every value is the same."""
        import numpy as np

        ok = np.asarray(values, dtype=float)
        ok = ok[~np.isnan(ok)]
        if ok.size == 0:
            return cls()
        low, high = float(ok.min()), float(ok.max())
        if low == high:
            return cls(int(ok.size), low, 0.0)
        mean = float(ok.mean())
        return cls(int(ok.size), mean, float(((ok - mean) ** 2).sum()))

    # ------------------------------------------------------------------------------ read-outs
    @property
    def variance(self) -> float | None:
        """The sample variance (``n - 1`` in the denominator); ``None`` below two values."""
        return max(self.m2, 0.0) / (self.n - 1) if self.n > 1 else None

    @property
    def sd(self) -> float | None:
        variance = self.variance
        return None if variance is None else math.sqrt(variance)

    @property
    def mean_or_none(self) -> float | None:
        return self.mean if self.n else None
