"""Epochs and the per-sample reducers: pass@k (Chen et al. 2021) and pass^k (tau-bench 2024)
against their formulas on a fixed table, against brute force, and in a run's report."""

from __future__ import annotations

import itertools
from math import comb

import pytest

from meta_orchestrator.analysis.summary import summarize_run
from meta_orchestrator.core.epochs import pass_at_k, pass_hat_k, reduce
from meta_orchestrator.store import RunStore
from tests.helpers import RunSuite, simulated

# n attempts, c successes, k: pass@k = 1 - C(n-c, k) / C(n, k), pass^k = C(c, k) / C(n, k)
TABLE = [
    # n, c, k, pass@k, pass^k
    (1, 0, 1, 0.0, 0.0),
    (1, 1, 1, 1.0, 1.0),
    (5, 2, 1, 0.4, 0.4),
    (5, 2, 2, 0.7, 0.1),  # 1 - 3/10, 1/10
    (5, 3, 2, 0.9, 0.3),  # 1 - 1/10, 3/10
    (5, 2, 3, 0.9, 0.0),  # 1 - 1/10; fewer successes than k: no k-subset passes throughout
    (5, 3, 3, 1.0, 0.1),  # fewer failures than k: every k-subset holds a pass
    (10, 10, 5, 1.0, 1.0),
    (10, 0, 3, 0.0, 0.0),
    (4, 3, 4, 1.0, 0.0),
    (10, 7, 3, 1 - 1 / 120, 35 / 120),
    (20, 5, 4, 1 - 1365 / 4845, 5 / 4845),
]


@pytest.mark.parametrize(("n", "c", "k", "at_k", "hat_k"), TABLE)
def test_estimators_on_a_fixed_table(n: int, c: int, k: int, at_k: float, hat_k: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(at_k, abs=1e-12)
    assert pass_hat_k(n, c, k) == pytest.approx(hat_k, abs=1e-12)
    assert reduce("pass_at_k", n, c, k) == pass_at_k(n, c, k)
    assert reduce("pass_hat_k", n, c, k) == pass_hat_k(n, c, k)
    assert reduce("mean", n, c, k) == c / n


@pytest.mark.parametrize("n", range(1, 7))
def test_estimators_equal_the_share_of_k_subsets_of_the_attempts(n: int) -> None:
    """The estimators are exact: the fraction of k-subsets of the n attempts with any (all) pass."""
    for c in range(n + 1):
        attempts = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(attempts, k))
            assert len(subsets) == comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(sum(map(any, subsets)) / len(subsets))
            assert pass_hat_k(n, c, k) == pytest.approx(sum(map(all, subsets)) / len(subsets))


@pytest.mark.parametrize(("n", "c", "k"), [(2, 3, 1), (3, 1, 4), (3, -1, 1), (3, 1, 0)])
def test_estimators_refuse_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= c <= n and 1 <= k <= n"):
        pass_at_k(n, c, k)
    with pytest.raises(ValueError):
        pass_hat_k(n, c, k)


def test_a_run_with_epochs_reports_pass_at_k_and_pass_hat_k_from_its_trials(
    run_suite: RunSuite,
) -> None:
    config = {
        "name": "epochs",
        "seed": 11,
        "variants": {"good": simulated(0.8), "poor": simulated(0.3)},
        "datasets": {"tasks": {"type": "synthetic", "size": 12, "seed": 1}},
        "experiments": [
            {
                "name": "e",
                "variants": ["good", "poor"],
                "dataset": "tasks",
                "epochs": 5,
                "pass_k": 3,
                "reducer": "pass_hat_k",
            }
        ],
    }
    ran = run_suite(config)
    trials = ran.trials()
    assert len(trials) == 2 * 12 * 5
    per_pair: dict[tuple[str, str], list[float]] = {}
    for t in trials:
        per_pair.setdefault((t.variant, t.sample_id or ""), []).append(t.metrics["success"])
    assert {len(v) for v in per_pair.values()} == {5}
    epochs = {(t.variant, t.sample_id): set() for t in trials}
    for t in trials:
        epochs[(t.variant, t.sample_id)].add(t.epoch)
    assert set(map(frozenset, epochs.values())) == {frozenset(range(5))}
    assert len({t.seed for t in trials}) == len(trials)  # distinct seeds per epoch

    with RunStore(ran.db) as store:
        (experiment,) = summarize_run(store, ran.run_id).experiments
    samples = experiment.samples
    assert samples is not None and samples.k == 3 and samples.epochs == 5
    for row in samples.variants:
        counts = [(len(v), int(sum(v))) for (name, _), v in per_pair.items() if name == row.variant]
        assert row.samples == row.k_samples == 12
        assert row.pass_at_k == pytest.approx(sum(pass_at_k(n, c, 3) for n, c in counts) / 12)
        assert row.pass_hat_k == pytest.approx(sum(pass_hat_k(n, c, 3) for n, c in counts) / 12)
        assert row.reduced == row.pass_hat_k
        assert row.pass_rate == pytest.approx(sum(c / n for n, c in counts) / 12)
    flaky = sum(1 for v in per_pair.values() if 0 < sum(v) < 5)
    flaky_samples = {s for (_, s), v in per_pair.items() if 0 < sum(v) < 5}
    assert flaky and samples.flaky_count == len(flaky_samples)
    summary = (ran.results_dir / ran.run_id / "summary.md").read_text("utf-8")
    assert "| Variant | Samples | Pass rate per sample | pass@3 | pass^3 |" in summary
