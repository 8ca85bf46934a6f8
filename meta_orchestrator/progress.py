"""The progress of ``meta-orchestrator run``: trials done / planned, errors, ETA, current leader.

On a terminal it is a rich progress bar that ends at the run's real end state: full when the run
completed (also when a bandit stopped early or a budget ended it sooner: the bar's total becomes
what ran), left where it was when the run was interrupted or failed, and never with a stale ETA.
In a log (CI, a pipe, a file) a redrawn bar is noise that gets cut at 80 columns, so
``PlainProgress`` prints one plain line each time another ``step`` of the plan is done and one
final line, as pip and cargo do without a terminal.
"""

from __future__ import annotations

import math
import time
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from meta_orchestrator.analysis.formatting import format_duration, format_percent
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.leaderboard import Leaderboard
from meta_orchestrator.listener import RunListener

PLAIN_STEP = 0.10  # a plain line per 10% of the planned trials


def progress_for(console: Console) -> RunListener:
    """The bar on a terminal, plain lines otherwise."""
    if console.is_terminal:
        return RichProgress(console)
    return PlainProgress(console.file)


def _leader_text(leaderboard: Leaderboard) -> str:
    leader = leaderboard.leader()
    return f"leader {leader[0]} ({leader[1]:.3f})" if leader else ""


def _end_text(status: str, done: int, planned: int) -> str:
    """``completed``, or ``completed, 380 of 400 planned trials (stopped early)`` and the like."""
    if status == "completed" and done < planned:
        return f"completed: {done} of {planned} planned trials ran (stopped early)"
    return status


class _EtaColumn(ProgressColumn):
    """``ETA 0:12`` while the run goes; nothing once it ended (a stale estimate misleads)."""

    def render(self, task: Task) -> Text:
        if task.fields.get("ended") or task.finished:
            return Text("")
        remaining = task.time_remaining
        if remaining is None:
            return Text("ETA -:--", style="progress.remaining")
        minutes, seconds = divmod(int(remaining), 60)
        hours, minutes = divmod(minutes, 60)
        text = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
        return Text(f"ETA {text}", style="progress.remaining")


class RichProgress(RunListener):
    """One rich progress bar; refreshes on its own timer, not per trial."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            _EtaColumn(),
            TextColumn("{task.fields[leader]}"),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )
        self._task: int | None = None
        self._done = 0
        self._planned = 0

    def on_run_start(self, run_id: str, planned: int, done: int) -> None:
        self._done, self._planned = done, planned
        self._progress.start()
        self._task = self._progress.add_task(
            run_id, total=planned, completed=done, errors=0, leader="", ended=False
        )

    def on_trial(self, result: TrialResult, leaderboard: Leaderboard) -> None:
        self._done += 1
        self._progress.update(
            self._task,  # type: ignore[arg-type]
            advance=1,
            errors=leaderboard.errors,
            leader=_leader_text(leaderboard),
            description=result.experiment,
        )

    def on_run_end(self, run_id: str, status: str) -> None:
        if self._task is not None:
            total = self._done if status == "completed" else self._planned
            self._progress.update(
                self._task,
                total=max(total, 1),
                completed=self._done,
                description=_end_text(status, self._done, self._planned),
                ended=True,
            )
        self._progress.stop()


class PlainProgress(RunListener):
    """Plain progress lines for a log: one per ``step`` of the plan, and one when the run ends."""

    def __init__(self, file: TextIO, step: float = PLAIN_STEP) -> None:
        self.file = file
        self.step = step
        self._run_id = ""
        self._planned = 0
        self._done = 0
        self._errors = 0
        self._leader = ""
        self._started = 0.0
        self._next = 0

    def on_run_start(self, run_id: str, planned: int, done: int) -> None:
        self._run_id, self._planned, self._done = run_id, planned, done
        self._started = time.monotonic()
        self._every = max(1, math.ceil(planned * self.step))
        self._next = (done // self._every + 1) * self._every
        resumed = f", {done} already done" if done else ""
        self._line(f"run {run_id}: {planned} planned trials{resumed}")

    def on_trial(self, result: TrialResult, leaderboard: Leaderboard) -> None:
        self._done += 1
        self._errors = leaderboard.errors
        self._leader = _leader_text(leaderboard)
        if self._done >= self._next and self._done < self._planned:
            self._next += self._every
            share = format_percent(self._done / self._planned) if self._planned else ""
            self._line(
                f"run {self._run_id}: {self._done}/{self._planned} trials ({share}) · "
                f"{self._tail()}"
            )

    def on_run_end(self, run_id: str, status: str) -> None:
        early = " (stopped early)" if status == "completed" and self._done < self._planned else ""
        self._line(
            f"run {run_id} {status}: {self._done}/{self._planned} trials{early} · {self._tail()}"
        )

    def _tail(self) -> str:
        elapsed = format_duration(time.monotonic() - self._started)
        parts = [f"errors {self._errors}", f"elapsed {elapsed}"]
        if self._leader:
            parts.append(self._leader)
        return " · ".join(parts)

    def _line(self, text: str) -> None:
        self.file.write(text + "\n")
        self.file.flush()
