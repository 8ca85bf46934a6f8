"""``type: command``: any program, in any language, speaking JSON over stdin and stdout.

The program gets the trial context (with the variant's ``params`` under ``"params"``) as one JSON object
on stdin and prints one JSON result object as the last line of stdout. It runs in its own session,
so a timeout kills it and everything it started.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
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
        return CommandAgent(variant, context.base_dir, context.timeout)

    def describe(self, variant: CommandVariant) -> str:
        return " ".join(variant.command)


class CommandAgent:
    """Runs the command once per trial: context JSON on stdin, metrics JSON on stdout.

    The trial context carries ``params`` too. A non-zero exit, a timeout or output that is not one JSON
    object fails the trial with the program's stderr kept in the error message.
    """

    def __init__(self, variant: CommandVariant, base_dir: Path, timeout: float | None) -> None:
        self.command = list(variant.command)
        self.params = dict(variant.params)
        self.cwd = str((base_dir / variant.cwd).resolve()) if variant.cwd else str(base_dir)
        self.env = {**os.environ, **variant.env}
        self.timeout = timeout
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
            )
        except OSError as exc:
            raise CommandFailed(f"cannot start command {self.display}: {exc}") from exc
        try:
            stdout, stderr = proc.communicate(payload, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            stderr = proc.communicate()[1]  # what it wrote before the timeout is kept
            raise CommandTimedOut(
                f"command {self.display} ran past {self.timeout}s and was killed"
                + (f"; stderr: {stderr[-2000:].strip()}" if stderr.strip() else "")
            ) from None
        except BaseException:  # Ctrl-C: the program is in its own session and did not get it
            _kill(proc)
            proc.wait()
            raise
        if proc.returncode != 0:
            raise CommandFailed(
                f"command {self.display} exited with code {proc.returncode}; "
                f"stderr: {stderr[-2000:].strip() or '(empty)'}"
            )
        return _parse_stdout(stdout, stderr)


def shown_command(command: list[str], width: int = COMMAND_WIDTH) -> str:
    """The whole command as a shell would read it, quoted (``'bash broken.sh'``), shortened in the
    middle past ``width`` characters so both the program and its last arguments stay visible."""
    text = shlex.join(command)
    if len(text) > width:
        keep = width - 1
        text = text[: keep - keep // 3] + "…" + text[len(text) - keep // 3 :]
    return repr(text)


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):  # already gone
        pass


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
