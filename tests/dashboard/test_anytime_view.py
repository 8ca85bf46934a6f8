"""The Runs view draws anytime-valid bands, labelled as such, when the scores are bounded."""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path

from meta_orchestrator.analysis.anytime import LiveBands
from meta_orchestrator.dashboard.anytime_view import session_key
from meta_orchestrator.store import StoreWriter

from .helpers import new_run, texts, trial


def _score_chart(app) -> dict:  # type: ignore[no-untyped-def]
    specs = [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]
    return next(s for s in specs if "layer" in s)


def test_live_run_shows_anytime_bands_and_reads_forward(open_app, tmp_path: Path):
    db = tmp_path / "live.db"
    draw = random.Random(2)
    with StoreWriter(db) as writer:
        writer.create_run(new_run("live", "live", time.time(), planned=400))
        writer.upsert_experiment(
            "live", 0, "grid", "standard", None, ["a", "b"], 400,
            scoring={"weights": {"success": 1.0}},
        )  # fmt: skip
        for i in range(100):
            writer.add_trial(
                trial("live", "grid", "ab"[i % 2], i, score=float(draw.random() < 0.5))
            )
        writer.flush()
        app = open_app(db, tmp_path)
        assert not app.exception, [e.value for e in app.exception]
        spec = _score_chart(app)
        assert spec["layer"][1]["encoding"]["y"]["title"] == (
            "running mean score (anytime-valid 95% band)"
        )
        assert any("anytime-valid 95% bands" in t for t in texts(app, "caption"))
        bands = app.session_state[session_key(str(db), "live", "grid")]
        assert isinstance(bands, LiveBands)
        assert bands.after_seq == 100
        first = _band_width(bands)

        for i in range(100, 300):
            writer.add_trial(
                trial("live", "grid", "ab"[i % 2], i, score=float(draw.random() < 0.5))
            )
        writer.flush()
        app.run()
        assert not app.exception
        assert bands.after_seq == 300 and bands.trials == 300
        assert _band_width(bands) < first  # more trials, a narrower band
        writer.finish_run("live", "completed")


def _band_width(bands: LiveBands) -> float:
    last = bands.frame().query("variant == 'a'").iloc[-1]
    return float(last["high"] - last["low"])


def test_unbounded_scores_keep_the_fixed_interval_and_say_so(open_app, finished_store):
    # The finished store weights cost (-2), which has no upper bound.
    app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.older)
    assert not app.exception
    pictures = [
        base64.b64decode(url.split(",", 1)[1]).decode() for i in app.image for url in i.value
    ]
    assert pictures and all("running mean score (95% CI)" in svg for svg in pictures)
    assert any("fixed-sample 95% t intervals" in t for t in texts(app, "caption"))
    app.radio(key="run_section").set_value("Charts").run()  # the same chart, interactive
    assert not app.exception
    assert _score_chart(app)["layer"][1]["encoding"]["y"]["title"] == (
        "running mean score (95% CI)"
    )
