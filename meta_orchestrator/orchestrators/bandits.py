"""Multi-armed bandit orchestrators: epsilon-greedy, UCB1 and Thompson sampling.

They spend a ``total_trials`` budget on the variants that look best, and may stop early once one
variant's posterior probability of being the best reaches ``early_stop.probability_best`` (the
``posterior`` stop rule) or once anytime-valid confidence sequences single it out (the
``anytime_valid`` rule, ``orchestrators.stopping``). With an early stop every other dispatch goes
to the least-tried variant the rule has not yet ruled out, so the runners-up get the trials a stop
needs: less exploitation, a stop that can happen and keeps its promise.

Rewards are trial scores. With ``reward: bernoulli`` (chosen by ``auto`` when the only weighted metric
is ``success``) the posterior of each arm is Beta(1 + successes, 1 + failures). Otherwise it is the
Gaussian model with unknown variance: the arm's mean follows a Student t around the sample mean, with
one pseudo-observation of the pooled variance so that an arm with two equal scores is not treated as
certain. A failed trial (error or timeout) is scored by the runner as one that achieved nothing;
a result that reaches the bandit with no score at all counts as the worst reward seen so far.

On a dataset, the bandit chooses the variant and the sample is that variant's next one: every
variant walks the same sample sequence (``orchestrators.samples.SampleWalks``), so any two share
their first ``min(n_a, n_b)`` samples and can be compared pairwise; a variant that has walked the
whole sequence (every sample, every epoch) is no longer chosen.

Delayed feedback: with many trials in flight, UCB counts pending pulls in its exploration bonus, and
Thompson sampling draws afresh for every dispatch, so concurrent dispatches spread over the plausible
arms instead of piling onto one. Every arm is tried before any is exploited.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import special

from meta_orchestrator.core.config import STRATEGY_NAMES, ExperimentConfig, MabSettings
from meta_orchestrator.core.running import RunningMoments
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.orchestrators.base import Orchestrator, Proposal
from meta_orchestrator.orchestrators.samples import SampleWalks
from meta_orchestrator.orchestrators.stopping import AnytimeStop

_POSTERIOR_DRAWS = 4000


class BanditOrchestrator(Orchestrator):
    """Shared machinery; subclasses choose an arm with ``_pick_arm``."""

    kind = "mab"
    strategy_name = "bandit"

    def __init__(
        self,
        experiment: ExperimentConfig,
        seed: int,
        *,
        bernoulli: bool = False,
        reward_scale: float = 1.0,
        samples: Sequence[str] | None = None,
    ) -> None:
        super().__init__(experiment, seed, samples)
        assert experiment.mab_settings is not None
        self.settings: MabSettings = experiment.mab_settings
        self.bernoulli = bernoulli
        self.reward_scale = reward_scale
        self.rng = np.random.default_rng([seed, 0xB4D17])
        self.arms: dict[str, RunningMoments] = {v: RunningMoments() for v in self.variants}
        self._worst = math.inf
        self._best = -math.inf
        self._dispatched = 0
        self.walks = SampleWalks(self.samples, self.variants) if self.samples is not None else None
        self.anytime = self._anytime_stop()
        self._looks = 0  # times the posterior rule has looked
        self._behind: dict[str, float] = {}  # its last look: P(variant >= leader)
        self._allowed = 0.0  # and the share that look could spend

    @property
    def planned_trials(self) -> int:
        if self.samples is None:
            return self.settings.total_trials
        return min(self.settings.total_trials, self.samples.length * len(self.variants))

    @property
    def strategy(self) -> str:
        return self.strategy_name

    def restore(self, results: Iterable[TrialResult]) -> None:
        super().restore(self.walks.restore(results) if self.walks is not None else results)
        self._dispatched = self.done

    # ----------------------------------------------------------------------------- dispatching
    def _choose(self) -> Proposal | None:
        if self._dispatched >= self.planned_trials:
            return None
        # Samples an interrupt left undone go first: the variants' sequences stay without gaps.
        variant = self.walks.gap_variant() if self.walks is not None else None
        if variant is None:
            variant = self._choose_variant()
        if variant is None:
            return None
        self._dispatched += 1
        index = self._next_index
        self._next_index += 1
        if self.walks is None:
            return Proposal(index, variant)
        sample_id, epoch = self.walks.take(variant)
        return Proposal(index, variant, sample_id, epoch)

    def _choose_variant(self) -> str | None:
        walks = self.walks
        candidates = [v for v in self.variants if walks is None or walks.has_next(v)]
        if not candidates:
            return None
        order = self.variants.index
        untried = [v for v in candidates if self.arms[v].n + self.pending[v] < self._min_pulls]
        if untried:
            return min(untried, key=lambda v: (self.arms[v].n + self.pending[v], order(v)))
        if any(self.arms[v].n < self._min_pulls for v in candidates):
            # Every arm has a first pull in flight: spread further dispatches evenly until
            # feedback arrives rather than guess from no data.
            return min(candidates, key=lambda v: (self.arms[v].n + self.pending[v], order(v)))
        if self.settings.early_stop is not None and self._dispatched % 2:
            contenders = [v for v in self._contenders() if v in candidates]
            if len(contenders) > 1:
                return min(contenders, key=lambda v: (self.arms[v].n + self.pending[v], order(v)))
        return self._pick_arm(candidates)

    def _contenders(self) -> list[str]:
        """With an early stop, every other dispatch goes to the least-tried of these: the leader
        and the variants the stop rule has not ruled out. A regret-minimising bandit starves
        the runners-up, and a stop needs evidence on them: without this, either rule waits for
        the whole budget on all but the clearest problems (``benchmarks/bench_early_stop.py``)."""
        if self.anytime is not None:
            return self.anytime.contenders(self._means())
        return self._posterior_contenders()

    @property
    def _min_pulls(self) -> int:
        """Pulls every arm gets before any is exploited: 1 (Beta) or 2 (an SD needs two), or the
        early stop's ``min_trials_per_variant``, so the stopping rule never waits on a starved arm."""
        floor = 1 if self.bernoulli else 2
        stop = self.settings.early_stop
        return max(floor, stop.min_trials_per_variant) if stop is not None else floor

    def _pick_arm(self, candidates: list[str]) -> str:
        """The arm to pull among ``candidates`` (every variant, unless some walked their dataset)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------- feedback
    def _update(self, result: TrialResult) -> None:
        reward = self._reward(result)
        self.arms[result.variant].add(reward)
        if self.anytime is not None:
            position = None
            if self.samples is not None and result.sample_id is not None:
                position = self.samples.position(result.sample_id, result.epoch)
            self.anytime.add(result.variant, reward, position)
        stop = self.settings.early_stop
        if stop is not None and self.stop_reason is None and self.done % stop.check_every == 0:
            if min(a.n for a in self.arms.values()) >= stop.min_trials_per_variant:
                if self.anytime is None:
                    reason = self._posterior_decision()
                else:
                    reason = self.anytime.decision(self.done)
                if reason is not None:
                    self.stop(reason)

    def _posterior_decision(self) -> str | None:
        """The ``posterior`` rule, calibrated for repeated looks.

        Stopping the first time P(best) >= ``probability_best`` breaks the promised error rate
        (``benchmarks/bench_early_stop.py``: 15% wrong stops at 0.95 on arms 0.50 vs 0.55), as
        every look is another chance to be fooled. So the 1 - ``probability_best`` the user allows
        is spent over the looks (``_spent``, summing to 1 - ``probability_best`` over all looks):
        look ``j`` may stop only when the posterior probability that any other variant is better
        is at most its share. That probability is bounded by the sum over the others of
        P(other >= leader), computed rather than drawn (4,000 draws could not resolve the small
        shares of late looks): exactly for Beta posteriors (``_beta_tail``), from the normal
        approximation with Student t tails for Gaussian rewards.
        """
        stop = self.settings.early_stop
        assert stop is not None
        self._looks += 1
        allowed = (1 - stop.probability_best) * _spent(self._looks)
        means, variances, dof = self._posterior_moments()
        leader = max(self.variants, key=lambda v: (means[v], -self.variants.index(v)))
        self._behind = {v: self._tail(leader, v, means, variances, dof) for v in self.variants}
        self._behind[leader], self._allowed = 0.0, allowed
        behind = sum(self._behind.values())
        if behind > allowed:
            return None
        looks = f"{self._looks} look{'s' if self._looks != 1 else ''}"
        return (
            f"early stop: '{leader}' is best with posterior probability {1 - behind:.6f} >= "
            f"{1 - allowed:.6f} (1 - {stop.probability_best} spent over {looks}) "
            f"after {self.done} trials"
        )

    def _tail(
        self,
        leader: str,
        other: str,
        means: dict[str, float],
        variances: dict[str, float],
        dof: dict[str, int],
    ) -> float:
        """Posterior P(mean of ``other`` >= mean of ``leader``)."""
        if other == leader:
            return 0.0
        if self.bernoulli:
            return _beta_tail(self.arms[leader], self.arms[other])
        gap = means[leader] - means[other]
        scale = math.sqrt(variances[leader] + variances[other])
        return float(special.stdtr(min(dof[leader], dof[other]), -gap / scale))  # t.sf

    def _posterior_contenders(self) -> list[str]:
        """The leader at the last look and the variants it has not yet ruled out: those whose
        P(better than the leader) is above their part of the next look's share."""
        if not self._behind:
            return []
        leader = min(self._behind, key=self._behind.__getitem__)
        share = self._allowed / max(len(self.variants) - 1, 1)
        return [v for v in self.variants if v == leader or self._behind[v] > share]

    def _posterior_moments(self) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
        """Each arm's posterior mean and variance of its mean reward, and the Student t degrees
        of freedom of that posterior (0: Beta, approximated by a normal)."""
        means, variances, dof = {}, {}, {}
        pooled = self._pooled_variance()
        for variant in self.variants:
            arm = self.arms[variant]
            if self.bernoulli:
                a, b = 1 + arm.mean * arm.n, 1 + arm.n - arm.mean * arm.n
                means[variant] = a / (a + b)
                variances[variant] = a * b / ((a + b) ** 2 * (a + b + 1))
                dof[variant] = 0
            else:
                dof[variant] = max(arm.n - 1, 0) + 1
                means[variant] = arm.mean
                variances[variant] = (arm.m2 + pooled) / dof[variant] / max(arm.n, 1)
        return means, variances, dof

    def _anytime_stop(self) -> AnytimeStop | None:
        """The ``anytime_valid`` rule's state, over rewards: Bernoulli rewards lie in [0, 1];
        Gaussian ones are scores, within the configured ``score_bounds``."""
        stop = self.settings.early_stop
        if stop is None or stop.stop_rule != "anytime_valid":
            return None
        bounds = (0.0, 1.0) if self.bernoulli else stop.score_bounds
        if bounds is None:  # load_config reports this first
            raise ValueError("early_stop.score_bounds: required by stop_rule 'anytime_valid'")
        return AnytimeStop(self.variants, stop.alpha, bounds, paired=self.samples is not None)

    def _reward(self, result: TrialResult) -> float:
        if result.score is None:
            if self.bernoulli:
                return 0.0
            return self._worst if math.isfinite(self._worst) else 0.0
        reward = result.score / self.reward_scale if self.bernoulli else result.score
        self._worst = min(self._worst, reward)
        self._best = max(self._best, reward)
        return reward

    # ----------------------------------------------------------------------------- posteriors
    def posterior_draws(self, size: int) -> np.ndarray:
        """Draws of each arm's mean reward, shape ``(size, arms)``; used by Thompson and early stop."""
        columns = []
        pooled = self._pooled_variance()
        for variant in self.variants:
            arm = self.arms[variant]
            if self.bernoulli:
                successes = arm.mean * arm.n
                columns.append(self.rng.beta(1 + successes, 1 + arm.n - successes, size))
            elif arm.n == 0:
                columns.append(np.full(size, math.inf))
            else:
                dof = max(arm.n - 1, 0) + 1
                variance = (arm.m2 + pooled) / dof
                scale = math.sqrt(variance / arm.n)
                columns.append(arm.mean + scale * self.rng.standard_t(dof, size))
        return np.column_stack(columns)

    def probability_best(self) -> dict[str, float]:
        draws = self.posterior_draws(_POSTERIOR_DRAWS)
        winners = np.bincount(np.argmax(draws, axis=1), minlength=len(self.variants))
        return {v: float(winners[i]) / _POSTERIOR_DRAWS for i, v in enumerate(self.variants)}

    def _pooled_variance(self) -> float:
        total_m2 = sum(a.m2 for a in self.arms.values())
        dof = sum(max(a.n - 1, 0) for a in self.arms.values())
        if dof > 0 and total_m2 > 0:
            return total_m2 / dof
        spread = self._best - self._worst
        return (spread / 2) ** 2 if math.isfinite(spread) and spread > 0 else 1e-6

    def _means(self) -> dict[str, float]:
        return {v: self.arms[v].mean for v in self.variants}


def _beta_tail(leader: RunningMoments, other: RunningMoments) -> float:
    """P(B >= A) for the Beta(1 + successes, 1 + failures) posteriors of two Bernoulli arms, by
    integrating density(A) * P(B >= x) over [0, 1] (exact to ~1e-12, even in far tails)."""
    a1, b1 = 1 + leader.mean * leader.n, 1 + leader.n - leader.mean * leader.n
    a2, b2 = 1 + other.mean * other.n, 1 + other.n - other.mean * other.n
    log_norm = special.betaln(a1, b1)

    def integrand(x: float) -> float:
        # scipy.special's ufuncs, not stats.beta.pdf/sf: the same values at ~1/100 of the cost
        # (the frozen-distribution machinery dominated a bandit's run, 0.16 s per look)
        log_density = special.xlogy(a1 - 1, x) + special.xlog1py(b1 - 1, -x) - log_norm
        return math.exp(log_density) * special.betaincc(a2, b2, x)

    # A's density is negligible (< 1e-30 of its peak) beyond 12 SDs of its mean: integrating only
    # there keeps quad's subintervals where the mass is, as the arms' counts grow and it narrows.
    mean = a1 / (a1 + b1)
    spread = 12 * math.sqrt(a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1)))
    low, high = max(0.0, mean - spread), min(1.0, mean + spread)
    points = [mean]
    other_mean = a2 / (a2 + b2)
    if low < other_mean < high and abs(other_mean - mean) > 1e-9 * spread:
        points.append(other_mean)  # two break points a rounding error apart break quad
    points.sort()
    from scipy import integrate  # on first use: importing it costs every run, bandit or not

    value, _ = integrate.quad(integrand, low, high, epsabs=1e-13, limit=200, points=points)
    return min(max(float(value), 0.0), 1.0)


def _spent(look: int) -> float:
    """The share of the error rate look ``look`` (1, 2, ...) may spend: the looks from ``2^k`` to
    ``2^(k+1) - 1`` share ``1 / ((k + 1)(k + 2))`` equally, so the shares sum to 1 and a late look
    keeps far more than the ``1 / j^2`` of a plain Bonferroni sequence (a "stitched" spending)."""
    block = look.bit_length() - 1
    return 1 / ((block + 1) * (block + 2)) / 2**block


class EpsilonGreedy(BanditOrchestrator):
    """With probability epsilon a uniformly random variant, otherwise the best mean so far."""

    strategy_name = "epsilon_greedy"

    def _pick_arm(self, candidates: list[str]) -> str:
        if self.rng.random() < self.settings.epsilon:
            return candidates[int(self.rng.integers(len(candidates)))]
        means = self._means()
        return max(candidates, key=lambda v: (means[v], -self.variants.index(v)))


class UCB1(BanditOrchestrator):
    """Mean plus ``ucb_c * scale * sqrt(ln N / n)``, with pending pulls counted in ``n`` and ``N``.

    For Bernoulli rewards ``scale`` is 1, as in UCB1. Continuous scores are not bounded to [0, 1],
    so ``scale`` is the pooled standard deviation of the rewards seen so far: the sub-Gaussian form
    of the same bound. (Scaling by the observed range instead explores almost uniformly: one
    outlier widens every arm's bonus.)
    """

    strategy_name = "ucb1"

    def _pick_arm(self, candidates: list[str]) -> str:
        total = sum(a.n for a in self.arms.values()) + sum(self.pending.values())
        spread = 1.0 if self.bernoulli else max(math.sqrt(self._pooled_variance()), 1e-12)
        log_total = math.log(max(total, 2))

        def upper(v: str) -> float:
            pulls = self.arms[v].n + self.pending[v]
            return self.arms[v].mean + self.settings.ucb_c * spread * math.sqrt(log_total / pulls)

        return max(candidates, key=lambda v: (upper(v), -self.variants.index(v)))


class ThompsonSampling(BanditOrchestrator):
    """One posterior draw per arm per dispatch; the arm with the highest draw runs."""

    strategy_name = "thompson_sampling"

    def _pick_arm(self, candidates: list[str]) -> str:
        draws = self.posterior_draws(1)[0]
        if len(candidates) == len(self.variants):
            return self.variants[int(np.argmax(draws))]
        return max(candidates, key=lambda v: draws[self.variants.index(v)])


STRATEGIES: dict[str, type[BanditOrchestrator]] = {
    cls.strategy_name: cls for cls in (EpsilonGreedy, UCB1, ThompsonSampling)
}
if set(STRATEGIES) != set(STRATEGY_NAMES):  # the config validates against STRATEGY_NAMES
    raise ImportError(f"bandit strategies {sorted(STRATEGIES)} differ from {STRATEGY_NAMES}")
