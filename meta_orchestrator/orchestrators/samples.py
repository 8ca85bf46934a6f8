"""How orchestrators walk a dataset: one sample sequence per experiment, shared by every variant.

``SampleOrder`` is the sequence: the dataset's samples shuffled once per run (seeded by the
experiment's seed, so a resumed run walks the same sequence), repeated ``epochs`` times. Position
``p`` is sample ``order[p % size]`` in epoch ``p // size``.

``SampleWalks`` gives each variant its own cursor along that sequence (the bandit's way): a variant's
next trial is its next position, so any two variants share their first ``min(n_a, n_b)`` samples,
and a variant at the end of the sequence has nothing left. After an interrupt, the positions a
variant had dispatched but never stored are walked again first, lowest first, so nothing is skipped
and nothing runs twice. Memory is a cursor per variant (plus, only while restoring, the positions
stored).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from meta_orchestrator.core.trial import TrialResult


class SampleOrder:
    """The experiment's sample sequence: ``size`` shuffled sample ids, ``epochs`` times over."""

    def __init__(self, sample_ids: Sequence[str], epochs: int, seed: int) -> None:
        if not sample_ids:
            raise ValueError("a sample order needs at least one sample")
        self.ids = list(sample_ids)
        random.Random(seed).shuffle(self.ids)
        self.epochs = epochs
        self._positions: dict[str, int] | None = None

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def length(self) -> int:
        """Positions in the whole sequence: every sample, every epoch."""
        return len(self.ids) * self.epochs

    def at(self, position: int) -> tuple[str, int]:
        """``(sample_id, epoch)`` at ``position``."""
        epoch, offset = divmod(position, len(self.ids))
        return self.ids[offset], epoch

    def position(self, sample_id: str, epoch: int) -> int:
        """The position of ``(sample_id, epoch)``; ``ValueError`` for a sample not in the order."""
        if self._positions is None:
            self._positions = {sample_id: i for i, sample_id in enumerate(self.ids)}
        offset = self._positions.get(sample_id)
        if offset is None or not 0 <= epoch < self.epochs:
            raise ValueError(
                f"sample '{sample_id}' epoch {epoch} is not in this experiment's order"
            )
        return epoch * len(self.ids) + offset


class SampleWalks:
    """One cursor per variant along a ``SampleOrder``, with the gaps an interrupt left to fill."""

    def __init__(self, order: SampleOrder, variants: Iterable[str]) -> None:
        self.order = order
        self._next = dict.fromkeys(variants, 0)
        self._gaps: dict[str, list[int]] = {}

    def has_next(self, variant: str) -> bool:
        return bool(self._gaps.get(variant)) or self._next[variant] < self.order.length

    def gap_variant(self) -> str | None:
        """A variant with a gap left by an interrupt (filled before any new choice), or ``None``."""
        for variant, gaps in self._gaps.items():
            if gaps:
                return variant
        return None

    def take(self, variant: str) -> tuple[str, int]:
        """The next ``(sample_id, epoch)`` of ``variant``, and advance its cursor."""
        gaps = self._gaps.get(variant)
        if gaps:
            return self.order.at(gaps.pop())
        position = self._next[variant]
        if position >= self.order.length:
            raise ValueError(f"variant '{variant}' has walked the whole sample sequence")
        self._next[variant] = position + 1
        return self.order.at(position)

    def taken(self, variant: str) -> int:
        """Positions ``variant`` has been given (its cursor), gaps not yet refilled included."""
        return self._next[variant]

    def restore(self, results: Iterable[TrialResult]) -> Iterable[TrialResult]:
        """Pass ``results`` through, then place each cursor after its variant's furthest stored
        position and remember the positions below it that were never stored."""
        stored: dict[str, set[int]] = {v: set() for v in self._next}
        for result in results:
            if result.sample_id is not None and result.variant in stored:
                stored[result.variant].add(self.order.position(result.sample_id, result.epoch))
            yield result
        for variant, positions in stored.items():
            end = max(positions) + 1 if positions else 0
            self._next[variant] = end
            gaps = sorted(set(range(end)) - positions, reverse=True)
            if gaps:
                self._gaps[variant] = gaps
