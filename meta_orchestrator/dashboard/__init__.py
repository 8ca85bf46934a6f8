"""The live dashboard: ``launch`` serves ``app.py`` (``meta-orchestrator dashboard``).

Streamlit is an optional dependency (``pip install 'meta-orchestrator[dashboard]'``); nothing here
imports it until the dashboard starts. Who may use it is ``guard``'s job: the page, its websocket
and so Launch and Stop need the token printed in the URL at start, and a Host the allowlist names.
``launch`` refuses to bind beyond loopback without ``allow_remote``, and warns when it does.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from meta_orchestrator.dashboard.guard import TOKEN_ENV, is_loopback
from meta_orchestrator.errors import ConfigError, MissingDependencyError

APP = Path(__file__).with_name("app.py")

__all__ = ["APP", "TOKEN_ENV", "dashboard_command", "launch"]


def dashboard_command(
    host: str, port: int, db: str | Path, config_dir: str | Path, allowed_hosts: Sequence[str] = ()
) -> list[str]:
    """The argument list that serves the dashboard (never run through a shell; no token in it)."""
    command = [
        sys.executable, "-m", "meta_orchestrator.dashboard.serve",
        "--host", host, "--port", str(port), "--db", str(db), "--config-dir", str(config_dir),
    ]  # fmt: skip
    for name in allowed_hosts:
        command += ["--allow-host", name]
    return command


def launch(
    *,
    host: str = "127.0.0.1",
    port: int = 8501,
    db: str | Path,
    config_dir: str | Path = ".",
    allow_remote: bool = False,
    allowed_hosts: Sequence[str] = (),
    announce: Callable[[str], None] = print,
) -> int:
    """Serve the dashboard until Ctrl-C; return the server's exit code.

    The token is ``$META_ORCHESTRATOR_DASHBOARD_TOKEN`` if set (scripts, tests), else random; the
    URL that carries it is passed to ``announce``. Runs launched from the dashboard are separate
    processes and keep running after it stops.

    Raises ``ConfigError`` for a non-loopback ``host`` without ``allow_remote``, and
    ``MissingDependencyError`` (with the ``pip install`` that fixes it) without Streamlit.
    """
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"--host {host} would let anyone who can reach this machine launch runs (and so "
            "programs) as you; pass --allow-remote to bind it anyway",
            [f"--host: {host} is not a loopback address"],
        )
    if importlib.util.find_spec("streamlit") is None:
        raise MissingDependencyError("streamlit", "dashboard", "The dashboard")
    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    if not is_loopback(host):
        announce(
            f"warning: serving on {host}: anyone on the network who has the token can launch "
            "runs as this user; only Host names given with --allow-host are accepted"
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    announce(f"dashboard: http://{shown}:{port}/?token={token}")
    environment = {**os.environ, TOKEN_ENV: token}
    command = dashboard_command(host, port, db, config_dir, allowed_hosts)
    process = subprocess.Popen(command, env=environment)
    with _forward_sigterm(process):
        try:
            return process.wait()
        except KeyboardInterrupt:
            # The server got the same Ctrl-C (same process group) and is shutting down cleanly.
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
