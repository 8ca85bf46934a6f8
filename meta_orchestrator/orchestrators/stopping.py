"""The ``anytime_valid`` early stop of the bandits: stop on confidence sequences, not on a peek.

A bandit looks at its arms every ``check_every`` trials. Stopping when a 95% *interval* (or a
posterior probability) first looks decisive stops on a worse variant more often than promised,
because every look is another chance to be fooled. Confidence sequences (``core.confseq``) cover
the true mean at every look at once, so a rule that stops when they separate stops on a worse
variant with probability at most ``alpha``, however often it looks and whatever the allocation.

* **Without a dataset** each variant has a sequence for its mean reward at ``alpha / K`` (K
  variants; a union bound makes them hold together), and the rule stops when one variant's lower
  bound exceeds every other variant's upper bound.
* **On a dataset** every variant walks the same sample sequence (``orchestrators.samples``), so
  position ``p`` of two variants is the same sample: the rule follows, for every pair of variants,
  a sequence for the mean paired difference (rescaled from ``[-span, span]`` to [0, 1]) at
  ``alpha / (K (K - 1) / 2)``, and stops when one variant's differences with every other exclude
  0. Pairing removes the samples' difficulty from the comparison, which usually narrows it a lot.
  Rewards wait (one float each) until their partner arrives. With epochs > 1 a sample recurs in
  each epoch, so positions are not independent; the guarantee is for independent positions.

The guarantee needs known bounds: a reward outside them turns the rule off for the experiment
(with a warning in the run's log) rather than be clipped into a guarantee it does not have.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

from meta_orchestrator.core.confseq import ConfidenceSequence

log = logging.getLogger("meta_orchestrator.run.stopping")


class AnytimeStop:
    """Confidence sequences of one bandit experiment and the decision they support.

    ``add`` takes each reward (in any arrival order) with its position in the sample sequence
    (``None`` without a dataset); ``decision`` returns the stop reason, or ``None`` to go on.
    """

    def __init__(
        self, variants: Sequence[str], alpha: float, bounds: tuple[float, float], paired: bool
    ) -> None:
        self.variants = list(variants)
        self.alpha = alpha
        self.low, self.high = bounds
        self.paired = paired and len(self.variants) > 1
        self.broken: str | None = None
        k = len(self.variants)
        self.arms = {v: ConfidenceSequence(alpha / k, self.low, self.high) for v in self.variants}
        span = self.high - self.low
        pairs = list(itertools.combinations(self.variants, 2))
        self.pairs = {
            pair: ConfidenceSequence(alpha / max(len(pairs), 1), -span, span) for pair in pairs
        }
        self._waiting: dict[str, dict[int, float]] = {v: {} for v in self.variants}
        self._paired_to = dict.fromkeys(pairs, 0)  # next position each pair waits for

    def add(self, variant: str, reward: float, position: int | None) -> None:
        if self.broken is not None:
            return
        if not self.low <= reward <= self.high:
            self.broken = (
                f"reward {reward:g} of '{variant}' is outside score_bounds "
                f"[{self.low:g}, {self.high:g}]"
            )
            log.warning("anytime-valid early stop turned off: %s", self.broken)
            return
        if not self.paired or position is None:
            self.arms[variant].add(reward)
            return
        self._waiting[variant][position] = reward
        for pair in self.pairs:
            if variant in pair:
                self._advance(pair)
        self._forget(variant)

    def _advance(self, pair: tuple[str, str]) -> None:
        a, b = pair
        at = self._paired_to[pair]
        while at in self._waiting[a] and at in self._waiting[b]:
            self.pairs[pair].add(self._waiting[a][at] - self._waiting[b][at])
            at += 1
        self._paired_to[pair] = at

    def _forget(self, variant: str) -> None:
        """Drop the rewards of ``variant`` every pair with it has used."""
        done = min(at for pair, at in self._paired_to.items() if variant in pair)
        waiting = self._waiting[variant]
        for position in [p for p in waiting if p < done]:
            del waiting[position]

    def contenders(self, means: dict[str, float]) -> list[str]:
        """The variant with the best mean and those the sequences have not ruled out against it.

        A regret-minimising bandit starves the runners-up, and their wide bands would keep the
        rule from ever stopping; so the bandit gives every other dispatch to the least-tried of
        these (``BanditOrchestrator``), which is what the stop needs evidence on.
        """
        leader = max(self.variants, key=lambda v: (means[v], -self.variants.index(v)))
        if self.paired:
            lows = {
                (pair[1] if pair[0] == leader else pair[0]): (
                    cs.interval[0] if pair[0] == leader else -cs.interval[1]
                )
                for pair, cs in self.pairs.items()
                if leader in pair
            }
            return [v for v in self.variants if v == leader or lows[v] <= 0]
        floor = self.arms[leader].interval[0]
        return [v for v in self.variants if v == leader or self.arms[v].interval[1] >= floor]

    def decision(self, trials: int) -> str | None:
        """The stop reason after ``trials`` trials, or ``None`` while the sequences overlap."""
        if self.broken is not None or len(self.variants) < 2:
            return None
        reason = self._paired_decision() if self.paired else self._arm_decision()
        return None if reason is None else f"{reason} after {trials} trials"

    def _arm_decision(self) -> str | None:
        bands = {v: cs.interval for v, cs in self.arms.items()}
        leader = max(self.variants, key=lambda v: bands[v][0])
        rival = max((bands[v][1], v) for v in self.variants if v != leader)
        if bands[leader][0] <= rival[0]:
            return None
        return (
            f"early stop: '{leader}' is best by anytime-valid confidence sequences "
            f"(alpha {self.alpha:g}): its lower bound {bands[leader][0]:.3f} exceeds every other "
            f"variant's upper bound (highest: '{rival[1]}', {rival[0]:.3f})"
        )

    def _paired_decision(self) -> str | None:
        for leader in self.variants:
            mine = [(pair, cs) for pair, cs in self.pairs.items() if leader in pair]
            # The lower bound of leader - other: the pair's own, or minus the upper of other - leader.
            lowest = min(
                cs.interval[0] if pair[0] == leader else -cs.interval[1] for pair, cs in mine
            )
            if lowest > 0:
                return (
                    f"early stop: '{leader}' is best by anytime-valid confidence sequences of "
                    f"paired differences (alpha {self.alpha:g}): its difference with every other "
                    f"variant is at least {lowest:.3f} > 0, on at least "
                    f"{min(cs.n for _, cs in mine)} paired samples"
                )
        return None
