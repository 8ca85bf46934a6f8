"""summary.md, results.json and config.yaml as written for a run, and reading results.json back."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tracemalloc
from typing import Any

import numpy as np
import pytest
from scipy import stats

from meta_orchestrator.analysis import (
    load_results_json,
    render_summary_markdown,
    summarize_run,
    write_results_json,
    write_run_artifacts,
)
from meta_orchestrator.analysis.report import atomic_write
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.errors import ComparisonError, RunNotFoundError


def simulated(success_rate: float, **extra: Any) -> dict[str, Any]:
    """A simulated variant that does not sleep, so a test run takes milliseconds."""
    return {"type": "simulated", "success_rate": success_rate, "latency_mean": 0.0, **extra}


SUITE = {
    "name": "demo",
    "seed": 11,
    "scoring_weights": {"success": 1.0, "cost": -2.0},
    "variants": {
        "good": simulated(0.95, cost_mean=0.01),
        "bad": simulated(0.1, cost_mean=0.01),
        "flaky": simulated(0.8, error_rate=0.25),
    },
    "experiments": [
        {"name": "grid", "variants": ["good", "bad", "flaky"], "trials_per_variant": 30},
        {
            "name": "bandit",
            "orchestrator": "mab",
            "variants": ["good", "bad"],
            "mab_settings": {"strategy": "ucb1", "total_trials": 40},
        },
    ],
}


def table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """The cells of the table whose header starts with ``header_start`` (escaped pipes kept)."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


# ------------------------------------------------------------------------------------ artifacts
def test_every_run_leaves_results_summary_and_config(run_suite, open_store, tmp_path) -> None:
    db, run_id = run_suite(SUITE)
    run_dir = tmp_path / "results" / run_id
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config.yaml",
        "results.json",
        "summary.md",
    ]
    store = open_store(db)
    record = store.get_run(run_id)
    assert (run_dir / "config.yaml").read_text(encoding="utf-8") == record.config_yaml
    summary_md = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert summary_md == render_summary_markdown(summarize_run(store, run_id))

    again = write_run_artifacts(db, run_id, tmp_path / "elsewhere")
    assert again == tmp_path / "elsewhere" / run_id
    assert (again / "summary.md").read_text(encoding="utf-8") == summary_md


def test_results_json_holds_every_trial_in_the_documented_format(run_suite, open_store, tmp_path):
    db, run_id = run_suite(SUITE)
    store = open_store(db)
    data = json.loads((tmp_path / "results" / run_id / "results.json").read_text("utf-8"))

    assert list(data) == [
        "format",
        "format_version",
        "run",
        "scoring_weights",
        "experiments",
        "samples",
        "trials",
    ]
    assert data["samples"] == []  # no dataset
    assert (data["format"], data["format_version"]) == ("meta-orchestrator/results", 1)
    assert data["run"] == dataclasses.asdict(store.get_run(run_id))
    assert data["scoring_weights"] == {"success": 1.0, "cost": -2.0}
    stored = [t.to_dict() for _, t in store.iter_trials(run_id)]
    assert len(stored) == store.trial_count(run_id) == data["run"]["trials"]
    assert data["trials"] == stored
    assert TrialResult.from_dict(data["trials"][0]) == TrialResult.from_dict(stored[0])

    summary = summarize_run(store, run_id)
    grid, bandit = data["experiments"]
    assert grid["name"] == "grid" and grid["orchestrator"] == "standard"
    assert grid["variants"] == ["good", "bad", "flaky"]
    assert grid["choice_counts"] == {"good": 30, "bad": 30, "flaky": 30}
    assert grid["planned_trials"] == 90 and grid["status"] == "completed"
    assert grid["summary"] == [v.to_dict() for v in summary.experiments[0].variants]
    assert grid["comparisons"] == [c.to_dict() for c in summary.experiments[0].comparisons]
    assert (bandit["orchestrator"], bandit["strategy"]) == ("mab", "ucb1")
    assert sum(bandit["choice_counts"].values()) == 40
    assert {k for k in grid} >= {
        "name",
        "orchestrator",
        "strategy",
        "planned_trials",
        "status",
        "stop_reason",
        "variants",
        "choice_counts",
        "summary",
        "comparisons",
    }
    assert load_results_json(tmp_path / "results" / run_id) == data


def test_write_results_json_to_any_path(trial, handmade, open_store, tmp_path) -> None:
    results = [trial("run-1", "e", "a", i, score=float(i)) for i in range(3)]
    db, run_id = handmade({"e": (["a"], results)})
    target = tmp_path / "out" / "r.json"
    assert write_results_json(open_store(db), run_id, target) == target
    data = load_results_json(target)
    assert [t["score"] for t in data["trials"]] == [0.0, 1.0, 2.0]
    assert data["experiments"][0]["summary"][0]["mean_score"] == 1.0
    assert list(target.parent.iterdir()) == [target]


def test_results_json_is_streamed_not_built_in_memory(
    trial, handmade, open_store, tmp_path
) -> None:
    n = 20_000
    results = (trial("run-1", "e", f"v{i % 4}", i, score=(i % 7) / 7, cost=0.001) for i in range(n))
    db, run_id = handmade({"e": (["v0", "v1", "v2", "v3"], results)})
    store = open_store(db)
    target = tmp_path / "big.json"
    tracemalloc.start()
    try:
        write_results_json(store, run_id, target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = target.stat().st_size
    assert size > 5_000_000
    assert peak < size / 10, f"peak {peak} bytes for a {size}-byte file"
    data = json.loads(target.read_text("utf-8"))
    assert len(data["trials"]) == n
    assert [t["index"] for t in data["trials"][:3]] == [0, 1, 2]


def test_failed_writes_leave_the_old_file_and_no_temporary(tmp_path) -> None:
    target = tmp_path / "summary.md"
    with atomic_write(target) as out:
        out.write("first")
    with pytest.raises(RuntimeError), atomic_write(target) as out:
        out.write("half of the second")
        raise RuntimeError("disk on fire")
    assert target.read_text("utf-8") == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]


# ---------------------------------------------------------------------------- load_results_json
def test_load_results_json_rejects_other_files(tmp_path) -> None:
    not_json = tmp_path / "notes.json"
    not_json.write_text("hello", encoding="utf-8")
    with pytest.raises(ComparisonError, match="not a meta-orchestrator results file: not valid"):
        load_results_json(not_json)
    other = tmp_path / "package.json"
    other.write_text('{"name": "left-pad"}', encoding="utf-8")
    with pytest.raises(ComparisonError, match='expected "format": "meta-orchestrator/results"'):
        load_results_json(other)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ComparisonError, match="not a meta-orchestrator results file"):
        load_results_json(listing)
    newer = tmp_path / "newer.json"
    newer.write_text(
        json.dumps({"format": "meta-orchestrator/results", "format_version": 2}), encoding="utf-8"
    )
    with pytest.raises(ComparisonError, match="version 2.*upgrade"):
        load_results_json(newer)
    damaged = tmp_path / "damaged.json"
    damaged.write_text(
        json.dumps(
            {"format": "meta-orchestrator/results", "format_version": 1, "run": {}, "trials": []}
        ),
        encoding="utf-8",
    )
    with pytest.raises(ComparisonError, match="'experiments' must be a JSON list"):
        load_results_json(damaged)
    with pytest.raises(RunNotFoundError, match="no results file"):
        load_results_json(tmp_path / "missing")


# ------------------------------------------------------------------------------------- markdown
def test_markdown_has_every_section_with_the_numbers(run_suite, open_store) -> None:
    db, run_id = run_suite(SUITE)
    store = open_store(db)
    summary = summarize_run(store, run_id)
    md = render_summary_markdown(summary)

    assert md.startswith(f"## meta-orchestrator run: demo (`{run_id}`)\n")
    for label in ("Status:", "Orchestrator:", "Backend:", "Seed:", "Trials:", "Started:"):
        assert f"**{label}**" in md
    assert "- **Status:** completed" in md
    assert "`standard+mab:ucb1`" in md and "**Seed:** 11" in md
    assert f"**Trials:** {summary.run.trials} done of 130 planned" in md
    assert "**Duration:**" in md and "meta-orchestrator 0.1.0" in md
    assert "**Score per trial:** 1 × success − 2 × cost" in md
    assert "### Experiment `grid` · standard · 90 of 90 trials · completed" in md
    assert "### Experiment `bandit` · mab (ucb1) · 40 of 40 trials · completed" in md
    assert "Welch's t-test on score, Holm-corrected across 2 comparisons, alpha 0.05" in md

    rows = table_rows(md, "| Rank | Variant")
    assert len(rows) == 2 + 3 and all(len(r) == 9 for r in rows)
    good = np.array(
        [t.score for _, t in store.iter_trials(run_id, experiment="grid") if t.variant == "good"]
    )
    low, high = stats.t.interval(
        0.95, len(good) - 1, loc=good.mean(), scale=good.std(ddof=1) / math.sqrt(len(good))
    )
    assert rows[2][:4] == ["1", "`good`", "30", f"{good.mean():.3f} [{low:.3f}, {high:.3f}]"]
    assert rows[2][4] == f"{good.std(ddof=1):.3f}"
    flaky = next(v for v in summary.experiments[0].variants if v.variant == "flaky")
    flaky_row = next(r for r in rows if r[1] == "`flaky`")
    assert flaky_row[8] == f"{flaky.errors} / 0" and flaky.errors > 0
    assert flaky_row[5] == (
        f"{100 * flaky.success_rate:.1f}% "
        f"[{100 * flaky.success_ci_low:.1f}%, {100 * flaky.success_ci_high:.1f}%]"
    )

    comparisons = table_rows(md, "| Other | Difference")
    bad = next(r for r in comparisons if r[0] == "`bad`")
    assert bad[2] == "<0.001" and bad[5] == "**significantly better**"
    flaky_vs_best = next(r for r in comparisons if r[0] == "`flaky`")
    flaky_test = next(c for c in summary.experiments[0].comparisons if c.other == "flaky")
    assert flaky_vs_best[5] == (
        "**significantly better**" if flaky_test.significant else "no significant difference"
    )
    assert "**Bandit choices** (40 trials):" in md
    assert "**Stopped:** trial budget of 40 spent; no early stop." in md
    assert "<details>\n<summary>Config snapshot</summary>\n\n```yaml\nname: demo\n" in md
    assert md.rstrip().endswith("```\n\n</details>")
    assert "Too few trials" not in md


def test_markdown_escapes_names_that_would_break_tables(trial, handmade, open_store) -> None:
    results = [trial("run-1", "e|1", "a|b", i, score=0.5 + i / 10) for i in range(4)]
    results += [trial("run-1", "e|1", "x*y_`z`", 10 + i, score=i / 10) for i in range(4)]
    db, run_id = handmade({"e|1": (["a|b", "x*y_`z`"], results)}, error="Bad | thing <b>")
    md = render_summary_markdown(summarize_run(open_store(db), run_id))
    assert "| 1 | `a\\|b` | 4 |" in md and "| 2 | `` x*y_`z` `` | 4 |" in md
    assert "### Experiment `e|1` · standard" in md
    for header in ("| Rank | Variant", "| Other | Difference"):
        rows = table_rows(md, header)
        assert len({len(r) for r in rows}) == 1, rows
    assert "- **Error:** Bad \\| thing \\<b\\>" in md
    assert "- **Status:** completed" in md


def test_markdown_says_when_there_are_too_few_trials(trial, handmade, open_store) -> None:
    results = [trial("run-1", "e", "many", i, score=i / 10) for i in range(5)]
    results.append(trial("run-1", "e", "once", 9, score=0.1))
    results.append(trial("run-1", "e", "never", 10, status="error"))
    db, run_id = handmade({"e": (["many", "once", "never"], results)})
    md = render_summary_markdown(summarize_run(open_store(db), run_id))
    assert "> **Too few trials:** `once` has 1 scored trial, `never` has 0 scored trials." in md
    comparisons = table_rows(md, "| Other | Difference")
    assert [r[0] for r in comparisons[2:]] == ["`once`", "`never`"]
    assert all(r[1:] == ["—", "—", "—", "—", "not enough trials"] for r in comparisons[2:])
    assert "Holm-corrected across 0 comparisons" in md
    rows = table_rows(md, "| Rank | Variant")
    once = next(r for r in rows if r[1] == "`once`")
    assert once[3] == "0.100" and once[4] == "—"


def test_markdown_for_a_run_without_trials(handmade, open_store, tmp_path) -> None:
    db, run_id = handmade({"empty": (["a", "b"], [])}, status="failed", error="RuntimeError: boom")
    md = render_summary_markdown(summarize_run(open_store(db), run_id))
    assert "- **Status:** failed" in md and "- **Error:** RuntimeError: boom" in md
    assert "**Trials:** 0 done of 10 planned" in md
    assert "_No trials were recorded for this experiment._" in md
    assert "| Rank |" not in md
    run_dir = write_run_artifacts(db, run_id, tmp_path / "res")
    assert load_results_json(run_dir)["trials"] == []
    assert (run_dir / "config.yaml").read_text("utf-8").startswith("name: handmade\n")
    bare_db, bare_id = handmade({}, run_id="run-2")
    md = render_summary_markdown(summarize_run(open_store(bare_db), bare_id))
    assert "_No experiment started: the run recorded no trials._" in md


def test_config_fence_outgrows_backticks_in_the_config(handmade, open_store) -> None:
    db, run_id = handmade({})
    summary = summarize_run(open_store(db), run_id)
    summary.run = dataclasses.replace(summary.run, config_yaml="description: |\n  ```x```\n")
    md = render_summary_markdown(summary)
    assert "````yaml\ndescription: |\n  ```x```\n````" in md
