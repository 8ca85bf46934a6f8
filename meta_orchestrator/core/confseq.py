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
from typing import Any

import numpy as np

LAMBDA_CAP = 0.5  # the paper's c; any c in (0, 1) is valid, 1/2 or 3/4 are its suggestions


def _check(alpha: float, low: float, high: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"bounds must be finite with low < high, got [{low}, {high}]")


@dataclass
class _Sums:
    """The running sums a sequence needs (scaled to [0, 1]); scalars, or arrays for many runs."""

    n: int = 0
    total: Any = 0.0  # sum x_i
    squares: Any = 0.0  # sum (x_i - mu_i)^2
    lambdas: Any = 0.0  # sum lambda_i
    weighted: Any = 0.0  # sum lambda_i x_i
    penalty: Any = 0.0  # sum v_i psi(lambda_i)


def _shifted(first: Any, series: np.ndarray) -> np.ndarray:
    """``series`` moved one step later along the last axis, ``first`` in front: the values at
    ``t - 1`` for every ``t``."""
    head = np.broadcast_to(np.asarray(first, dtype=float)[..., None], series.shape[:-1] + (1,))
    return np.concatenate([head, series[..., :-1]], axis=-1)


def _advance(x: np.ndarray, alpha: float, start: _Sums) -> tuple[np.ndarray, np.ndarray, _Sums]:
    """The raw bands (unit scale, cut to [0, 1], not intersected) after each value of ``x``
    (values along the last axis) continuing from ``start``, and the sums at the end."""
    t = start.n + np.arange(1, x.shape[-1] + 1, dtype=float)
    total = np.asarray(start.total)[..., None] + np.cumsum(x, axis=-1)
    mu = (0.5 + total) / (t + 1)
    mu_before = _shifted((0.5 + np.asarray(start.total)) / t[0], mu)  # mu_{t-1}
    squares = np.asarray(start.squares)[..., None] + np.cumsum((x - mu) ** 2, axis=-1)
    sigma2 = (0.25 + squares) / (t + 1)
    sigma2_before = _shifted((0.25 + np.asarray(start.squares)) / t[0], sigma2)
    log_term = math.log(2 / alpha)
    lam = np.minimum(np.sqrt(2 * log_term / (sigma2_before * t * np.log1p(t))), LAMBDA_CAP)
    lambdas = np.asarray(start.lambdas)[..., None] + np.cumsum(lam, axis=-1)
    weighted = np.asarray(start.weighted)[..., None] + np.cumsum(lam * x, axis=-1)
    psi = (-np.log1p(-lam) - lam) / 4
    penalty = np.asarray(start.penalty)[..., None] + np.cumsum(
        4 * (x - mu_before) ** 2 * psi, axis=-1
    )
    centre = weighted / lambdas
    margin = (log_term + penalty) / lambdas
    end = _Sums(
        start.n + x.shape[-1],
        total[..., -1],
        squares[..., -1],
        lambdas[..., -1],
        weighted[..., -1],
        penalty[..., -1],
    )
    return np.maximum(centre - margin, 0.0), np.minimum(centre + margin, 1.0), end


@dataclass
class ConfidenceSequence:
    """A streaming (1 - alpha) confidence sequence for the mean of values in ``[low, high]``.

    ``add`` one value (the bandit's stop rule) or ``extend`` by many at once (the dashboard: one
    numpy pass per refresh); the same formula, in scalar and vectorised form. They raise ``ValueError`` for a value
    outside the bounds: the guarantee rests on them, so a caller must decide what an out-of-range
    value means rather than have it clipped silently.
    """

    alpha: float = 0.05
    low: float = 0.0
    high: float = 1.0
    intersect: bool = True
    _sums: _Sums = field(default_factory=_Sums)
    _band: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        _check(self.alpha, self.low, self.high)

    @property
    def n(self) -> int:
        return self._sums.n

    def add(self, value: float) -> None:
        """One value: the scalar form of ``_advance`` (numpy's per-call cost would be 20x the
        arithmetic here, and a bandit adds every trial); tested equal to ``extend``."""
        if not self.low <= value <= self.high:
            raise ValueError(f"value {value} is outside the bounds [{self.low}, {self.high}]")
        x = (value - self.low) / (self.high - self.low)
        sums, t = self._sums, self._sums.n + 1
        mu_before = (0.5 + sums.total) / t
        sigma2_before = (0.25 + sums.squares) / t
        log_term = math.log(2 / self.alpha)
        lam = min(math.sqrt(2 * log_term / (sigma2_before * t * math.log1p(t))), LAMBDA_CAP)
        total = sums.total + x
        self._sums = _Sums(
            t,
            total,
            sums.squares + (x - (0.5 + total) / (t + 1)) ** 2,
            sums.lambdas + lam,
            sums.weighted + lam * x,
            sums.penalty + 4 * (x - mu_before) ** 2 * (-math.log1p(-lam) - lam) / 4,
        )
        centre = self._sums.weighted / self._sums.lambdas
        margin = (log_term + self._sums.penalty) / self._sums.lambdas
        low, high = max(0.0, centre - margin), min(1.0, centre + margin)
        if self.intersect:
            low, high = max(low, self._band[0]), min(high, self._band[1])
        self._band = (low, high)

    def extend(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take in ``values`` in order; return the band after each, in the values' units."""
        data = np.asarray(values, dtype=float)
        if data.size == 0:
            return np.empty(0), np.empty(0)
        if data.min() < self.low or data.max() > self.high:
            bad = data[(data < self.low) | (data > self.high)][0]
            raise ValueError(f"value {bad} is outside the bounds [{self.low}, {self.high}]")
        x = (data - self.low) / (self.high - self.low)
        lows, highs, self._sums = _advance(x, self.alpha, self._sums)
        if self.intersect:
            lows = np.maximum.accumulate(np.maximum(lows, self._band[0]))
            highs = np.minimum.accumulate(np.minimum(highs, self._band[1]))
        self._band = (float(lows[-1]), float(highs[-1]))
        span = self.high - self.low
        return self.low + span * lows, self.low + span * highs

    @property
    def interval(self) -> tuple[float, float]:
        """The band now, in the values' own units (``[low, high]`` before the first value)."""
        span = self.high - self.low
        return self.low + span * self._band[0], self.low + span * self._band[1]


def sequence_bands(
    values: np.ndarray,
    alpha: float = 0.05,
    low: float = 0.0,
    high: float = 1.0,
    *,
    intersect: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The band after each value of each sequence: ``(lows, highs)``, each shaped like ``values``.

    ``values`` is one sequence (1-d) or many (2-d, one per row, all of one length): the formula of
    ``ConfidenceSequence``, for many runs at once (benchmarks).
    """
    _check(alpha, low, high)
    data = np.asarray(values, dtype=float)
    if data.size and (data.min() < low or data.max() > high):
        raise ValueError(f"values must lie within the bounds [{low}, {high}]")
    zeros = np.zeros(data.shape[:-1])
    start = _Sums(0, zeros, zeros, zeros, zeros, zeros)
    lows, highs, _ = _advance((data - low) / (high - low), alpha, start)
    if intersect:
        lows, highs = np.maximum.accumulate(lows, axis=-1), np.minimum.accumulate(highs, axis=-1)
    span = high - low
    return low + span * lows, low + span * highs
