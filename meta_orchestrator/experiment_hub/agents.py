"""Turning a variant's config into something callable: ``agent(context) -> metrics mapping``.

Python agents are functions ``f(context, **params)`` or classes ``C(**params)`` whose instances have
``run(context)`` (or are callable). Command agents are external programs speaking JSON over
stdin/stdout. Both are built lazily, once per process, by ``TrialRunner``.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from meta_orchestrator.experiment_hub.config import (
    CommandVariant,
    PythonVariant,
    SimulatedVariant,
)
from meta_orchestrator.experiment_hub.registry import resolve_agent
from meta_orchestrator.experiment_hub.scoring import MalformedResult

Agent = Callable[[dict[str, Any]], Any]


class CommandFailed(RuntimeError):
    """A command variant exited non-zero; the message carries the end of its stderr."""


class CommandTimedOut(TimeoutError):
    """A command variant ran past the trial timeout and was killed."""


def build_agent(
    variant: SimulatedVariant | PythonVariant | CommandVariant,
    base_dir: Path,
    timeout: float | None,
) -> Agent:
    if isinstance(variant, SimulatedVariant):
        from meta_orchestrator.experiment_hub.variants.simulated import SimulatedAgent

        params = variant.model_dump(exclude={"type", "description"})
        return SimulatedAgent(**params).run
    if isinstance(variant, PythonVariant):
        return _python_agent(resolve_agent(variant.agent), variant.params)
    return CommandAgent(variant, base_dir, timeout)


def _python_agent(target: Any, params: Mapping[str, Any]) -> Agent:
    if inspect.isclass(target):
        instance = target(**params)
        method = getattr(instance, "run", None)
        if callable(method):
            return method
        if callable(instance):
            return instance
        raise TypeError(f"{target.__qualname__} instances have no run(context) method")
    return partial(target, **params) if params else target


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
            raise CommandFailed(f"cannot start command {self.command!r}: {exc}") from exc
        try:
            stdout, stderr = proc.communicate(payload, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            stderr = proc.communicate()[1]  # what it wrote before the timeout is kept
            raise CommandTimedOut(
                f"command {self.command[0]!r} ran past {self.timeout}s and was killed"
                + (f"; stderr: {stderr[-2000:].strip()}" if stderr.strip() else "")
            ) from None
        except BaseException:  # Ctrl-C: the program is in its own session and did not get it
            _kill(proc)
            proc.wait()
            raise
        if proc.returncode != 0:
            raise CommandFailed(
                f"command {self.command[0]!r} exited with code {proc.returncode}; "
                f"stderr: {stderr[-2000:].strip() or '(empty)'}"
            )
        return _parse_stdout(stdout, stderr)


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
