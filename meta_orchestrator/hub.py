"""``run_experiment_suite``: the one entry point the CLI, the dashboard and CI use to run a config.

It wires config -> orchestrator -> backend -> store: every trial is committed to the SQLite store as
it completes, and the run's ``results.json``, ``summary.md`` and ``config.yaml`` are written at the end
(also after a failure, Ctrl-C or SIGTERM, from whatever trials were completed), before the run is
marked finished, so a completed run always has them.

Exactly one process owns a run (``store.ownership``): the one that created it, or the ``resume`` that
took it over with a compare-and-set; the owner stamps a heartbeat while it runs.
"""

from __future__ import annotations

import io
import logging
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meta_orchestrator import __version__
from meta_orchestrator.analysis.results_follower import ResultsFollower
from meta_orchestrator.backends import Backend, create_backend
from meta_orchestrator.core.config import (
    ExperimentConfig,
    SuiteConfig,
    load_config,
    parse_config_text,
)
from meta_orchestrator.core.datasets import Dataset
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.paths import results_root, store_path
from meta_orchestrator.core.processes import ProcessLedger
from meta_orchestrator.core.scorers import label
from meta_orchestrator.driver import BudgetGuard, drive
from meta_orchestrator.errors import ConfigError, RunTerminated, StoreError
from meta_orchestrator.leaderboard import Leaderboard
from meta_orchestrator.listener import RunListener
from meta_orchestrator.orchestrators import Orchestrator, create_orchestrator
from meta_orchestrator.store import NewRun, RunStore, StoreWriter
from meta_orchestrator.store.ownership import (
    Heartbeat,
    Owner,
    owner_alive,
    process_alive,
    this_process,
)

log = logging.getLogger("meta_orchestrator.run")


def run_experiment_suite(
    config: SuiteConfig | str | Path | Mapping[str, Any],
    *,
    db_path: str | Path | None = None,
    results_dir: str | Path | None = None,
    seed: int | None = None,
    listener: RunListener | None = None,
    limit: int | None = None,
    sample_ids: list[str] | None = None,
) -> str:
    """Run every enabled experiment of ``config`` and return the run id.

    ``db_path``, ``results_dir`` and ``seed`` override the config; ``limit`` and ``sample_ids`` run
    fewer samples of every dataset (``run --limit`` / ``--sample``). Raises ``ConfigError`` before
    anything is written if the config or a dataset is invalid; re-raises ``KeyboardInterrupt``
    (``RunTerminated`` for SIGTERM) after marking the run ``interrupted`` and keeping every
    completed trial.
    """
    suite = _as_config(config)
    if seed is not None:
        suite = suite.with_overrides(seed=seed)
    suite = suite.with_selection(limit, sample_ids)
    db = store_path(db_path, suite)
    out_dir = results_root(results_dir, store=db, config=suite)
    run_id = new_run_id()
    owner = this_process()
    with StoreWriter(db) as writer:
        writer.create_run(
            NewRun(
                id=run_id,
                name=suite.name,
                orchestrator=_orchestrator_label(suite),
                backend=suite.execution_backend.type,
                seed=suite.seed,
                planned_trials=suite.planned_trials,
                config_yaml=suite.to_yaml(),
                config_path=str(suite.base_dir),
                started_at=time.time(),
                package_version=__version__,
                git_commit=git_commit(suite.base_dir),
                host=owner.host,
                pid=owner.pid,
                results_dir=str(out_dir.resolve()),
                owner_token=owner.token,
                owner_started=owner.started_at,
            )
        )
        with Heartbeat(writer, run_id, owner):
            _Execution(suite, run_id, writer, db, out_dir, listener).run(restored=None)
    return run_id


def resume_run(
    run_id: str,
    *,
    db_path: str | Path | None = None,
    results_dir: str | Path | None = None,
    listener: RunListener | None = None,
) -> str:
    """Continue an interrupted, failed or dead run to its planned budget; no trial lost or
    duplicated.

    Orchestrator state, bandit statistics included, is rebuilt from the stored trials; every
    missing (experiment, index) is run again. The outputs go to the run's own results folder, as
    recorded when it started (``results_dir`` overrides). Raises ``ConfigError`` (exit 2) naming
    the owner if another live process owns the run, or took it over while this one looked.
    """
    db = store_path(db_path)
    with RunStore(db) as store:
        record = store.get_run(run_id)
        if record.status == "completed":
            raise ConfigError(f"run {run_id} already completed; nothing to resume")
        if record.status == "running" and owner_alive(record):
            raise ConfigError(
                f"run {run_id} is still running (owner: host {record.host}, pid {record.pid})"
            )
        base_dir = Path(record.config_path) if record.config_path else Path.cwd()
        suite = parse_config_text(
            record.config_yaml, base_dir if base_dir.is_dir() else None, load_datasets=False
        )
        suite.attach_datasets(stored_datasets(store, run_id, suite))
        done_experiments = {
            e.name
            for e in store.experiments(run_id)
            if e.status == "completed"
            and (e.stop_reason or store.trial_count(run_id, e.name) >= e.planned_trials)
        }  # a "completed" experiment with unwritten trials (an older version's bug) runs again
        # Time spent running, not the downtime between an interrupt and this resume.
        elapsed = record.active_seconds
        if elapsed is None:
            elapsed = (record.ended_at or time.time()) - record.started_at
    out_dir = results_root(results_dir, store=db, config=suite, recorded=record.results_dir)
    owner = this_process()
    with StoreWriter(db) as writer:
        _claim(writer, db, record.owner_token, owner, run_id)
        writer.add_log(run_id, "INFO", f"resuming run {run_id}")
        execution = _Execution(suite, run_id, writer, db, out_dir, listener)
        execution.budget.elapsed_before = elapsed
        with Heartbeat(writer, run_id, owner):
            execution.run(restored=done_experiments)
    return run_id


def _claim(
    writer: StoreWriter, db: Path, seen_token: str | None, owner: Owner, run_id: str
) -> None:
    """Take the run over from the owner we saw, or say who beat us to it."""
    if writer.claim_run(run_id, seen_token, owner.token, owner.host, owner.pid, owner.started_at):
        return
    with RunStore(db) as store:
        now = store.get_run(run_id)
    if now.status == "completed":
        raise ConfigError(f"run {run_id} completed meanwhile; nothing to resume")
    raise ConfigError(
        f"run {run_id} was taken over by another process (owner: host {now.host}, pid {now.pid})"
    )


def stored_datasets(store: RunStore, run_id: str, suite: SuiteConfig) -> dict[str, Dataset]:
    """The samples a run stored when it started, which a resume must use (the files may have
    changed since); checked against the fingerprints its experiments recorded."""
    recorded = {e.name: e.dataset_fingerprint for e in store.experiments(run_id)}
    datasets: dict[str, Dataset] = {}
    for experiment in suite.enabled_experiments:
        name = experiment.dataset
        if name is None or name in datasets:
            continue
        samples = tuple(store.samples(run_id, name))
        if not samples:
            raise ConfigError(f"run {run_id} stored no samples of dataset '{name}'; cannot resume")
        dataset = Dataset(name, samples, suite.datasets[name].expose_target)
        expected = recorded.get(experiment.name)
        if expected is not None and expected != dataset.fingerprint:
            raise ConfigError(
                f"run {run_id}: the stored samples of dataset '{name}' do not match their "
                f"fingerprint ({dataset.fingerprint} != {expected}); the store is damaged"
            )
        datasets[name] = dataset
    return datasets


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class _Execution:
    """One pass over a suite's experiments for one run id (a fresh run or a resumed one)."""

    def __init__(
        self,
        suite: SuiteConfig,
        run_id: str,
        writer: StoreWriter,
        db: Path,
        out_dir: Path,
        listener: RunListener | None,
    ) -> None:
        self.suite = suite
        self.run_id = run_id
        self.writer = writer
        self.db = db
        self.out_dir = out_dir
        self.listener = listener or RunListener()
        self.budget = BudgetGuard(suite.budget)
        self.leaderboard = Leaderboard()
        self.signals = _StopSignals()
        self.follower: ResultsFollower | None = None

    def run(self, restored: set[str] | None) -> None:
        handler = _StoreLogHandler(self.writer, self.run_id)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        status, stop_reasons, error = "failed", [], None
        signals = self.signals
        prints = _PrintsToLog(self.writer, self.run_id)
        leftovers = ProcessLedger.sweep_orphaned()  # programs of runs whose driver was killed
        if leftovers:
            log.warning("killed %d program(s) left running by a run whose process died", leftovers)
        ledger = ProcessLedger.create()  # whatever a worker leaves running dies with the run
        try:
            runner = TrialRunner.from_config(self.suite)
            runner.ledger = str(ledger.folder)
            backend = create_backend(runner, self.suite.execution_backend)
            log.info(
                "run %s: %s, %d experiment(s), %d planned trials, backend %s, seed %d",
                self.run_id,
                self.suite.name,
                len(self.suite.enabled_experiments),
                self.suite.planned_trials,
                backend.describe(),
                self.suite.seed,
            )
            with signals, prints, backend:
                signals.reclaim()
                orchestrators = self._prepare(restored)
                planned = self._notify_start(orchestrators)
                self.follower = ResultsFollower.start(self.db, self.run_id, planned)
                for experiment, orchestrator in orchestrators:
                    reason = self._run_experiment(experiment, orchestrator, backend)
                    if reason:
                        stop_reasons.append(f"{experiment.name}: {reason}")
            status = "completed"
        except KeyboardInterrupt as exc:
            status, error = "interrupted", _interrupted_error(exc)
            log.warning("run %s %s; completed trials are kept", self.run_id, error)
            raise
        except BaseException as exc:
            if signals.seen is not None or signals.ray_took_sigterm(exc):
                # A terminal's Ctrl-C (or systemd's SIGTERM) reaches the whole process group: Ray's
                # own processes may die of it first and surface as a Ray error here. It is still
                # the user's interrupt.
                interrupt = signals.interrupt()
                status, error = "interrupted", _interrupted_error(interrupt)
                log.warning("run %s %s; completed trials are kept", self.run_id, error)
                raise interrupt from exc
            error = f"{type(exc).__name__}: {exc}"
            log.error("run %s failed: %s", self.run_id, error)
            raise
        finally:
            ledger.kill_all()
            log.info("run %s %s", self.run_id, status)
            log.removeHandler(handler)
            self._close(status, "; ".join(stop_reasons) or None, error)
            self.listener.on_run_end(self.run_id, status)

    def _close(self, status: str, stop_reason: str | None, error: str | None) -> None:
        """Write the reports as the run is about to be closed, then close it: a kill -9 between
        the two leaves a run that is not ``completed`` (and resumes to nothing), never a completed
        run without reports. After a failed store write the run is closed ``failed``."""
        if status == "completed" and self.writer.failed:
            status, error = "failed", "writing the run store failed; resume re-runs what is missing"
        elapsed = self.budget.elapsed
        closing = {
            "status": status,
            "ended_at": time.time(),
            "stop_reason": stop_reason,
            "error": error,
            "active_seconds": elapsed,
        }
        try:
            self.writer.flush()
        except StoreError:
            pass  # raised to the caller already, or by finish_run below; the reports still follow
        follower, self.follower = self.follower, None
        try:
            if follower is not None:
                follower.request_finish()  # its last read runs beside the report's summary
            self._write_artifacts(closing, follower)
        finally:
            if follower is not None:
                follower.close()
        self.writer.finish_run(
            self.run_id, status, stop_reason, error, elapsed, ended_at=closing["ended_at"]
        )

    def _prepare(self, restored: set[str] | None) -> list[tuple[ExperimentConfig, Orchestrator]]:
        prepared = []
        resuming = restored is not None
        store = RunStore(self.db) if resuming else None
        stored_samples: set[str] = set()
        try:
            for position, experiment in enumerate(self.suite.experiments):
                if not experiment.enabled:
                    continue
                dataset = self._dataset_of(experiment)
                if dataset is not None and not resuming and dataset.name not in stored_samples:
                    self.writer.add_samples(self.run_id, dataset.name, dataset.samples)
                    stored_samples.add(dataset.name)
                orchestrator = create_orchestrator(
                    experiment,
                    self.suite.seed,
                    self.suite.weights_for(experiment),
                    samples=dataset.ids if dataset is not None else None,
                )
                self.writer.upsert_experiment(
                    self.run_id,
                    position,
                    experiment.name,
                    orchestrator.kind,
                    orchestrator.strategy,
                    orchestrator.variants,
                    orchestrator.planned_trials,
                    dataset=experiment.dataset,
                    dataset_fingerprint=dataset.fingerprint if dataset is not None else None,
                    epochs=experiment.epochs,
                    scoring={
                        "weights": self.suite.weights_for(experiment),
                        "scorers": [label(s) for s in experiment.scorers],
                        "reducer": experiment.reducer,
                        "k": experiment.k,
                    },
                )
                if store is not None:
                    stored = (
                        r for _, r in store.iter_trials(self.run_id, experiment=experiment.name)
                    )
                    orchestrator.restore(self._replay(stored))
                    if restored and experiment.name in restored:
                        continue
                prepared.append((experiment, orchestrator))
        finally:
            if store is not None:
                store.close()
        return prepared

    def _dataset_of(self, experiment: ExperimentConfig) -> Dataset | None:
        return None if experiment.dataset is None else self.suite.dataset(experiment.dataset)

    def _replay(self, results: Any) -> Any:
        for result in results:
            self.budget.record(result)
            self.leaderboard.add(result)
            yield result

    def _notify_start(self, orchestrators: list[tuple[ExperimentConfig, Orchestrator]]) -> int:
        """Tell the listener how many trials the run plans (done ones included); return it."""
        done = self.leaderboard.total
        planned = done + sum(o.planned_trials - o.done for _, o in orchestrators)
        self.listener.on_run_start(self.run_id, planned, done)
        return planned

    def _run_experiment(
        self, experiment: ExperimentConfig, orchestrator: Orchestrator, backend: Backend
    ) -> str | None:
        skip = self.budget.exhausted()
        if skip:
            log.warning("experiment %s skipped: %s", experiment.name, skip)
            self.writer.set_experiment_status(self.run_id, experiment.name, "skipped", skip)
            return skip
        self.writer.set_experiment_status(self.run_id, experiment.name, "running")
        dataset = self._dataset_of(experiment)
        log.info(
            "experiment %s: %s%s over %s, %d trials planned%s",
            experiment.name,
            orchestrator.kind,
            f" ({orchestrator.strategy})" if orchestrator.strategy else "",
            ", ".join(orchestrator.variants),
            orchestrator.planned_trials,
            ""
            if dataset is None
            else f", dataset {dataset.name}: {len(dataset)} samples x {experiment.epochs} epochs",
        )
        try:
            self._stream(experiment, orchestrator, backend)
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt) or self.signals.seen is not None
            status = "interrupted" if interrupted else "failed"
            self.writer.set_experiment_status(self.run_id, experiment.name, status)
            raise
        self._check_stored(experiment, orchestrator)
        reason = orchestrator.stop_reason
        counts = ", ".join(f"{v}={n}" for v, n in orchestrator.choice_counts.items())
        log.info(
            "experiment %s finished (%s); choices: %s",
            experiment.name,
            reason or "all planned trials done",
            counts,
        )
        self.writer.set_experiment_status(self.run_id, experiment.name, "completed", reason)
        return reason

    def _check_stored(self, experiment: ExperimentConfig, orchestrator: Orchestrator) -> None:
        """Refuse to mark an experiment complete unless every trial it ran is in the store."""
        self.writer.flush()
        with RunStore(self.db) as store:
            stored = store.trial_count(self.run_id, experiment.name)
        if stored < orchestrator.done:
            raise StoreError(
                f"experiment {experiment.name}: {orchestrator.done - stored} of "
                f"{orchestrator.done} trials are not in the store; resume the run to re-run them"
            )

    def _stream(
        self, experiment: ExperimentConfig, orchestrator: Orchestrator, backend: Backend
    ) -> None:
        """Store each trial the moment it completes, log failures, tell the listener."""
        store, tally, leaderboard = self.writer.add_trial, self.leaderboard.add, self.leaderboard
        on_trial = self.listener.on_trial
        for result in drive(
            orchestrator,
            backend,
            run_id=self.run_id,
            run_seed=self.suite.seed,
            budget=self.budget,
            dataset=self._dataset_of(experiment),
        ):
            store(result)
            tally(result)
            if result.status != "ok":
                log.warning(
                    "trial %s/%d (%s) %s: %s",
                    experiment.name,
                    result.index,
                    result.variant,
                    result.status,
                    result.error,
                )
            on_trial(result, leaderboard)

    def _write_artifacts(self, closing: dict[str, Any], follower: ResultsFollower | None) -> None:
        try:
            from meta_orchestrator.analysis.report import write_run_artifacts

            write_run_artifacts(
                self.db,
                self.run_id,
                self.out_dir,
                closing=closing,
                follower=follower,
                saving=self.writer,
            )
        except Exception as exc:  # the trials are safe in the store; say so and carry on
            log.error("writing the report for %s failed: %s", self.run_id, exc)


class _StopSignals:
    """While a run runs, SIGINT and SIGTERM stop it the same way: a ``KeyboardInterrupt`` in the
    main thread (``RunTerminated`` for SIGTERM, so the CLI exits 143 rather than 130), and
    ``seen`` remembers which signal came, for when the interrupt surfaces as another error.

    The previous handlers come back on exit. SIGINT still goes through a callable previous handler
    (Python's own raises ``KeyboardInterrupt``); SIGTERM's previous handler is not called (by
    default it kills the process, leaving the run ``running``; Ray's calls ``sys.exit``). A signal
    set to be ignored stays ignored. Only the main thread can install signal handlers: elsewhere
    (the hub used as a library on a worker thread) this watches nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.seen: int | None = None
        self.watched = False  # whether the handlers were installed (main thread only)
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.getsignal(s) for s in self.SIGNALS}
            self.watched = True
            self.reclaim()
        return self

    def reclaim(self) -> None:
        """Install the handlers again: ``ray.init`` replaces SIGTERM's with its own."""
        for signum in self._previous:
            signal.signal(signum, self._handle)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def ray_took_sigterm(self, exc: BaseException) -> bool:
        """Whether ``exc`` is SIGTERM caught by the handler ``ray.init`` installs while it starts
        Ray, before ``reclaim`` puts ours back (it calls ``sys.exit(SIGTERM)``); then it is noted
        as seen. An agent's ``sys.exit`` never gets here: the trial runner records it."""
        if self.watched and isinstance(exc, SystemExit) and exc.code == signal.SIGTERM:
            self.seen = signal.SIGTERM
        return self.seen == signal.SIGTERM

    def interrupt(self) -> KeyboardInterrupt:
        """The exception that stops the run for the signal seen."""
        return RunTerminated() if self.seen == signal.SIGTERM else KeyboardInterrupt()

    def _handle(self, signum: int, frame: Any) -> None:
        self.seen = signum
        previous = self._previous.get(signum)
        if previous == signal.SIG_IGN:
            return
        if signum == signal.SIGINT and callable(previous):
            previous(signum, frame)
            return
        raise self.interrupt()


def _interrupted_error(exc: BaseException) -> str:
    """The run's ``error`` column when a signal stopped it."""
    return "interrupted (SIGTERM)" if isinstance(exc, RunTerminated) else "interrupted (SIGINT)"


class _PrintsToLog(io.TextIOBase):
    """``sys.stdout`` while a run runs: what in-process agents print goes to the run's log, line by
    line, not into the output of whoever called the run (``run --quiet`` prints its run id only)."""

    def __init__(self, writer: StoreWriter, run_id: str) -> None:
        self.writer = writer
        self.run_id = run_id
        self._partial = ""
        self._lock = threading.Lock()
        self._previous: Any = None

    def __enter__(self) -> _PrintsToLog:  # type: ignore[override]
        self._previous, sys.stdout = sys.stdout, self
        return self

    def __exit__(self, *exc: object) -> None:
        if sys.stdout is self:
            sys.stdout = self._previous
        self.flush()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
        for line in lines:
            self.writer.add_log(self.run_id, "INFO", f"stdout: {line}")
        return len(text)

    def flush(self) -> None:
        with self._lock:
            line, self._partial = self._partial, ""
        if line:
            self.writer.add_log(self.run_id, "INFO", f"stdout: {line}")


class _StoreLogHandler(logging.Handler):
    def __init__(self, writer: StoreWriter, run_id: str) -> None:
        super().__init__(logging.INFO)
        self.writer = writer
        self.run_id = run_id

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.add_log(self.run_id, record.levelname, record.getMessage())
        except Exception:  # logging must never break a run
            self.handleError(record)


def _as_config(config: SuiteConfig | str | Path | Mapping[str, Any]) -> SuiteConfig:
    return config if isinstance(config, SuiteConfig) else load_config(config)


def _orchestrator_label(suite: SuiteConfig) -> str:
    kinds = []
    for experiment in suite.enabled_experiments:
        label = experiment.orchestrator
        if experiment.mab_settings is not None and experiment.orchestrator == "mab":
            label = f"mab:{experiment.mab_settings.strategy}"
        if label not in kinds:
            kinds.append(label)
    return "+".join(kinds)


def git_commit(directory: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


__all__ = ["RunListener", "process_alive", "resume_run", "run_experiment_suite"]
