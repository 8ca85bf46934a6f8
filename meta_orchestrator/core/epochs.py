"""Per-sample reducers over epochs: how several attempts at one sample make one number.

With ``epochs: K`` every (variant, sample) pair runs K times. Over a sample's ``n`` finished
attempts with ``c`` successes:

* ``mean`` — the pass rate ``c / n``;
* ``pass_at_k`` — the unbiased estimator of "at least one of k attempts succeeds",
  ``1 - C(n - c, k) / C(n, k)`` (Chen et al. 2021, *Evaluating Large Language Models Trained on
  Code*);
* ``pass_hat_k`` — "all k attempts succeed", ``C(c, k) / C(n, k)`` (pass^k, Yao et al. 2024,
  *tau-bench*): the reliability measure; it falls with k for a flaky agent.

A variant's pass@k is the mean of its samples' estimates. Both need ``n >= k``.
"""

from __future__ import annotations

from math import comb

REDUCER_NAMES: tuple[str, ...] = ("mean", "pass_at_k", "pass_hat_k")


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k attempts drawn without replacement from the n succeeds)."""
    _check(n, c, k)
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """P(all k attempts drawn without replacement from the n succeed)."""
    _check(n, c, k)
    return comb(c, k) / comb(n, k)


def reduce(reducer: str, n: int, c: int, k: int) -> float:
    """One sample's value under ``reducer`` (``mean`` ignores ``k``)."""
    if reducer == "mean":
        _check(n, c, 1)
        return c / n
    if reducer == "pass_at_k":
        return pass_at_k(n, c, k)
    if reducer == "pass_hat_k":
        return pass_hat_k(n, c, k)
    raise ValueError(f"reducer must be one of {', '.join(REDUCER_NAMES)} (got {reducer!r})")


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n or k < 1 or n < k:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n (got n={n}, c={c}, k={k})")
