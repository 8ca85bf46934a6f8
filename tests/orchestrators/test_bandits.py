"""Bandits: each strategy concentrates on the best arm; early stop says why it stopped."""

from __future__ import annotations

import math
import random
import re
from collections import Counter

import pytest

from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.core.trial import TrialSpec
from meta_orchestrator.driver import drive
from meta_orchestrator.orchestrators import STRATEGIES, create_orchestrator
from meta_orchestrator.orchestrators.bandits import _beta_tail, _spent
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
    assert re.search(r">= 0\.9\d+ \(1 - 0\.95 spent over \d+ looks?\) after \d+ trials$", reason)
    assert reason.endswith(f"after {len(trials)} trials")
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


def test_posterior_rule_spends_its_error_rate_over_the_looks() -> None:
    """Look j may stop only when P(another variant is better) <= (1 - probability_best) times
    its share; the shares sum to at most 1, and a later look's threshold is stricter."""
    shares = [_spent(j) for j in range(1, 1 << 16)]
    assert sum(shares) <= 1.0
    assert shares[0] == 0.5 and shares[1] == shares[2] == 1 / 6 / 2
    assert all(a >= b for a, b in zip(shares, shares[1:], strict=False))


def _anytime(variants: dict[str, float], total: int, **stop: object) -> dict[str, object]:
    early_stop = {"stop_rule": "anytime_valid", "min_trials_per_variant": 5, **stop}
    return mab("any", list(variants), total, early_stop=early_stop)


def test_anytime_valid_stop_records_the_reason(run_suite: RunSuite) -> None:
    rates = {"bad": 0.1, "great": 0.9}
    config = suite({v: simulated(r) for v, r in rates.items()}, [_anytime(rates, 2000)])
    ran = run_suite(config)
    trials = ran.trials()
    assert len(trials) < 2000 and len(trials) % 10 == 0
    reason = ran.experiments()["any"].stop_reason or ""
    assert reason.startswith(
        "early stop: 'great' is best by anytime-valid confidence sequences (alpha 0.05): its "
        "lower bound "
    ), reason
    assert reason.endswith(f"after {len(trials)} trials")
    counts = Counter(t.variant for t in trials)
    # Every other dispatch goes to the least-tried contender, so the loser is not starved.
    assert counts["bad"] >= 0.3 * len(trials), counts


def test_anytime_valid_never_stops_on_equal_arms() -> None:
    """Twenty seeds of two equal arms, 600 trials each: the sequences never separate."""
    for seed in range(20):
        orchestrator = orchestrator_for(_anytime({"a": 0.5, "b": 0.5}, 600), seed=seed)
        draw = random.Random(seed)
        backend = ScriptedBackend(lambda spec, draw=draw: float(draw.random() < 0.5))
        for _ in drive(orchestrator, backend, run_id="r", run_seed=seed):
            pass
        assert orchestrator.stop_reason is None, (seed, orchestrator.stop_reason)


def test_anytime_valid_on_a_dataset_follows_paired_differences() -> None:
    """On a dataset a sample's difficulty hits both variants alike; the rule pairs them by
    position and stops on the better one, which an unpaired band would need far longer for."""
    config = load_config(
        {
            **suite(
                {"weak": simulated(0.5), "strong": simulated(0.5)},
                [{**_anytime({"weak": 0, "strong": 0}, 2000), "dataset": "d"}],
            ),
            "datasets": {"d": {"type": "synthetic", "size": 1000, "seed": 3}},
        }
    )
    experiment = config.experiments[0]
    dataset = config.dataset("d")
    orchestrator = create_orchestrator(experiment, config.seed, config.scoring_weights, dataset.ids)
    easy = {sid: random.Random(sid).random() < 0.5 for sid in dataset.ids}

    def outcome(spec: TrialSpec) -> float:
        # An easy sample is passed by both, a hard one only by 'strong', a third of the time.
        hard_pass = spec.variant == "strong" and random.Random(spec.seed).random() < 0.33
        return float(easy[spec.sample_id] or hard_pass)

    backend = ScriptedBackend(outcome, 4, order="random", seed=1)
    for _ in drive(orchestrator, backend, run_id="r", run_seed=1, dataset=dataset):
        pass
    reason = orchestrator.stop_reason or ""
    assert reason.startswith(
        "early stop: 'strong' is best by anytime-valid confidence sequences of paired "
        "differences (alpha 0.05)"
    ), reason


def test_a_score_outside_the_bounds_turns_the_anytime_rule_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    experiment = _anytime({"a": 0.5, "b": 0.5}, 200, score_bounds=[0, 1])
    config = load_config(
        suite(
            {"a": simulated(0.5), "b": simulated(0.5)},
            [{**experiment, "mab_settings": {**experiment["mab_settings"], "reward": "gaussian"}}],
        )
    )
    orchestrator = create_orchestrator(config.experiments[0], 1, config.scoring_weights)
    backend = ScriptedBackend(lambda spec: 5.0 if spec.variant == "a" else 0.0)
    with caplog.at_level("WARNING", logger="meta_orchestrator.run"):
        for _ in drive(orchestrator, backend, run_id="r", run_seed=1):
            pass
    assert orchestrator.stop_reason is None  # 'a' is far better, but the bounds were wrong
    assert (
        "anytime-valid early stop turned off: reward 5 of 'a' is outside score_bounds [0, 1]"
        in (caplog.text)
    )


def test_beta_tail_matches_the_closed_form() -> None:
    """P(B > A) for Beta posteriors with integer parameters has a closed form (a finite sum of
    Beta functions; Evan Miller, "Formulas for Bayesian A/B testing")."""
    from scipy.special import betaln

    def closed(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
        return sum(
            math.exp(betaln(a_a + i, b_a + b_b) - math.log(b_b + i) - betaln(1 + i, b_b)
                     - betaln(a_a, b_a))
            for i in range(a_b)
        )  # fmt: skip

    for (s_a, f_a), (s_b, f_b) in [((40, 10), (20, 30)), ((5, 5), (4, 6)), ((3, 0), (0, 2))]:
        leader = RunningMoments.of([1.0] * s_a + [0.0] * f_a)
        other = RunningMoments.of([1.0] * s_b + [0.0] * f_b)
        expected = closed(1 + s_a, 1 + f_a, 1 + s_b, 1 + f_b)
        assert _beta_tail(leader, other) == pytest.approx(expected, rel=1e-6, abs=1e-12)
