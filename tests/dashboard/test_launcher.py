"""The launcher: the CLI's validator, the file it runs, the background process and its SIGINT."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import yaml

from meta_orchestrator import dashboard
from meta_orchestrator.dashboard import launcher
from meta_orchestrator.errors import ConfigError, MissingDependencyError
from meta_orchestrator.store import RunStore

from .helpers import fast_config, metric, slow_config, texts, write_config


def test_config_picker_lists_yaml_files_but_not_hidden_ones_or_launches(tmp_path: Path):
    write_config(tmp_path, fast_config("top"))
    write_config(tmp_path / "benchmarks", fast_config("nested"), "nested.yml")
    write_config(tmp_path / ".hidden", fast_config("hidden"))
    write_config(tmp_path / launcher.LAUNCH_FOLDER, fast_config("launched"))
    (tmp_path / ".secret.yaml").write_text("name: secret\n")
    found = [p.relative_to(tmp_path).as_posix() for p in launcher.list_configs(tmp_path)]
    assert found == ["benchmarks/nested.yml", "top.yaml"]
    assert launcher.list_configs(tmp_path / "missing") == []


def test_an_unedited_file_runs_as_is_and_an_edited_one_is_written_out(tmp_path: Path):
    source = write_config(tmp_path / "configs", {**fast_config(), "python_path": ["agents"]})
    launches = tmp_path / "results" / launcher.LAUNCH_FOLDER
    text = source.read_text()
    assert launcher.prepare(text, source.parent, launches, source) == source
    assert not launches.exists()

    edited = text.replace("seed: 11", "seed: 99")
    written = launcher.prepare(edited, source.parent, launches, source)
    assert written.parent == launches and written.suffix == ".yaml"
    data = yaml.safe_load(written.read_text())
    assert data["seed"] == 99
    # relative paths keep meaning what they meant next to the original file
    assert data["python_path"] == [str((source.parent / "agents").resolve())]


def test_invalid_text_is_rejected_naming_the_field_and_nothing_is_written(tmp_path: Path):
    config = fast_config()
    config["experiments"][1]["mab_settings"]["strategy"] = "greedy"
    config["experiments"][0]["trials_per_variant"] = 0
    text = yaml.safe_dump(config)
    with pytest.raises(ConfigError) as caught:
        launcher.prepare(text, tmp_path, tmp_path / "launches")
    fields = sorted(p.split(":")[0] for p in caught.value.problems)
    assert fields == ["experiments[0].trials_per_variant", "experiments[1].mab_settings.strategy"]
    assert not (tmp_path / "launches").exists()


def test_dashboard_command_is_an_argument_list_bound_to_localhost_without_the_token():
    command = dashboard.dashboard_command("127.0.0.1", 8999, "runs.db", "configs", ["a.example"])
    assert command[1:3] == ["-m", "meta_orchestrator.dashboard.serve"]
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8999"
    assert command[-6:] == [
        "--db",
        "runs.db",
        "--config-dir",
        "configs",
        "--allow-host",
        "a.example",
    ]
    assert not any("token" in part for part in command), "the token must not show in ps"


def test_a_config_outside_the_config_dir_is_refused(tmp_path: Path):
    """The launcher runs configs from its --config-dir only: no python_path folder elsewhere."""
    root, elsewhere = tmp_path / "configs", tmp_path / "elsewhere"
    source = write_config(root, slow_config("inside"))
    text = source.read_text()
    assert launcher.prepare(text, root, tmp_path / "launches", source, root) == source
    escaped = text + f"python_path: [{elsewhere}, .]\n"
    with pytest.raises(ConfigError) as caught:
        launcher.prepare(escaped, root, tmp_path / "launches", source, root)
    assert caught.value.problems == [
        f"python_path[0]: {elsewhere} is outside {root}, the folder the dashboard launches from "
        "(--config-dir)"
    ]
    with pytest.raises(ConfigError, match="config: .* is outside"):
        launcher.prepare(text, elsewhere, tmp_path / "launches", elsewhere / "x.yaml", root)
    assert not (tmp_path / "launches").exists()


def test_launch_without_streamlit_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "streamlit" else real(name, *a),
    )
    with pytest.raises(MissingDependencyError, match=r"meta-orchestrator\[dashboard\]"):
        dashboard.launch(db="runs.db")


def test_launch_from_the_page_then_stop_with_sigint(open_app, tmp_path: Path, no_launch_leftovers):
    config_dir, db = tmp_path / "configs", tmp_path / "results" / "runs.db"
    write_config(config_dir, slow_config("watched"))
    app = open_app(db, config_dir, view="Launch")
    assert app.selectbox(key="launch_file").value == "watched.yaml"
    assert any("Valid config" in t for t in texts(app, "success"))

    good = app.text_area(key="launch_text").value
    app.text_area(key="launch_text").set_value(
        good.replace("latency_mean: 0.04", "latency_mean: -1")
    )
    app.run()
    assert any("variants.alpha.latency_mean" in t for t in texts(app, "error")), texts(app, "error")
    assert app.button(key="launch_button").disabled

    app.text_area(key="launch_text").set_value(good).run()
    app.button(key="launch_button").click().run()
    assert not app.exception
    assert app.sidebar.radio(key="view").value == "Runs"
    (launch,) = launcher.launches()
    run_id = app.sidebar.selectbox(key="run_pick").value
    assert launch.run_id == run_id and launch.config_file == config_dir / "watched.yaml"
    assert texts(app, "title")[0] == "watched"

    _wait_for_trials(db, run_id, 3)
    app.button(key=f"stop-{run_id}").click().run()
    assert launch.process.wait(timeout=30) == 130  # the CLI's exit code for an interrupt
    app.run()
    with RunStore(db) as store:
        record = store.get_run(run_id)
    assert record.status == "interrupted" and 0 < record.trials < record.planned_trials
    assert any("interrupted" in t for t in texts(app, "warning"))
    assert metric(app, "Trials done") == f"{record.trials:,}"


def _wait_for_trials(db: Path, run_id: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with RunStore(db) as store:
            if store.trial_count(run_id) >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not reach {count} trials in {timeout} s")
