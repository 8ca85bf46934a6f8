"""The weighted score and the metrics contract every variant's result must meet.

``score = sum(weight[m] * metrics[m] for m in scoring_weights)``. Metrics are plain numbers:
``success`` (bool or 0/1, required), ``cost`` (>= 0, default 0), ``autonomy`` (0..1), any custom
numeric metric, and ``latency`` (wall seconds), which the harness measures and overwrites.
A negative weight penalises a metric (cost, latency). A failed trial scores ``failure_score``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

_isfinite = math.isfinite


class MalformedResult(ValueError):
    """A variant returned something that breaks the metrics contract; the message names the field."""


def validate_metrics(
    variant: str, raw: Any, latency: float, weights: Mapping[str, float]
) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise MalformedResult(
            f"variant '{variant}' returned {type(raw).__name__}, expected a mapping of metrics "
            "such as {'success': True, 'cost': 0.01}"
        )
    metrics: dict[str, float] = {}
    for key, value in raw.items():
        kind = type(value)
        if kind is bool and type(key) is str:  # the common values, checked once per trial
            metrics[key] = 1.0 if value else 0.0
        elif kind is float and type(key) is str and _isfinite(value):
            metrics[key] = value
        else:
            if not isinstance(key, str):
                raise MalformedResult(
                    f"variant '{variant}': metric names must be strings, got {key!r}"
                )
            metrics[key] = _number(variant, key, value)
    success = metrics.get("success")
    if success is None:
        raise MalformedResult(f"variant '{variant}': field 'success' is missing (bool or 0/1)")
    if success != 0.0 and success != 1.0:
        raise MalformedResult(
            f"variant '{variant}': field 'success' must be a bool or 0/1, got {raw['success']!r}"
        )
    cost = metrics.setdefault("cost", 0.0)
    if cost < 0:
        raise MalformedResult(f"variant '{variant}': field 'cost' must be >= 0, got {cost}")
    if "autonomy" in metrics and not 0.0 <= metrics["autonomy"] <= 1.0:
        raise MalformedResult(
            f"variant '{variant}': field 'autonomy' must be within 0..1, got {metrics['autonomy']}"
        )
    metrics["latency"] = latency
    for name in weights:
        if name not in metrics:
            raise MalformedResult(
                f"variant '{variant}': field '{name}' is missing but scoring_weights uses it"
            )
    return metrics


def bernoulli_scale(weights: Mapping[str, float]) -> float | None:
    """The weight of ``success`` when the score is a positive multiple of it alone (so every score
    is 0 or that weight, and a Beta-Bernoulli bandit applies); ``None`` otherwise."""
    nonzero = {name: weight for name, weight in weights.items() if weight != 0}
    if set(nonzero) == {"success"} and nonzero["success"] > 0:
        return nonzero["success"]
    return None


def reward_model(reward: str, weights: Mapping[str, float]) -> tuple[bool, float]:
    """A bandit's reward model for ``mab_settings.reward``: ``(bernoulli, scale)``.

    Bernoulli (Beta posteriors, rewards ``score / scale``) when asked for or when ``auto`` finds the
    score a positive multiple of ``success`` alone; Gaussian otherwise. Raises ``ValueError`` when
    ``bernoulli`` is asked for and the score is not such a multiple.
    """
    scale = bernoulli_scale(weights)
    if reward == "bernoulli" and scale is None:
        raise ValueError(
            "'bernoulli' needs scoring_weights with 'success' as the only non-zero (positive) weight"
        )
    if reward == "gaussian" or scale is None:
        return False, 1.0
    return True, scale


def failure_score(latency: float, weights: Mapping[str, float]) -> float:
    """The score of a failed trial (error, timeout): a trial that achieved nothing.

    Every weighted metric counts as 0 except the measured latency, so failures pull a variant's
    mean down instead of vanishing from it; a variant that crashes half the time cannot rank first
    on its successful half.
    """
    return weighted_score({**dict.fromkeys(weights, 0.0), "latency": latency}, weights)


def weighted_score(metrics: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The exactly rounded weighted sum (``fsum``); one weight, the common case, is one product
    (what ``fsum`` would return), without building a generator per trial."""
    if len(weights) == 1:
        for name, weight in weights.items():
            return weight * metrics[name]
    return math.fsum(weight * metrics[name] for name, weight in weights.items())


def trial_score(variant: str, metrics: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """A trial's weighted score; ``MalformedResult`` when finite metrics overflow it (``cost:
    1e308`` with a weight of 10), since one infinite score makes every statistic of the variant
    infinite or NaN."""
    try:
        score = weighted_score(metrics, weights)
    except OverflowError:
        score = math.inf
    if not _isfinite(score):
        raise MalformedResult(
            f"variant '{variant}': the weighted score is not finite ({score!r}); a metric is "
            "too large for its weight"
        )
    return score


def _number(variant: str, key: str, value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        number = float(value)
        if math.isfinite(number):
            return number
        raise MalformedResult(f"variant '{variant}': field '{key}' is not finite ({value!r})")
    if isinstance(value, numbers.Real) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
        return _number(variant, key, float(value))  # numpy scalars: int64, float32, bool_
    raise MalformedResult(
        f"variant '{variant}': field '{key}' must be a number, got {type(value).__name__} {value!r}"
    )
