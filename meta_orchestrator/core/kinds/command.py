"""``type: command``: any program, in any language, speaking JSON over stdin and stdout.

The program gets the trial context (with the variant's ``params`` under ``"params"``) as one JSON object
on stdin and prints one JSON result object as the last line of stdout. It runs in its own session,
so a timeout kills it and everything it started.

A trial ends within its timeout plus ``KILL_GRACE_SECONDS``, whatever the program's children do: after
the session is killed, any process still holding the program's stdout or stderr (a grandchild that
left the session with ``setsid``) is found through ``/proc`` and killed too, and the final read of the
pipes is bounded. On Linux the program also gets SIGKILL if the process running it dies (kill -9 of
the run, a Ray worker killed with its Ray). ``CommandAgent.abort`` kills every program in flight: the
threads backend calls it on Ctrl-C and at the end of a run. Where the process running the programs
may itself be killed (a Ray worker), the run's process ledger (``core.processes``) is the backstop:
each program is recorded there while it runs and stamped in its environment, and the run kills
whatever is left when it ends, so no program outlives the run on any backend.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from meta_orchestrator.core.kinds.base import (
    Agent,
    BuildContext,
    TrialTimeout,
    VariantKind,
    register_kind,
)
from meta_orchestrator.core.models import StrictModel
from meta_orchestrator.core.processes import LEDGER_VARIABLE, ProcessLedger, other_processes
from meta_orchestrator.core.scoring import MalformedResult

COMMAND_WIDTH = 80  # how much of a command an error message shows


class CommandVariant(StrictModel):
    """An external program: trial context as JSON on stdin, one metrics JSON object on stdout."""

    type: Literal["command"]
    description: str = ""
    command: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    params: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


KILL_GRACE_SECONDS = 1.0  # how long the pipes may stay open after the program was killed
_PR_SET_PDEATHSIG = 1


class CommandFailed(RuntimeError):
    """A command variant exited non-zero; the message carries the end of its stderr."""


class CommandTimedOut(TrialTimeout):
    """A command variant ran past the trial timeout and was killed."""


@register_kind
class CommandKind(VariantKind):
    name = "command"
    model = CommandVariant
    enforces_timeout = True

    def build(self, variant: CommandVariant, context: BuildContext) -> Agent:
        return CommandAgent(variant, context.base_dir, context.timeout, context.ledger)

    def describe(self, variant: CommandVariant) -> str:
        return " ".join(variant.command)


class CommandAgent:
    """Runs the command once per trial: context JSON on stdin, metrics JSON on stdout.

    The trial context carries ``params`` too. A non-zero exit, a timeout or output that is not one JSON
    object fails the trial with the program's stderr kept in the error message.
    """

    def __init__(
        self,
        variant: CommandVariant,
        base_dir: Path,
        timeout: float | None,
        ledger: str | None = None,
    ) -> None:
        self.command = list(variant.command)
        self.params = dict(variant.params)
        self.cwd = str((base_dir / variant.cwd).resolve()) if variant.cwd else str(base_dir)
        self.env = {**os.environ, **variant.env}
        self.ledger = ProcessLedger(ledger) if ledger is not None else None
        if ledger is not None:
            self.env[LEDGER_VARIABLE] = ledger
        self.timeout = timeout
        self._live: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self.display = shown_command(self.command)

    def __call__(self, context: dict[str, Any]) -> Any:
        payload = json.dumps({**context, "params": self.params})
        try:
            # Its own session, so a timeout kills the program and everything it started.
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        except OSError as exc:
            raise CommandFailed(f"cannot start command {self.display}: {exc}") from exc
        with self._lock:
            self._live.add(proc)
        if self.ledger is not None:
            self.ledger.record(proc.pid)
        try:
            stdout, stderr = proc.communicate(payload, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            stderr = _kill(proc)[1]  # what it wrote before the timeout is kept
            raise CommandTimedOut(
                f"command {self.display} ran past {self.timeout}s and was killed"
                + (f"; stderr: {stderr[-2000:].strip()}" if stderr.strip() else "")
            ) from None
        except BaseException:  # Ctrl-C: the program is in its own session and did not get it
            _kill(proc)
            raise
        finally:
            with self._lock:
                self._live.discard(proc)
            if self.ledger is not None:
                self.ledger.forget(proc.pid)
        if proc.returncode != 0:
            raise CommandFailed(
                f"command {self.display} exited with code {proc.returncode}; "
                f"stderr: {stderr[-2000:].strip() or '(empty)'}"
            )
        return _parse_stdout(stdout, stderr)

    def abort(self) -> None:
        """Kill every program this agent is running now (their trials fail); safe from any thread."""
        with self._lock:
            live = list(self._live)
        for proc in live:
            _signal_all(proc)


def shown_command(command: list[str], width: int = COMMAND_WIDTH) -> str:
    """The whole command as a shell would read it, quoted (``'bash broken.sh'``), shortened in the
    middle past ``width`` characters so both the program and its last arguments stay visible."""
    text = shlex.join(command)
    if len(text) > width:
        keep = width - 1
        text = text[: keep - keep // 3] + "…" + text[len(text) - keep // 3 :]
    return repr(text)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the thread that started it dies (Linux only)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl here: the session kill still applies
        pass


def _kill(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Kill the program, its session and whatever holds its pipes; return what it wrote, reading
    for at most ``KILL_GRACE_SECONDS`` (a process we could not kill may hold a pipe forever)."""
    _signal_all(proc)
    try:
        stdout, stderr = proc.communicate(timeout=KILL_GRACE_SECONDS)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        stdout, stderr = "", ""
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    try:
        proc.wait(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:  # unkillable (stuck in the kernel): not waited for
        pass
    return stdout or "", stderr or ""


def _signal_all(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the program's session, then every process still holding its stdout or stderr."""
    pipes = [_pipe_inode(p) for p in (proc.stdout, proc.stderr)]
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):  # already gone
        pass
    for pid in _holders({p for p in pipes if p is not None}):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _pipe_inode(pipe: Any) -> str | None:
    try:
        return f"pipe:[{os.fstat(pipe.fileno()).st_ino}]"
    except (AttributeError, ValueError, OSError):
        return None


def _holders(pipes: set[str]) -> list[int]:
    """Other processes with one of ``pipes`` open (read from ``/proc``; empty where there is none)."""
    if not pipes:
        return []

    def holds_pipe(pid: str) -> bool:
        with os.scandir(f"/proc/{pid}/fd") as fds:
            return any(os.readlink(fd.path) in pipes for fd in fds)

    return other_processes(holds_pipe)


def _parse_stdout(stdout: str, stderr: str) -> Any:
    text = stdout.strip()
    # Programs often log before their answer: the metrics are the last non-empty line.
    last = text.splitlines()[-1] if text else ""
    try:
        value = json.loads(last)
    except json.JSONDecodeError:
        raise MalformedResult(
            f"command output is not a JSON object (last line {last[:200]!r}); "
            f"stderr: {stderr[-2000:].strip() or '(empty)'}"
        ) from None
    return value
