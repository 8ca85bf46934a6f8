"""Anytime-valid confidence sequences for the mean of bounded scores (they survive peeking).

A 95% confidence *interval* read after every trial is not a 95% interval any more: sooner or later
one of the looks excludes the true mean. A 95% confidence *sequence* is a band ``(low_t, high_t)``
that covers the true mean at every ``t`` at once with probability at least 95%, so it may be read
as often as wanted and a run may stop the moment it looks decisive.

The band is the predictable plug-in empirical-Bernstein confidence sequence of Waudby-Smith &
Ramdas (2023), "Estimating means of bounded random variables by betting", JRSS-B, Theorem 2 with
eqs. (13)-(14), for i.i.d. values in [0, 1] (other known bounds are rescaled):

* ``mu_t = (1/2 + sum x_i) / (t + 1)``, ``sigma2_t = (1/4 + sum (x_i - mu_i)^2) / (t + 1)``
  (``mu_0 = 1/2``, ``sigma2_0 = 1/4``);
* ``lambda_t = min(sqrt(2 log(2/alpha) / (sigma2_{t-1} t log(1 + t))), 1/2)``;
* ``v_t = 4 (x_t - mu_{t-1})^2`` and ``psi(l) = (-log(1 - l) - l) / 4``;
* ``C_t = sum l_i x_i / sum l_i  +-  (log(2/alpha) + sum v_i psi(l_i)) / sum l_i``, cut to [0, 1].

The running intersection of the ``C_t`` is a confidence sequence too (the event "the mean is in
every ``C_t``" is the same), so the band never widens. Everything is a running sum: O(1) memory per
sequence, whatever the number of trials. ``sequence_bands`` computes the whole band of many
sequences at once with numpy (benchmarks, the dashboard); ``ConfidenceSequence`` is the streaming
form (the bandit's stop rule). Lives in ``core`` because orchestrators and analysis both use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

LAMBDA_CAP = 0.5  # the paper's c; any c in (0, 1) is valid, 1/2 or 3/4 are its suggestions


def _check(alpha: float, low: float, high: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"bounds must be finite with low < high, got [{low}, {high}]")


@dataclass
class ConfidenceSequence:
    """A streaming (1 - alpha) confidence sequence for the mean of values in ``[low, high]``.

    ``add`` raises ``ValueError`` for a value outside the bounds: the guarantee rests on them, so a
    caller must decide what an out-of-range value means rather than have it clipped silently.
    """

    alpha: float = 0.05
    low: float = 0.0
    high: float = 1.0
    intersect: bool = True
    n: int = 0
    _sum: float = 0.0
    _squares: float = 0.0  # sum (x_i - mu_i)^2
    _lambdas: float = 0.0
    _weighted: float = 0.0  # sum lambda_i x_i
    _penalty: float = 0.0  # sum v_i psi(lambda_i)
    _band: tuple[float, float] = field(default=(0.0, 1.0))

    def __post_init__(self) -> None:
        _check(self.alpha, self.low, self.high)

    def add(self, value: float) -> None:
        if not self.low <= value <= self.high:
            raise ValueError(f"value {value} is outside the bounds [{self.low}, {self.high}]")
        x = (value - self.low) / (self.high - self.low)
        t = self.n + 1
        mu_before = (0.5 + self._sum) / t
        sigma2_before = (0.25 + self._squares) / t
        lam = _lambda(math.log(2 / self.alpha), sigma2_before, t)
        self._lambdas += lam
        self._weighted += lam * x
        self._penalty += 4 * (x - mu_before) ** 2 * _psi(lam)
        self._sum += x
        self._squares += (x - (0.5 + self._sum) / (t + 1)) ** 2
        self.n = t
        center = self._weighted / self._lambdas
        margin = (math.log(2 / self.alpha) + self._penalty) / self._lambdas
        low, high = max(0.0, center - margin), min(1.0, center + margin)
        if self.intersect:
            low, high = max(low, self._band[0]), min(high, self._band[1])
        self._band = (low, high)

    @property
    def interval(self) -> tuple[float, float]:
        """The band now, in the values' own units (``[low, high]`` before the first value)."""
        span = self.high - self.low
        return self.low + span * self._band[0], self.low + span * self._band[1]


def _lambda(log_term: float, sigma2_before: float, t: int) -> float:
    return min(math.sqrt(2 * log_term / (sigma2_before * t * math.log1p(t))), LAMBDA_CAP)


def _psi(lam: float) -> float:
    return (-math.log1p(-lam) - lam) / 4


def sequence_bands(
    values: np.ndarray,
    alpha: float = 0.05,
    low: float = 0.0,
    high: float = 1.0,
    *,
    intersect: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The band after each value of each sequence: ``(lows, highs)``, each shaped like ``values``.

    ``values`` is one sequence (1-d) or many (2-d, one per row, all of one length); the same
    formula as ``ConfidenceSequence``, vectorised with cumulative sums.
    """
    _check(alpha, low, high)
    data = np.asarray(values, dtype=float)
    if data.size and (data.min() < low or data.max() > high):
        raise ValueError(f"values must lie within the bounds [{low}, {high}]")
    x = (data - low) / (high - low)
    t = np.arange(1, x.shape[-1] + 1, dtype=float)
    sums = np.cumsum(x, axis=-1)
    mu = (0.5 + sums) / (t + 1)  # mu_t, t = 1..n
    mu_before = np.concatenate([np.full(x.shape[:-1] + (1,), 0.5), mu[..., :-1]], axis=-1)
    squares = np.cumsum((x - mu) ** 2, axis=-1)
    sigma2 = (0.25 + squares) / (t + 1)
    sigma2_before = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), sigma2[..., :-1]], axis=-1)
    log_term = math.log(2 / alpha)
    lam = np.minimum(np.sqrt(2 * log_term / (sigma2_before * t * np.log1p(t))), LAMBDA_CAP)
    lambdas = np.cumsum(lam, axis=-1)
    center = np.cumsum(lam * x, axis=-1) / lambdas
    penalty = np.cumsum(4 * (x - mu_before) ** 2 * (-np.log1p(-lam) - lam) / 4, axis=-1)
    margin = (log_term + penalty) / lambdas
    lows, highs = np.maximum(center - margin, 0.0), np.minimum(center + margin, 1.0)
    if intersect:
        lows, highs = np.maximum.accumulate(lows, axis=-1), np.minimum.accumulate(highs, axis=-1)
    span = high - low
    return low + span * lows, low + span * highs
