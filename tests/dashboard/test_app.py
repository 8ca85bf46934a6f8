"""Every view of the Streamlit app through ``AppTest``, on stores filled by real runs."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from meta_orchestrator.analysis.compare import compare_runs
from meta_orchestrator.analysis.formatting import format_interval
from meta_orchestrator.analysis.loaders import run_data_from_store
from meta_orchestrator.dashboard.data import RunView, Summaries
from meta_orchestrator.store import RunStore, StoreWriter

from .helpers import HOSTILE, SCRIPT_LOG, metric, new_run, run_list, tables, texts, trial


def _no_traceback(app) -> None:  # type: ignore[no-untyped-def]
    assert not app.exception, [e.value for e in app.exception]
    assert not any("unexpectedly" in t for t in texts(app, "error")), texts(app, "error")


# ----------------------------------------------------------------------------------- robustness
def test_missing_store_explains_itself_and_the_launcher_still_works(open_app, tmp_path: Path):
    app = open_app(tmp_path / "nowhere" / "runs.db", tmp_path)
    _no_traceback(app)
    assert any("No run store at" in t for t in texts(app, "info"))
    app.sidebar.radio(key="view").set_value("Launch").run()
    _no_traceback(app)
    assert texts(app, "title")[0] == "Launch an experiment"


@pytest.mark.parametrize("content", ["text", "other-sqlite", "directory"])
def test_a_path_that_is_not_a_run_store_is_an_error_not_a_traceback(
    open_app, tmp_path: Path, content: str
):
    db = tmp_path / "not-a-store.db"
    if content == "text":
        db.write_text("hello, I am a text file\n" * 100)
    elif content == "other-sqlite":
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE people (name TEXT)")
    else:
        db.mkdir()
    app = open_app(db, tmp_path)
    _no_traceback(app)
    assert any("Cannot read the run store" in t for t in texts(app, "error")), texts(app, "error")


def test_a_store_without_runs_says_so(open_app, tmp_path: Path):
    db = tmp_path / "empty.db"
    StoreWriter(db).close()
    app = open_app(db, tmp_path)
    _no_traceback(app)
    assert any("No runs to show yet" in t for t in texts(app, "info"))


# --------------------------------------------------------------------------------- run browser
def test_sidebar_lists_runs_newest_first_and_filters_them(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir)
    _no_traceback(app)
    table = run_list(app)
    assert list(table.columns) == ["name", "date", "status", "trials", "leader", "orchestrator"]
    assert list(table["date"]) == sorted(table["date"], reverse=True)
    assert table.iloc[0]["name"] == "dash" and table.iloc[0]["trials"] == "54/54"
    assert table.iloc[0]["leader"] in {"alpha", "beta", "gamma"}
    assert app.sidebar.selectbox(key="run_pick").value == finished_store.newer

    app.sidebar.text_input(key="run_filter").set_value("broken").run()
    assert list(run_list(app)["name"]) == ["broken"]
    assert texts(app, "title")[0] == "broken"  # the selection follows the filter
    app.sidebar.text_input(key="run_filter").set_value("").run()
    app.sidebar.multiselect(key="run_statuses").set_value(["failed"]).run()
    assert list(run_list(app)["status"]) == ["failed"]


def test_a_store_of_many_runs_lists_the_newest_and_the_one_asked_for(open_app, tmp_path: Path):
    from meta_orchestrator.dashboard.run_view import RUN_LIST_LIMIT

    db, base = tmp_path / "many.db", time.time() - 10_000
    total = RUN_LIST_LIMIT + 5
    with StoreWriter(db) as writer:
        for i in range(total):
            writer.create_run(new_run(f"run-{i:04d}", f"ci-{i:04d}", base + i))
            writer.finish_run(f"run-{i:04d}", "completed")
    app = open_app(db, tmp_path, run="run-0000")  # the oldest, beyond the list's limit
    _no_traceback(app)
    names = list(run_list(app)["name"])
    assert len(names) == RUN_LIST_LIMIT + 1
    assert names[0] == f"ci-{total - 1:04d}" and names[-1] == "ci-0000"
    assert app.sidebar.selectbox(key="run_pick").value == "run-0000"
    assert f"The {RUN_LIST_LIMIT} newest of {total} matching runs and the one open" in " ".join(
        texts(app.sidebar, "caption")
    )
    app.sidebar.text_input(key="run_filter").set_value("ci-0003").run()  # the filter sees all
    assert list(run_list(app)["name"]) == ["ci-0003"]


# ---------------------------------------------------------------------------------- run detail
def test_finished_run_shows_progress_charts_ranking_and_downloads(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.older)
    _no_traceback(app)
    assert app.sidebar.selectbox(key="run_pick").value == finished_store.older
    assert metric(app, "Trials done") == "54"
    assert next(m.delta for m in app.metric if m.label == "Trials done") == "of 54 planned"
    assert metric(app, "ETA") == "—"
    with RunStore(finished_store.db) as store:
        failures = sum(a.errors + a.timeouts for e in ("grid", "bandit")
                       for a in store.variant_aggregates(finished_store.older, e))  # fmt: skip
    assert metric(app, "Errors") == str(failures)
    assert metric(app, "Leader") in {"alpha", "beta", "gamma"}
    # the Overview: each experiment's score chart as a picture, no Vega chart, and the rankings
    assert app.radio(key="run_section").value == "Overview"
    assert app.radio(key="run_section").options[:3] == ["Overview", "Charts", "summary.md"]
    pictures = _pictures(app)
    assert len(pictures) == 2 and not _charts(app)
    assert all({"alpha", "beta", "gamma"} <= set(_legend(svg)) for svg in pictures)
    rankings = [t for t in tables(app) if "rank" in t.columns]
    assert len(rankings) == 2 and list(rankings[0]["rank"]) == ["1", "2", "3"]
    assert {"score 95% CI", "success 95% CI", "latency p95 (s)"} <= set(rankings[0].columns)
    assert not any("meta-orchestrator run: dash" in m.value for m in app.markdown)  # not sent

    _open(app, "Charts")  # score over time of both experiments, the bandit's choices, histograms
    assert len(_charts(app)) == 2 + 1 + 2 * 2 and not _pictures(app)
    _open(app, "summary.md")
    summary = [m.value for m in app.markdown if "meta-orchestrator run: dash" in m.value]
    assert summary and "<details>" not in summary[0]
    assert not _charts(app) and not any("rank" in t.columns for t in tables(app))
    _open(app, "Config snapshot")
    assert any("experiments:" in c.value for c in app.code)
    _open(app, "Log")
    assert any("experiment grid finished" in c.value for c in app.code)
    _open(app, "Download trials")
    assert [b.label for b in app.get("download_button")] == ["Trials as CSV", "Trials as JSON"]


def test_the_picked_view_is_kept_when_another_run_is_shown(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.older)
    _open(app, "Log")
    app.sidebar.selectbox(key="run_pick").set_value(finished_store.newer).run()
    _no_traceback(app)
    assert app.radio(key="run_section").value == "Log"
    assert any("experiment grid finished" in c.value for c in app.code)


def _open(app, label: str) -> None:  # type: ignore[no-untyped-def]
    app.radio(key="run_section").set_value(label).run()
    _no_traceback(app)


def _pictures(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The SVG text of every picture on the page (``st.image`` sends them as data URLs)."""
    prefix = "data:image/svg+xml;base64,"
    urls = [url for image in app.image for url in image.value]
    assert all(url.startswith(prefix) for url in urls), urls
    return [base64.b64decode(url.removeprefix(prefix)).decode() for url in urls]


def _legend(svg: str) -> list[str]:
    """The variant names a score picture's legend shows, read back as XML."""
    root = ElementTree.fromstring(svg)
    texts = root.iter("{http://www.w3.org/2000/svg}text")
    return [t.find("{http://www.w3.org/2000/svg}title").text or "" for t in texts
            if t.find("{http://www.w3.org/2000/svg}title") is not None]  # fmt: skip


def _charts(app) -> list:  # type: ignore[no-untyped-def]
    return list(app.get("vega_lite_chart"))


def test_a_finished_run_s_summary_starts_before_the_sidebar_ranks_every_run(
    open_app, finished_store, monkeypatch: pytest.MonkeyPatch
):
    """On a first open the summary (the slow part) overlaps the sidebar's leader scan of every
    run instead of queueing behind it; the page then uses that same future."""
    from meta_orchestrator.dashboard import run_view

    summaries = Summaries()
    monkeypatch.setattr(run_view, "SUMMARIES", summaries)
    with RunStore(finished_store.db) as store:
        record = store.get_run(finished_store.newer)
    key = (str(finished_store.db), record.id, record.trials, record.status)
    started_before_leaders: list[bool] = []
    leaders = run_view._leaders

    def leaders_after_the_summary_started(store, records):  # type: ignore[no-untyped-def]
        started_before_leaders.append(key in summaries._futures)
        return leaders(store, records)

    monkeypatch.setattr(run_view, "_leaders", leaders_after_the_summary_started)
    try:
        app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.newer)
        _no_traceback(app)
        assert started_before_leaders == [True]
        assert list(summaries._futures) == [key]  # render_run got the same future back
        assert metric(app, "Trials done") == f"{record.trials:,}"
    finally:
        summaries.close()


def test_failed_and_zero_trial_runs_explain_themselves(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.failed)
    _no_traceback(app)
    assert any("the backend died" in t for t in texts(app, "error"))
    assert metric(app, "Trials done") == "1"

    app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.empty)
    _no_traceback(app)
    assert any("recorded no trials" in t for t in texts(app, "info"))
    assert not _charts(app)


def test_unknown_run_in_the_url_falls_back_to_the_newest(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir, run="no-such-run")
    _no_traceback(app)
    assert app.sidebar.selectbox(key="run_pick").value == finished_store.newer


def test_names_and_log_lines_are_shown_as_text_never_as_html(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.hostile)
    _no_traceback(app)
    _assert_inert(app)
    ranking = next(t for t in tables(app) if "rank" in t.columns)
    assert HOSTILE in set(ranking["variant"])  # shown verbatim, as data
    (picture,) = _pictures(app)
    assert HOSTILE in _legend(picture) and "<img" not in picture  # escaped in the SVG
    _open(app, "summary.md")
    _assert_inert(app)
    assert any(HOSTILE in m.value for m in app.markdown)
    _open(app, "Log")
    assert any(SCRIPT_LOG in c.value for c in app.code)  # the log tail is a code block
    _open(app, "Charts")
    _assert_inert(app)


def _assert_inert(app) -> None:  # type: ignore[no-untyped-def]
    """No HTML element, no Markdown with HTML allowed, and no raw tag outside code spans."""
    assert not app.get("html")
    assert all(not m.proto.allow_html for m in app.markdown)
    for element in [*app.markdown, *app.caption, *app.title, *app.subheader, *app.error]:
        prose = re.sub(r"(`+).*?\1", "", element.value, flags=re.DOTALL)  # code spans are inert
        assert not re.search(r"(?<!\\)<(img|script)", prose), element.value  # or escaped


# ------------------------------------------------------------------------------------ live view
def test_live_run_refresh_reads_only_the_new_trials(open_app, tmp_path: Path):
    db = tmp_path / "live.db"
    with StoreWriter(db) as writer:
        writer.create_run(new_run("live", "live", time.time(), planned=20))
        writer.upsert_experiment("live", 0, "grid", "standard", None, ["a", "b"], 20)
        for i in range(6):
            writer.add_trial(trial("live", "grid", "ab"[i % 2], i, score=0.5))
        writer.flush()
        app = open_app(db, tmp_path)
        _no_traceback(app)
        assert metric(app, "Trials done") == "6"
        assert metric(app, "ETA") != "—"
        view = app.session_state["run_view"]
        assert isinstance(view, RunView) and view.after_seq == 6

        for i in range(6, 15):
            writer.add_trial(trial("live", "grid", "ab"[i % 2], i, score=1.0, status="ok"))
        writer.add_trial(trial("live", "grid", "a", 15, score=None, status="error"))
        writer.add_log("live", "INFO", "halfway there")
        writer.flush()
        reads = _count_reads(view)
        app.run()
        _no_traceback(app)
        assert reads == [10]  # one incremental read of exactly the new trials
        assert metric(app, "Trials done") == "16"
        assert metric(app, "Errors") == "1"
        assert any("halfway there" in c.value for c in app.code)
        writer.finish_run("live", "completed")
    app.run()
    _no_traceback(app)
    assert metric(app, "ETA") == "—"
    assert any(t.columns[0] == "rank" for t in tables(app))  # the finished view


def _count_reads(view: RunView) -> list[int]:
    """Record how many trials each ``update`` call of this view reads."""
    reads: list[int] = []
    original = view.update

    def update(store):  # type: ignore[no-untyped-def]
        added = original(store)
        reads.append(added)
        return added

    view.update = update  # type: ignore[method-assign]
    return reads


# -------------------------------------------------------------------------------------- compare
def test_compare_view_shows_the_gate_computation(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir, view="Compare")
    _no_traceback(app)
    app.selectbox(key="compare_baseline").set_value(finished_store.older)
    app.selectbox(key="compare_candidate").set_value(finished_store.newer).run()
    _no_traceback(app)
    table = app.dataframe[0].value
    with RunStore(finished_store.db) as store:
        expected = compare_runs(
            run_data_from_store(store, finished_store.older, summary=False),
            run_data_from_store(store, finished_store.newer, summary=False),
        )
    assert len(table) == len(expected.rows) == 6
    for row, want in zip(table.itertuples(index=False), expected.rows, strict=True):
        assert (row.experiment, row.variant, row.verdict) == (
            want.experiment,
            want.variant,
            want.verdict,
        )
        assert row.difference == pytest.approx(want.difference)
        assert row[table.columns.get_loc("Welch p")] == pytest.approx(want.p_value)
        n = min(want.baseline_trials, want.candidate_trials)
        assert row[table.columns.get_loc("95% CI")] == format_interval(
            want.ci_low, want.ci_high, n=n, digits=4
        )  # one text cell, so an interval without width is never shown as [x, x]
    shown, other = ("error", "success") if expected.failed else ("success", "error")
    assert any(
        t.startswith("Gate fails" if expected.failed else "Gate passes") for t in texts(app, shown)
    )
    assert not any(t.startswith("Gate") for t in texts(app, other))  # one verdict, the right one

    app.selectbox(key="compare_candidate").set_value(finished_store.empty).run()
    _no_traceback(app)
    assert any("cannot be compared" in t for t in texts(app, "warning"))


# ------------------------------------------------------------------ tables, log, launch, early stop
def _early_stopped_store(tmp_path: Path) -> Path:
    db = tmp_path / "early.db"
    with StoreWriter(db) as writer:
        writer.create_run(new_run("early", "early", time.time() - 60, planned=20))
        writer.upsert_experiment("early", 0, "grid", "mab", "thompson_sampling", ["a", "b"], 20)
        for i in range(8):
            writer.add_trial(trial("early", "grid", "ab"[i % 2], i, score=1.0))
        for i in range(30):
            writer.add_log("early", "INFO", f"log line {i:02d}")
        writer.finish_run("early", "completed", "grid: P(best) 0.97 >= 0.95")
    return db


def test_an_early_stopped_run_says_so_with_a_full_bar_and_shows_the_newest_log_first(
    open_app, tmp_path: Path
):
    app = open_app(_early_stopped_store(tmp_path), tmp_path, run="early")
    _no_traceback(app)
    (bar,) = app.get("progress")
    assert bar.proto.value == 100
    assert bar.proto.text == "stopped early: grid: P(best) 0.97 >= 0.95 (8 of 20 trials)"
    ranking = next(t for t in tables(app) if "rank" in t.columns)
    # every trial of a and b scored 1.0: no zero-width interval, in the score or the success
    assert set(ranking["score 95% CI"]) == {"n/a (no variance in 4 trials)"}
    assert "[100.0%, 100.0%]" not in set(ranking["success 95% CI"])
    _open(app, "Log")
    log = next(c.value for c in app.code if "log line" in c.value)
    assert log.splitlines()[0].endswith("log line 29") and log.splitlines()[-1].endswith("00")


def test_tables_show_every_column_by_its_full_name(open_app, finished_store):
    app = open_app(finished_store.db, finished_store.config_dir, run=finished_store.older)
    _no_traceback(app)
    # the first view draws Markdown tables, no st.dataframe (its grid's JavaScript is what an
    # open waited for): a long name wraps, it is never cut
    assert not app.dataframe and not app.sidebar.dataframe
    assert not tables(app.sidebar)  # the run list is a list: the sidebar is too narrow
    shown = [t for t in tables(app) if t.columns[0] in {"rank", "other"}]
    assert len(shown) == 4  # two rankings, two tables of tests against the best
    assert {"score 95% CI", "success 95% CI", "latency p50 (s)", "cost total"} <= set(
        shown[0].columns
    )
    # the Compare view keeps a sortable st.dataframe, with room for each column's full name
    app.sidebar.radio(key="view").set_value("Compare").run()
    app.selectbox(key="compare_baseline").set_value(finished_store.older)
    app.selectbox(key="compare_candidate").set_value(finished_store.newer).run()
    _no_traceback(app)
    assert app.dataframe
    for table in app.dataframe:
        configs = json.loads(table.proto.columns)
        for name in table.value.columns:
            width = configs[str(name)]["width"]
            assert width >= 8 * len(str(name)) + 28, (name, width)


def test_launch_picks_config_yaml_first(open_app, tmp_path: Path):
    from .helpers import fast_config, write_config

    write_config(tmp_path, fast_config("alpha"), "a_first.yaml")
    write_config(tmp_path, fast_config("main"), "config.yaml")
    app = open_app(tmp_path / "none.db", tmp_path, view="Launch")
    _no_traceback(app)
    assert app.selectbox(key="launch_file").value == "config.yaml"
    assert "name: main" in app.text_area(key="launch_text").value


def test_the_tests_against_the_best_name_the_test_that_ran(open_app, tmp_path: Path):
    from meta_orchestrator.hub import run_experiment_suite

    from .helpers import fast_config

    config = fast_config("paired")
    config["datasets"] = {"syn": {"type": "synthetic", "size": 12}}
    config["experiments"] = [
        {"name": "ds", "dataset": "syn", "variants": ["alpha", "beta"], "epochs": 2},
        {"name": "plain", "variants": ["alpha", "beta"], "trials_per_variant": 12},
    ]
    run_id = run_experiment_suite(config, db_path=tmp_path / "p.db")
    app = open_app(tmp_path / "p.db", tmp_path, run=run_id)
    _no_traceback(app)
    tests = [t for t in tables(app) if "test" in t.columns]
    assert [list(t["test"]) for t in tests] == [
        ["paired t-test on the samples both ran"],
        ["Welch's t-test"],
    ]
    captions = " ".join(texts(app, "caption"))
    assert "paired t-test on the samples both ran, Holm-corrected" in captions
    assert "Welch's t-test, Holm-corrected" in captions
