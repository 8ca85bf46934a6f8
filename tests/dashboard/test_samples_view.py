"""The Samples view: heatmap, disagreements and the sample page, on a real run over a dataset,
with sample inputs, targets and outputs that look like HTML shown as text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from meta_orchestrator.dashboard.samples_data import sample_grid, sample_trials
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import RunStore

from .helpers import qa_config, write_config

SCRIPT = "<script>alert('input')</script>"
IMAGE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def sampled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """8 samples whose inputs and targets look like HTML; the variants of ``qa_config``."""
    root = tmp_path_factory.mktemp("samples-view")
    samples = [
        {"id": f"s{i}", "input": f"{SCRIPT} #{i}", "target": f"{IMAGE} {i}"} for i in range(8)
    ]
    config = qa_config("sampled", 3, samples, "qa-run")
    path = write_config(root / "configs", config)
    run_id = run_experiment_suite(path, db_path=root / "runs.db", results_dir=root / "results")
    return root / "runs.db", root / "configs", run_id


def test_grid_ranks_samples_and_finds_disagreements(sampled_run: tuple[Path, Path, str]) -> None:
    db, _, run_id = sampled_run
    with RunStore(db) as store:
        record = store.experiments(run_id)[0]
        grid = sample_grid(store, record)
        sample, trials = sample_trials(store, record, "s3")
    assert grid.samples == 8
    frame = grid.frame
    assert set(frame["variant"]) == {"right", "echo"}
    assert frame.loc[frame["variant"] == "right", "pass rate"].tolist() == [1.0] * 8
    assert frame.loc[frame["variant"] == "echo", "pass rate"].tolist() == [0.0] * 8
    assert sorted(grid.ranks.values()) == list(range(8))
    table, total = grid.disagreements()
    assert total == 8 and list(table.columns) == ["sample", "input", "right", "echo"]
    assert set(table["right"]) == {"2/2"} and set(table["echo"]) == {"0/2"}
    heat, thinned = grid.heatmap_frame(limit=3)
    assert thinned and heat["difficulty rank"].nunique() == 3
    assert {0, 7} <= set(heat["difficulty rank"])  # the hardest and the easiest stay

    assert sample is not None and sample.input == f"{SCRIPT} #3"
    assert len(trials) == 4 and list(trials["epoch"]) == [0, 1, 0, 1]
    echo = trials[trials["variant"] == "echo"].iloc[0]
    assert json.loads(echo["output"])["input"] == f"{SCRIPT} #3"  # the output, verbatim
    assert echo["explanation"]  # the exact scorer says why it failed


def test_samples_view_shows_every_part_as_text(open_app, sampled_run) -> None:
    db, config_dir, run_id = sampled_run
    app = open_app(db, config_dir, run=run_id)
    assert not app.exception, [e.value for e in app.exception]
    assert app.radio(key="run_section").options[:3] == ["Overview", "Charts", "Samples"]
    app.radio(key="run_section").set_value("Samples").run()
    assert not app.exception, [e.value for e in app.exception]
    heatmaps = [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]
    assert any(s.get("mark", {}).get("type") == "rect" for s in heatmaps)
    frames = [d.value for d in app.dataframe]
    disagreements = next(f for f in frames if list(f.columns)[:2] == ["sample", "input"])
    assert (
        len(disagreements) == 8 and disagreements["input"].str.contains(SCRIPT, regex=False).all()
    )
    trial_table = next(f for f in frames if "explanation" in f.columns)
    assert len(trial_table) == 4
    codes = [c.value for c in app.code]
    picked = app.selectbox(key=f"sample_pick_{run_id}_qa-run").value
    assert any(c.startswith(SCRIPT) for c in codes) and any(c.startswith(IMAGE) for c in codes)
    assert f"{SCRIPT} #{picked[1:]}" in codes  # the picked sample's input

    app.text_input(key=f"sample_id_{run_id}_qa-run").set_value("s5").run()
    assert f"{SCRIPT} #5" in [c.value for c in app.code]
    app.text_input(key=f"sample_id_{run_id}_qa-run").set_value(IMAGE).run()
    assert any("No sample" in w.value for w in app.warning)
    _assert_inert(app)


def _assert_inert(app) -> None:  # type: ignore[no-untyped-def]
    assert not app.get("html")
    assert all(not m.proto.allow_html for m in app.markdown)
    for element in [*app.markdown, *app.caption, *app.warning, *app.error]:
        prose = re.sub(r"(`+).*?\1", "", element.value, flags=re.DOTALL)
        assert not re.search(r"(?<!\\)<(img|script)", prose), element.value
