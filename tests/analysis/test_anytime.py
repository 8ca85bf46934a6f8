"""Live anytime-valid bands: the scores' bounds, and bands read forward that equal the reference."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest

from meta_orchestrator.analysis.anytime import LiveBands, score_bounds
from meta_orchestrator.core.confseq import sequence_bands
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.store import ExperimentRecord, NewRun, RunStore, StoreWriter


def _experiment(weights: dict[str, float], name: str = "e") -> ExperimentRecord:
    return ExperimentRecord("r", 0, name, "mab", None, ["a"], 10, "running", None,
                            scoring={"weights": weights})  # fmt: skip


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"success": 1.0}, (0.0, 1.0)),
        ({"success": 2.0, "autonomy": -0.5}, (-0.5, 2.0)),
        ({"success": 1.0, "cost": 0.0}, (0.0, 1.0)),  # a zero weight does not count
        ({"success": 1.0, "cost": -1.0}, None),  # cost has no upper bound
        ({"exact": 1.0}, None),  # a scorer's value is not known to be bounded
        ({}, None),
    ],
)
def test_bounds_from_the_weights(weights: dict[str, float], expected: object) -> None:
    assert score_bounds(_experiment(weights), "name: x\n") == expected


def test_configured_bounds_win() -> None:
    snapshot = (
        "experiments:\n- name: e\n  mab_settings:\n    early_stop:\n"
        "      stop_rule: anytime_valid\n      score_bounds: [-1, 3]\n"
    )
    assert score_bounds(_experiment({"success": 1.0, "cost": -1.0}), snapshot) == (-1.0, 3.0)
    assert score_bounds(_experiment({"cost": -1.0}, name="other"), snapshot) is None
    assert score_bounds(_experiment({"cost": -1.0}), ": not yaml [") is None


def _result(variant: str, index: int, score: float | None) -> TrialResult:
    return TrialResult("r", "e", variant, index, index, "ok" if score is not None else "error",
                       0.0, 0.0, 0.0, {"success": 1.0}, score)  # fmt: skip


def test_live_bands_read_forward_and_match_the_reference(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    draw = random.Random(5)
    scores = {"a": [], "b": []}  # type: dict[str, list[float]]
    with StoreWriter(db) as writer:
        writer.create_run(NewRun("r", "n", "mab", "local", 1, 600, "name: n\n", None, time.time(),
                                 "test", None, None, None))  # fmt: skip
        writer.upsert_experiment("r", 0, "e", "mab", None, ["a", "b"], 600)
        bands = LiveBands("r", "e", (0.0, 1.0), points=50)
        for batch in range(3):
            for i in range(batch * 200, (batch + 1) * 200):
                variant = "ab"[i % 2]
                score = (
                    None if i % 50 == 7 else float(draw.random() < (0.3 if variant == "a" else 0.6))
                )
                if score is not None:
                    scores[variant].append(score)
                writer.add_trial(_result(variant, i, score))
            writer.flush()
            with RunStore(db) as store:
                assert bands.update(store) == 200  # only the new trials
        writer.add_trial(_result("a", 600, 4.0))  # outside the bounds: a's band ends
        writer.flush()
        with RunStore(db) as store:
            bands.update(store)
    frame = bands.frame()
    assert bands.outside() == {"a": 4.0}
    assert set(frame["variant"]) == {"b"}
    b = frame[frame["variant"] == "b"]
    assert len(b) <= 100 and b["trials"].iloc[-1] == 600  # the 600th trial of the experiment
    lows, highs = sequence_bands(np.array(scores["b"]), 0.05)
    assert b["n"].iloc[-1] == len(scores["b"])
    assert (b["low"].iloc[-1], b["high"].iloc[-1]) == pytest.approx((lows[-1], highs[-1]))
    assert b["mean"].iloc[-1] == pytest.approx(np.mean(scores["b"]))
