"""How often a bandit's early stop picks a worse variant: the ``posterior`` and ``anytime_valid`` rules.

    python benchmarks/bench_early_stop.py [--runs 1000] [--trials 2000]

A rule promises an error rate: ``posterior`` stops when a variant's posterior probability of being
the best reaches ``probability_best`` (0.95), so it should stop on a worse variant at most
1 - 0.95 = 5% of the time; ``anytime_valid`` stops when confidence sequences separate, at most
``alpha`` = 5%. Each scenario runs the real Thompson-sampling orchestrator through the real driver
loop (``driver.drive``) ``--runs`` times with different seeds; only the backend is
``testing.ScriptedBackend``, drawing each trial's success from the variant's true rate. The
posterior rule is run as shipped (``min_trials_per_variant`` 5, a look every 10 trials), and beside it as it was before it spent its error rate over the looks
(``posterior, uncorrected``: stop at the first look where P(best) >= 0.95).

"Wrong stop" is a stop on a variant whose true rate is below the best's, counted over all runs
(a run that spends its budget without stopping is not wrong). Every rate is shown with its 95%
Wilson interval over the runs. The scenarios: two close variants (0.50 vs 0.55), a clear gap
(0.50 vs 0.65), three variants (0.45, 0.50, 0.55), and a dataset of 1,000 samples whose difficulty
varies (per-sample pass rates drawn from Beta(2, 2), the better variant 0.4 higher in log-odds),
where ``anytime_valid`` follows paired differences.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rates import wilson_share

from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.trial import TrialResult, TrialSpec
from meta_orchestrator.driver import drive
from meta_orchestrator.orchestrators import ThompsonSampling, create_orchestrator
from meta_orchestrator.testing import ScriptedBackend, scripted_result

RULES = {
    "posterior, uncorrected": {"stop_rule": "posterior", "probability_best": 0.95},
    "posterior": {"stop_rule": "posterior", "probability_best": 0.95},
    "anytime_valid": {"stop_rule": "anytime_valid", "alpha": 0.05},
}
PROMISED = 0.05


class UncorrectedThompson(ThompsonSampling):
    """The posterior rule as it was before the fix: stop at the first look where a Monte Carlo
    P(best) reaches ``probability_best``, every look at the full threshold."""

    def _posterior_decision(self) -> str | None:
        stop = self.settings.early_stop
        assert stop is not None
        probs = self.probability_best()
        leader = max(probs, key=probs.__getitem__)
        if probs[leader] < stop.probability_best:
            return None
        return f"early stop: '{leader}' is best with posterior probability {probs[leader]:.3f}"


@dataclass(frozen=True)
class Scenario:
    name: str
    rates: dict[str, float]  # without a dataset: success rates; with one, log-odds shifts
    samples: int = 0  # > 0: a dataset of this many samples of varying difficulty
    difficulty: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False)

    def best(self) -> set[str]:
        top = max(self.rates.values())
        return {v for v, r in self.rates.items() if r == top}

    def chance(self, variant: str, sample_id: str | None) -> float:
        if not self.samples:
            return self.rates[variant]
        assert sample_id is not None
        base = self.difficulty[int(sample_id.rsplit("-", 1)[1])]
        return 1 / (1 + math.exp(-(math.log(base / (1 - base)) + self.rates[variant])))


def scenarios() -> list[Scenario]:
    difficulty = np.random.default_rng(11).beta(2, 2, 1000).clip(0.02, 0.98)
    return [
        Scenario("two close variants (0.50 vs 0.55)", {"a": 0.50, "b": 0.55}),
        Scenario("a clear gap (0.50 vs 0.65)", {"a": 0.50, "b": 0.65}),
        Scenario("three variants (0.45, 0.50, 0.55)", {"a": 0.45, "b": 0.50, "c": 0.55}),
        Scenario(
            "dataset, 1,000 samples of varying difficulty, +0.4 log-odds",
            {"a": 0.0, "b": 0.4},
            samples=1000,
            difficulty=difficulty,
        ),
    ]


def _config(scenario: Scenario, rule: str, trials: int, seed: int) -> dict[str, Any]:
    early_stop = {**RULES[rule], "min_trials_per_variant": 5, "check_every": 10}
    experiment: dict[str, Any] = {
        "name": "e",
        "orchestrator": "mab",
        "variants": list(scenario.rates),
        "mab_settings": {
            "strategy": "thompson_sampling",
            "total_trials": trials,
            "reward": "bernoulli",
            "early_stop": early_stop,
        },
    }
    config: dict[str, Any] = {
        "name": "early-stop-bench",
        "seed": seed,
        "variants": {v: {"type": "simulated"} for v in scenario.rates},
        "experiments": [experiment],
        "scoring_weights": {"success": 1.0},
    }
    if scenario.samples:
        config["datasets"] = {"d": {"type": "synthetic", "size": scenario.samples, "seed": 1}}
        experiment["dataset"] = "d"
    return config


def one_run(scenario: Scenario, rule: str, trials: int, seed: int) -> tuple[str | None, int]:
    """The variant the run stopped on (``None``: no early stop) and the trials it used."""
    config = load_config(_config(scenario, rule, trials, seed))
    experiment = config.experiments[0]
    ids = config.dataset("d").ids if scenario.samples else None
    orchestrator = create_orchestrator(experiment, seed, config.scoring_weights, ids)
    if rule == "posterior, uncorrected":
        orchestrator = UncorrectedThompson(experiment, seed, bernoulli=True, samples=ids)
    rng = np.random.default_rng([seed, 0x57097])

    def outcome(spec: TrialSpec) -> TrialResult:
        success = float(rng.random() < scenario.chance(spec.variant, spec.sample_id))
        return scripted_result(spec, success, metrics={"success": success, "latency": 0.0})

    backend = ScriptedBackend(outcome, 1, order="fifo", keep_submitted=False)
    dataset = config.dataset("d") if scenario.samples else None
    for _ in drive(orchestrator, backend, run_id="bench", run_seed=seed, dataset=dataset):
        pass
    reason = orchestrator.stop_reason
    if reason is None or not reason.startswith("early stop: '"):
        return None, orchestrator.done
    return reason.split("'")[1], orchestrator.done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.runs} runs per row, ")
    print(f"budget {args.trials} trials, Thompson sampling; rates with 95% Wilson intervals\n")
    print("| scenario | rule | stopped early | wrong stop | promised | mean trials used |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    started = time.perf_counter()
    verdicts = []
    for scenario in scenarios():
        for rule in RULES:
            stops, wrong, used = 0, 0, 0
            for seed in range(args.runs):
                winner, done = one_run(scenario, rule, args.trials, seed)
                stops += winner is not None
                wrong += winner is not None and winner not in scenario.best()
                used += done
            print(
                f"| {scenario.name} | {rule} | {wilson_share(stops, args.runs)} | "
                f"{wilson_share(wrong, args.runs)} | ≤ {PROMISED:.0%} | {used / args.runs:,.0f} |"
            )
            verdicts.append((scenario.name, rule, wrong / args.runs))
    print()
    for name, rule, rate in verdicts:
        print(
            f"{rule} on {name}: wrong-stop {rate:.1%} ({'meets' if rate <= PROMISED else 'BREAKS'} ≤ {PROMISED:.0%})"
        )
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
