"""Bandits: each strategy concentrates on the best arm; early stop says why it stopped."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from meta_orchestrator.core.config import load_config
from meta_orchestrator.driver import drive
from meta_orchestrator.orchestrators import STRATEGIES, create_orchestrator
from meta_orchestrator.store import RunStore
from meta_orchestrator.testing import ScriptedBackend
from tests.helpers import RunSuite, mab, orchestrator_for, python_agent, simulated, suite

RATES = {"weak": 0.2, "fair": 0.4, "good": 0.6, "best": 0.85}
STRATEGY_NAMES = ["epsilon_greedy", "ucb1", "thompson_sampling"]


def _weights(reward: str) -> dict[str, float]:
    # bernoulli: the score is success alone; gaussian: cost makes it continuous.
    return {"success": 1.0} if reward == "bernoulli" else {"success": 1.0, "cost": -1.0}


@pytest.mark.parametrize("reward", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_each_strategy_concentrates_on_the_best_arm(
    run_suite: RunSuite, strategy: str, reward: str
) -> None:
    variants = {
        name: simulated(rate, cost_mean=0.05, cost_sd=0.02 if reward == "gaussian" else 0.0)
        for name, rate in RATES.items()
    }
    config = suite(
        variants,
        [mab("bandit", list(RATES), 400, strategy=strategy, reward=reward)],
        scoring_weights=_weights(reward),
    )
    ran = run_suite(config)
    counts = Counter(t.variant for t in ran.trials())
    assert sum(counts.values()) == 400
    assert counts.most_common(1)[0][0] == "best", counts
    assert counts["best"] >= 0.5 * 400, counts
    assert counts["weak"] < counts["best"] / 4, counts
    experiment = ran.experiments()["bandit"]
    assert experiment.strategy == strategy
    with RunStore(ran.db) as store:
        assert store.choice_counts(ran.run_id, "bandit") == dict(counts)
        assert any(
            "choices: " + ", ".join(f"{v}={counts[v]}" for v in RATES) in line.message
            for line in store.logs(ran.run_id)
        )


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_concentration_holds_across_seeds(strategy: str) -> None:
    """Driven directly (no store) over 20 seeds: the best arm gets the most pulls in nearly all."""
    wins, share = 0, 0.0
    for seed in range(20):
        config = load_config(
            suite(
                {name: simulated(rate) for name, rate in RATES.items()},
                [mab("bandit", list(RATES), 300, strategy=strategy)],
                seed=seed,
            )
        )
        orchestrator = create_orchestrator(
            config.experiments[0], config.seed, config.scoring_weights
        )
        draw = random.Random(seed)
        backend = ScriptedBackend(
            lambda spec, draw=draw: float(draw.random() < RATES[spec.variant])
        )
        for _ in drive(orchestrator, backend, run_id="r", run_seed=seed):
            pass
        counts = orchestrator.choice_counts
        wins += max(counts, key=counts.__getitem__) == "best"
        share += counts["best"] / 300 / 20
    assert wins >= 18, wins
    assert share >= 0.5, share


def test_early_stop_triggers_and_records_the_reason(run_suite: RunSuite) -> None:
    config = suite(
        {"bad": simulated(0.1), "great": simulated(0.9)},
        [
            mab(
                "early",
                ["bad", "great"],
                2000,
                early_stop={"probability_best": 0.95, "min_trials_per_variant": 10},
            )
        ],
    )
    ran = run_suite(config)
    trials = ran.trials()
    assert 20 <= len(trials) < 2000
    assert len(trials) % 10 == 0  # checked every 10 trials
    reason = ran.experiments()["early"].stop_reason or ""
    assert reason.startswith("early stop: 'great' is best with posterior probability ")
    assert reason.endswith(f">= 0.95 after {len(trials)} trials")
    record = ran.record()
    assert record.status == "completed" and record.stop_reason == f"early: {reason}"
    assert Counter(t.variant for t in trials)["bad"] >= 10


def test_no_early_stop_when_arms_are_alike(run_suite: RunSuite) -> None:
    config = suite(
        {"same_a": simulated(0.5), "same_b": simulated(0.5)},
        [mab("tie", ["same_a", "same_b"], 200, early_stop={"probability_best": 0.99})],
    )
    ran = run_suite(config)
    assert len(ran.trials()) == 200
    assert ran.experiments()["tie"].stop_reason is None


def test_a_crashing_arm_loses(run_suite: RunSuite) -> None:
    config = suite(
        {"crashes": python_agent("faulty_agents:raises"), "works": simulated(0.5)},
        [mab("crash", ["crashes", "works"], 150, strategy="thompson_sampling")],
    )
    counts = Counter(t.variant for t in run_suite(config).trials())
    assert counts["works"] > 4 * counts["crashes"], counts


def test_strategy_names_map_to_classes() -> None:
    assert sorted(STRATEGIES) == sorted(STRATEGY_NAMES)
    assert {cls.strategy_name for cls in STRATEGIES.values()} == set(STRATEGY_NAMES)


def test_a_proposal_is_possible_while_earlier_trials_are_pending() -> None:
    orchestrator = orchestrator_for(mab("async-mab", ["a", "b", "c", "d"], 40))
    proposals = [orchestrator.propose() for _ in range(8)]
    assert all(p is not None for p in proposals)
    # With nothing reported yet, dispatches spread evenly instead of piling onto one arm.
    assert Counter(p.variant for p in proposals if p) == {"a": 2, "b": 2, "c": 2, "d": 2}
    assert [p.index for p in proposals if p] == list(range(8))
    assert sum(orchestrator.pending.values()) == 8
