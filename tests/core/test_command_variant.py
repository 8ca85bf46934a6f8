"""A command variant written as a bash script: JSON context on stdin, metrics JSON on stdout."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from meta_orchestrator.core.kinds.command import COMMAND_WIDTH, shown_command
from tests.helpers import FIXTURES, RunSuite, standard, suite

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

SCRIPT = FIXTURES / "command_agent.sh"


def _command(mode: str) -> dict:
    return {"type": "command", "command": ["bash", str(SCRIPT)], "params": {"mode": mode}}


def test_script_gets_the_context_and_its_metrics_are_recorded(run_suite: RunSuite) -> None:
    config = suite(
        {"script": _command("ok")},
        [standard("cmd", ["script"], 4)],
        custom_metrics=["echo_seed", "echo_index"],
    )
    trials = run_suite(config).trials()
    assert [t.status for t in trials] == ["ok"] * 4
    for trial in trials:
        # The script echoes what it read from stdin, so the context really arrived.
        assert trial.metrics["echo_seed"] == trial.seed
        assert trial.metrics["echo_index"] == trial.index
        assert trial.metrics["success"] == float(trial.seed % 2 == 0)
        assert trial.metrics["cost"] == 0.002
        assert trial.score == trial.metrics["success"]


def test_non_zero_exit_is_a_failed_trial_with_stderr(run_suite: RunSuite) -> None:
    config = suite({"script": _command("fail")}, [standard("cmd", ["script"], 2)])
    ran = run_suite(config)
    trials = ran.trials()
    assert [t.status for t in trials] == ["error", "error"]
    for trial in trials:
        assert trial.error is not None
        assert f"command 'bash {SCRIPT}' exited with code 3; stderr: " in trial.error
        assert "fatal: model quota exceeded" in trial.error
        assert f"agent log: mode=fail trial={trial.index}" in trial.error
    assert ran.record().status == "completed"


def test_unparsable_output_is_a_failed_trial_with_stderr(run_suite: RunSuite) -> None:
    config = suite({"script": _command("garbage")}, [standard("cmd", ["script"], 1)])
    (trial,) = run_suite(config).trials()
    assert trial.status == "error"
    assert trial.error is not None
    assert trial.error.startswith(
        "command output is not a JSON object (last line 'the answer is 42')"
    )
    assert "agent log: mode=garbage trial=0" in trial.error


def _processes(cmdline: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip() == cmdline.encode():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def test_timeout_kills_the_program_and_keeps_its_stderr(run_suite: RunSuite) -> None:
    config = suite(
        {"script": _command("hang")},
        [standard("cmd", ["script"], 2)],
        trial={"timeout_seconds": 0.5},
    )
    started = time.monotonic()
    ran = run_suite(config)
    assert time.monotonic() - started < 10  # not the 20 s the script would sleep
    trials = ran.trials()
    assert [t.status for t in trials] == ["timeout", "timeout"]
    for trial in trials:
        assert trial.error is not None
        assert trial.error.startswith(f"command 'bash {SCRIPT}' ran past 0.5s and was killed")
        assert "waiting for a tool that never answers" in trial.error
        assert 0.5 <= trial.latency < 5
    if Path("/proc").is_dir():
        # The script's own child went with it: its whole session was killed, not just bash.
        assert _processes("sleep 19.75") == []


def test_cwd_and_env_reach_the_program(run_suite: RunSuite, tmp_path: Path) -> None:
    script = tmp_path / "agents" / "env_agent.sh"
    script.parent.mkdir()
    script.write_text(
        "#!/usr/bin/env bash\ncat > /dev/null\n"
        'printf \'{"success": true, "level": %s, "here": %s}\\n\' "$AGENT_LEVEL" '
        '"$([ -f env_agent.sh ] && echo 1 || echo 0)"\n'
    )
    config = suite(
        {
            "env": {
                "type": "command",
                "command": ["bash", "env_agent.sh"],
                "cwd": str(script.parent),
                "env": {"AGENT_LEVEL": "7"},
            }
        },
        [standard("cmd", ["env"], 1)],
        custom_metrics=["level", "here"],
    )
    (trial,) = run_suite(config).trials()
    assert trial.status == "ok", trial.error
    assert (trial.metrics["level"], trial.metrics["here"]) == (7.0, 1.0)


def test_missing_program_is_a_failed_trial(run_suite: RunSuite) -> None:
    config = suite(
        {"ghost": {"type": "command", "command": ["no-such-program-xyz"]}},
        [standard("cmd", ["ghost"], 1)],
    )
    (trial,) = run_suite(config).trials()
    assert trial.status == "error"
    assert "cannot start command 'no-such-program-xyz'" in (trial.error or "")


def test_an_error_names_the_whole_command_quoted_and_shortened_in_the_middle() -> None:
    assert shown_command(["bash", "broken.sh", "--fast"]) == "'bash broken.sh --fast'"
    assert shown_command(["python", "my agent.py"]) == "\"python 'my agent.py'\""
    long = ["./target/release/agent", *(f"--option-{i}" for i in range(20)), "--last"]
    text = shown_command(long)
    assert len(text) == COMMAND_WIDTH + 2  # the quotes repr adds
    assert text.startswith("'./target/release/agent --option-0") and text.endswith("--last'")
    assert "…" in text


@pytest.mark.skipif(shutil.which("jq") is None, reason="needs jq")
def test_the_readme_bash_agent_reads_its_stdin_with_jq(run_suite: RunSuite, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    script = readme.split("# agent.sh: reads its stdin JSON with jq", 1)[1].split("```", 1)[0]
    (tmp_path / "agent.sh").write_text("#!/usr/bin/env bash" + script, encoding="utf-8")
    config = suite(
        {"shell_agent": {"type": "command", "command": ["bash", "agent.sh"], "cwd": str(tmp_path),
                         "params": {"depth": 3}}},
        [standard("cmd", ["shell_agent"], 2)],
    )  # fmt: skip
    trials = run_suite(config).trials()
    assert [t.status for t in trials] == ["ok", "ok"], trials[0].error
    assert all(t.metrics["success"] == 1.0 and t.metrics["cost"] == 0.01 for t in trials)
    assert trials[0].details == {"asked": ""}  # no dataset: no sample input
