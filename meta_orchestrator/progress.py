"""The terminal progress bar of ``meta-orchestrator run``: trials done / planned, ETA, current leader."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.leaderboard import Leaderboard


class RichProgress:
    """A ``RunListener`` drawing one rich progress bar; refreshes on its own timer, not per trial."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[leader]}"),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )
        self._task = None

    def on_run_start(self, run_id: str, planned: int, done: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            run_id, total=planned, completed=done, errors=0, leader=""
        )

    def on_trial(self, result: TrialResult, leaderboard: Leaderboard) -> None:
        leader = leaderboard.leader()
        text = f"leader {leader[0]} ({leader[1]:.3f})" if leader else ""
        self._progress.update(
            self._task,
            advance=1,
            errors=leaderboard.errors,
            leader=text,
            description=result.experiment,
        )

    def on_run_end(self, run_id: str, status: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, description=f"{status}")
        self._progress.stop()
