"""The live dashboard: ``launch`` runs ``streamlit run`` on ``app.py`` (``meta-orchestrator dashboard``).

Streamlit is an optional dependency (``pip install 'meta-orchestrator[dashboard]'``); nothing here
imports it until the dashboard starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from meta_orchestrator.errors import MissingDependencyError

APP = Path(__file__).with_name("app.py")

__all__ = ["APP", "launch", "streamlit_command"]


def streamlit_command(host: str, port: int, db: str | Path, config_dir: str | Path) -> list[str]:
    """The argument list that serves the dashboard (never run through a shell)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--",
        "--db", str(db),
        "--config-dir", str(config_dir),
    ]  # fmt: skip


def launch(
    *, host: str = "127.0.0.1", port: int = 8501, db: str | Path, config_dir: str | Path = "."
) -> int:
    """Serve the dashboard until Ctrl-C; return Streamlit's exit code.

    Runs launched from the dashboard are separate processes and keep running after it stops.

    Raises ``MissingDependencyError`` (with the ``pip install`` that fixes it) without Streamlit.
    """
    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError("streamlit", "dashboard", "The dashboard")
    process = subprocess.Popen(streamlit_command(host, port, db, config_dir))
    with _forward_sigterm(process):
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Streamlit got the same Ctrl-C (same process group) and is shutting down cleanly.
            try:
                return process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.terminate()
                return process.wait()


@contextlib.contextmanager
def _forward_sigterm(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """``kill PID`` of this process stops the Streamlit server too, instead of orphaning it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
