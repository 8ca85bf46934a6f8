"""Command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 success; 1 the run failed, or some of its trials ended because a model endpoint kept
failing (``rate_limited`` / ``unavailable``: the results are incomplete), or ``compare`` found a
significant regression; 2 bad config, bad arguments or bad input; 130 interrupted by Ctrl-C (the
run can be resumed); 143 stopped by SIGTERM, handled as Ctrl-C (the run can be resumed).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meta_orchestrator import __version__
from meta_orchestrator.core.paths import store_path
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.errors import MetaOrchestratorError, RunTerminated
from meta_orchestrator.leaderboard import Leaderboard
from meta_orchestrator.listener import RunListener

if TYPE_CHECKING:
    from meta_orchestrator.store import RunRecord

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_CONFIG = "config.yaml"
DB_HELP = "the run store (default: $META_ORCHESTRATOR_DB, else ./results/meta_orchestrator.db)"
RECORDED_RESULTS_HELP = (
    "where <run_id>/ goes (default: the folder the run recorded when it started)"
)
RUN_DB_HELP = (
    "the run store (default: $META_ORCHESTRATOR_DB, else the config's storage.db, "
    "else ./results/meta_orchestrator.db)"
)
RUN_ID_HELP = (
    "RUN_ID is a run id as `runs` lists it, a unique prefix of one (git's short hashes), latest "
    "(the newest run) or latest~N (N runs before it)."
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or EXIT_OK)
    except MetaOrchestratorError as exc:
        err.print("[bold red]error:[/] " + escape(str(exc)))
        return exc.exit_code
    except KeyboardInterrupt as exc:
        err.print("interrupted")
        return _interrupted_code(exc)
    except BrokenPipeError:  # `samples --json | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # an unwritable results folder, a full disk: say so, no traceback
        err.print("[bold red]error:[/] " + escape(str(exc)))
        return EXIT_FAILED


def _interrupted_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM: what a shell reports for a process the signal killed."""
    return RunTerminated.exit_code if isinstance(exc, RunTerminated) else EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meta-orchestrator",
        description="Evaluate and benchmark AI agent variants with honest statistics.",
        epilog=RUN_ID_HELP,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the experiments of a config file")
    _config_argument(run)
    run.add_argument("--db", metavar="PATH", help=RUN_DB_HELP)
    run.add_argument(
        "--results-dir",
        metavar="DIR",
        help="where <run_id>/ folders go (default: the config's storage.results_dir, else the "
        "store's folder)",
    )
    run.add_argument(
        "--seed", type=int, metavar="N", help="the run seed (default: the config's seed)"
    )
    run.add_argument(
        "--limit",
        type=_positive,
        metavar="N",
        help="run only the first N samples of every dataset, after its shuffle (default: all)",
    )
    run.add_argument(
        "--sample",
        action="append",
        dest="samples",
        metavar="ID",
        help="run only this sample of the datasets; repeatable (default: every sample)",
    )
    run.add_argument(
        "--quiet",
        action="store_true",
        help="no progress and no warnings, only errors; stdout is the run id either way "
        "(default: progress on stderr)",
    )
    run.set_defaults(handler=_run)

    resume = commands.add_parser("resume", help="continue an interrupted run to its planned budget")
    _run_id_argument(resume, "the interrupted or failed run")
    resume.add_argument("--db", metavar="PATH", help=DB_HELP)
    resume.add_argument(
        "--results-dir",
        metavar="DIR",
        help=RECORDED_RESULTS_HELP,
    )
    resume.add_argument(
        "--quiet",
        action="store_true",
        help="no progress, only errors (default: progress on stderr)",
    )
    resume.set_defaults(handler=_resume)

    runs = commands.add_parser("runs", help="list past runs in the store, newest first")
    runs.add_argument("--db", metavar="PATH", help=DB_HELP)
    runs.add_argument(
        "--limit",
        type=_positive,
        default=50,
        metavar="N",
        help="show the N newest runs (default: %(default)s)",
    )
    runs.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per run and line, full ids (default: a table on a terminal, plain "
        "columns otherwise)",
    )
    runs.set_defaults(handler=_runs)

    report = commands.add_parser("report", help="print and rewrite a run's summary.md")
    _run_id_argument(report, "the run to report")
    report.add_argument("--db", metavar="PATH", help=DB_HELP)
    report.add_argument(
        "--results-dir",
        metavar="DIR",
        help=RECORDED_RESULTS_HELP,
    )
    report.set_defaults(handler=_report)

    samples = commands.add_parser(
        "samples", help="list a run's results per sample (who passed what, flaky samples)"
    )
    _run_id_argument(samples, "the run whose samples to list")
    samples.add_argument("--db", metavar="PATH", help=DB_HELP)
    samples.add_argument(
        "--experiment", metavar="E", help="the experiment (default: every one with a dataset)"
    )
    samples.add_argument("--variant", metavar="V", help="only this variant (default: all)")
    samples.add_argument(
        "--failing",
        action="store_true",
        help="only samples a variant failed at least once (default: every sample)",
    )
    samples.add_argument(
        "--json", action="store_true", help="one JSON object per sample and line (default: a table)"
    )
    samples.set_defaults(handler=_samples)

    variants = commands.add_parser(
        "variants", help="list the config's variants and registered agents"
    )
    _config_argument(variants)
    variants.set_defaults(handler=_variants)

    compare = commands.add_parser(
        "compare", help="compare two runs; exit 1 on a significant regression beyond the budget"
    )
    _compare_arguments(compare)
    compare.set_defaults(handler=_compare)

    power = commands.add_parser(
        "power", help="trials the benchmark needs for the gate to catch a drop (power analysis)"
    )
    _power_arguments(power)
    power.set_defaults(handler=_power)

    dashboard = commands.add_parser("dashboard", help="start the live Streamlit dashboard")
    dashboard.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; beyond loopback (0.0.0.0) it needs --allow-remote "
        "(default: %(default)s)",
    )
    dashboard.add_argument(
        "--port", type=int, default=8501, metavar="N", help="port (default: %(default)s)"
    )
    dashboard.add_argument("--db", metavar="PATH", help=DB_HELP)
    dashboard.add_argument(
        "--config-dir",
        default=".",
        metavar="DIR",
        help="where the Launch page finds config files (default: the current folder)",
    )
    dashboard.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host beyond loopback, with a warning: anyone with the token can then "
        "launch runs (default: refuse, exit 2)",
    )
    dashboard.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="a Host name the dashboard answers besides the loopback names (repeatable; '*': "
        "any; default: loopback names and --host only)",
    )
    dashboard.set_defaults(handler=_dashboard)

    serve = commands.add_parser(
        "serve-model", help="serve SmolLM2-135M-Instruct on 127.0.0.1 (llama.cpp, OpenAI API)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, metavar="N", help="port (default: %(default)s)"
    )
    serve.add_argument(
        "--threads", type=int, metavar="N", help="llama.cpp threads (default: half the cores)"
    )
    serve.set_defaults(handler=_serve_model)
    return parser


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="the config file (default: %(default)s)",
    )


def _run_id_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "run_id", metavar="RUN_ID", help=f"{what}: a run id, a unique prefix, latest or latest~N"
    )


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "baseline",
        metavar="BASELINE",
        help="the reference run: a run folder, its results.json, or a RUN_ID in --db",
    )
    parser.add_argument(
        "candidate",
        metavar="CANDIDATE",
        help="the run under test: a run folder, its results.json, or a RUN_ID in --db",
    )
    parser.add_argument(
        "--db", metavar="PATH", help="run store in which run ids are looked up; " + DB_HELP[4:]
    )
    parser.add_argument(
        "--metric",
        default="score",
        help="metric to compare: score, success, cost, latency or any recorded metric "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise false-alarm rate across variants (Holm); default %(default)s",
    )
    parser.add_argument(
        "--max-regression",
        type=float,
        default=0.0,
        help="the budget: a relative worsening tolerated even when significant "
        "(0.02 = 2%%; default %(default)s)",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="judge a baseline or candidate run that is not completed (default: refuse, exit 2)",
    )
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument(
        "--higher-is-better",
        dest="higher_is_better",
        action="store_const",
        const=True,
        default=None,
        help="treat a lower metric as worse (default for every metric but latency and cost)",
    )
    direction.add_argument(
        "--lower-is-better",
        dest="higher_is_better",
        action="store_const",
        const=False,
        help="treat a higher metric as worse (default for latency and cost)",
    )
    parser.add_argument(
        "--allow-different-samples",
        action="store_true",
        help="compare runs whose datasets differ (fingerprints) with unpaired Welch tests "
        "(default: refuse, exit 2)",
    )
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        help="also write the comparison as Markdown to this file (default: not written)",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="also write the comparison as JSON to this file (default: not written)",
    )


def _power_arguments(parser: argparse.ArgumentParser) -> None:
    from meta_orchestrator.guardrail import defaults as power  # not .power: it loads scipy

    parser.add_argument(
        "config",
        nargs="?",
        default="benchmark_config.yaml",
        metavar="CONFIG",
        help="the benchmark config whose variants are piloted (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=power.DEFAULT_ALPHA,
        help="the gate's family-wise false-alarm rate (default: %(default)s)",
    )
    parser.add_argument(
        "--drop",
        type=float,
        default=power.DEFAULT_DROP,
        help="relative drop to detect (default: %(default)s)",
    )
    parser.add_argument(
        "--max-regression",
        type=float,
        default=power.DEFAULT_BUDGET,
        help="the gate's budget (default: %(default)s)",
    )
    parser.add_argument(
        "--power",
        type=float,
        default=power.DEFAULT_POWER,
        help="the chance of catching the drop that is required (default: %(default)s)",
    )
    parser.add_argument(
        "--pilot-trials",
        type=int,
        default=power.DEFAULT_PILOT_TRIALS,
        help="pilot trials per variant (default: %(default)s)",
    )


# ------------------------------------------------------------------------------------ handlers
def _run(args: argparse.Namespace) -> int:
    from meta_orchestrator.core.config import load_config
    from meta_orchestrator.hub import run_experiment_suite

    config = load_config(args.config)  # ConfigError -> exit 2 before anything is written
    return _execute(
        lambda listener: run_experiment_suite(
            config,
            db_path=args.db,
            results_dir=args.results_dir,
            seed=args.seed,
            listener=listener,
            limit=args.limit,
            sample_ids=args.samples,
        ),
        args.quiet,
        store_path(args.db, config),
        args.results_dir,
    )


def _resume(args: argparse.Namespace) -> int:
    from meta_orchestrator.hub import resume_run

    db = store_path(args.db)
    run_id = _resolve(db, args.run_id)
    return _execute(
        lambda listener: resume_run(
            run_id, db_path=db, results_dir=args.results_dir, listener=listener
        ),
        args.quiet,
        db,
        args.results_dir,
    )


def _resolve(db: Path, ref: str) -> str:
    """The full run id a RUN_ID argument names (``RunStore.resolve_run_id``: prefix, latest~N)."""
    from meta_orchestrator.store import RunStore

    with RunStore(db) as store:
        return store.resolve_run_id(ref)


def _execute(
    start: Callable[[RunListener], str], quiet: bool, db: Path, results_dir: str | None
) -> int:
    """Run, then print the run id alone on stdout and where its outputs are on stderr.

    Exit 1 when the run failed, when it ran trials and none of them succeeded, or when some
    trials ended because a model endpoint kept failing (``rate_limited`` / ``unavailable``).
    """
    from meta_orchestrator.progress import progress_for

    _log_to(err, quiet)
    listener = _RunIdListener(None if quiet else progress_for(err))
    try:
        with _stdout_to_stderr():
            run_id = start(listener)
    except KeyboardInterrupt as exc:
        if listener.run_id:
            err.print(f"run {listener.run_id} interrupted; completed trials are kept.")
            err.print(f"continue it with: {_resume_command(listener.run_id, db)}")
            print(listener.run_id)
        return _interrupted_code(exc)
    except MetaOrchestratorError:
        raise
    except Exception as exc:
        err.print(f"[bold red]run failed:[/] {escape(type(exc).__name__ + ': ' + str(exc))}")
        if listener.run_id:
            err.print(f"completed trials are kept in run {listener.run_id}")
        return EXIT_FAILED
    print(run_id, flush=True)
    return _after_run(db, run_id, results_dir)


def _after_run(db: Path, run_id: str, results_dir: str | None) -> int:
    from meta_orchestrator.analysis.report import SUMMARY_FILE
    from meta_orchestrator.analysis.summary import no_trial_succeeded
    from meta_orchestrator.core.llm.retry import TRANSIENT_KINDS
    from meta_orchestrator.core.paths import results_root
    from meta_orchestrator.store import RunStore

    with RunStore(db) as store:
        record = store.get_run(run_id)
        failed_all = no_trial_succeeded(store, run_id)
        lost = {k: n for k, n in store.error_kind_counts(run_id).items() if k in TRANSIENT_KINDS}
    root = results_root(results_dir, store=db, recorded=record.results_dir)
    summary = root / run_id / SUMMARY_FILE
    if summary.is_file():
        err.print(f"summary: {escape(str(summary))}")
    else:  # the report failed; the hub logged why, and the trials are in the store
        err.print(f"summary.md was not written; `meta-orchestrator report {run_id}` retries it")
    if lost:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(lost.items()))
        err.print(
            f"[bold red]incomplete:[/] {sum(lost.values())} trial(s) ended because the model "
            f"endpoint kept failing ({counts}); see the summary's endpoint failures"
        )
    if failed_all:
        err.print(
            f"[bold red]no trial succeeded:[/] all {record.trials} trials of run {run_id} failed; "
            "no variant leads (the errors are in the summary and `meta-orchestrator report`)"
        )
    if lost or failed_all:
        return EXIT_FAILED
    return EXIT_OK


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """While a run runs, file descriptor 1 is stderr: whatever writes there (an agent's C library,
    a Ray worker, a child process) cannot mix with the run id, the only thing ``run`` prints on
    stdout. Python-level prints of in-process agents go to the run's log (the hub)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all: nothing to protect
        yield
        return
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _resume_command(run_id: str, db: Path) -> str:
    """The command that resumes ``run_id``; with ``--db`` unless the store is the default one."""
    import shlex

    command = f"meta-orchestrator resume {run_id}"
    if db.resolve() != store_path(None).resolve():
        command += f" --db {shlex.quote(str(db.resolve()))}"
    return command


def _log_to(console: Console, quiet: bool) -> None:
    """Run warnings (failed trials, budget stops) print above the progress bar, not through it.

    On a terminal rich lays them out; in a log (CI, a pipe) each is one plain, unwrapped line.
    Each command replaces the handler an earlier one (in this process) installed.
    """
    from rich.logging import RichHandler

    logger = logging.getLogger("meta_orchestrator")
    for old in [h for h in logger.handlers if isinstance(h, RichHandler | _PlainLogHandler)]:
        logger.removeHandler(old)
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    else:
        handler = _PlainLogHandler(console)
    handler.setLevel(logging.ERROR if quiet else logging.WARNING)
    logger.addHandler(handler)


class _PlainLogHandler(logging.Handler):
    """``WARNING message`` on one line of the console's current file (a log greps well)."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(record.getMessage().splitlines())
            self.console.file.write(f"{record.levelname} {text}\n")
            self.console.file.flush()
        except Exception:  # logging must never break a run
            self.handleError(record)


class _RunIdListener(RunListener):
    """Remembers the run id (for the interrupt message) and forwards to the progress bar."""

    def __init__(self, inner: RunListener | None) -> None:
        self.inner = inner or RunListener()
        self.run_id: str | None = None

    def on_run_start(self, run_id: str, planned: int, done: int) -> None:
        self.run_id = run_id
        self.inner.on_run_start(run_id, planned, done)

    def on_trial(self, result: TrialResult, leaderboard: Leaderboard) -> None:
        self.inner.on_trial(result, leaderboard)

    def on_run_end(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.inner.on_run_end(run_id, status)


RUNS_COLUMNS = ("id", "name", "status", "started", "trials", "orchestrator", "leader")


def _runs(args: argparse.Namespace) -> int:
    import json

    from meta_orchestrator.analysis.saved_summary import leader_of
    from meta_orchestrator.store import RunStore
    from meta_orchestrator.store.ownership import display_status

    db = store_path(args.db)
    with RunStore(db) as store:
        records = store.list_runs(limit=args.limit)
        leaders = [leader_of(store, record) for record in records]
    if args.json:
        for record, leader in zip(records, leaders, strict=True):
            print(json.dumps(_run_json(record, leader), ensure_ascii=False))
        return EXIT_OK
    if not records:
        err.print(f"no runs in {escape(str(db))} yet")
        return EXIT_OK
    rows = [
        (
            r.id,
            r.name,
            display_status(r),
            _date(r.started_at),
            f"{r.trials}/{r.planned_trials}",
            r.orchestrator,
            leader or "-",
        )
        for r, leader in zip(records, leaders, strict=True)
    ]
    if out.is_terminal:
        _runs_table(rows)
    else:
        _runs_plain(rows)
    for record in records:  # its process was killed or crashed: it will never finish by itself
        if display_status(record) == "dead":
            err.print(
                f"run {record.id} is dead; continue it with: {_resume_command(record.id, db)}"
            )
    return EXIT_OK


def _runs_table(rows: list[tuple[str, ...]]) -> None:
    table = Table(*RUNS_COLUMNS)
    for column in table.columns:  # on a narrow terminal cells wrap; none is cut
        column.overflow = "fold"
    table.columns[0].no_wrap = True  # an id is what the user copies: one piece, never cut
    table.columns[0].min_width = max(len(row[0]) for row in rows)
    for row in rows:
        table.add_row(*map(escape, row))
    out.print(table)


def _runs_plain(rows: list[tuple[str, ...]]) -> None:
    """A pipe or a log: aligned columns with a header, nothing cut (like ``docker ps``)."""
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(RUNS_COLUMNS)]
    for row in (RUNS_COLUMNS, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _run_json(record: RunRecord, leader: str | None) -> dict[str, Any]:
    """One run of ``runs --json``: the full id and what the table shows, as values, not text."""
    from meta_orchestrator.store.ownership import display_status

    return {
        "id": record.id,
        "name": record.name,
        "status": display_status(record),  # "dead": running, but its process is gone
        "started_at": _iso(record.started_at),
        "ended_at": None if record.ended_at is None else _iso(record.ended_at),
        "trials": record.trials,
        "planned_trials": record.planned_trials,
        "orchestrator": record.orchestrator,
        "backend": record.backend,
        "seed": record.seed,
        "leader": leader,
        "results_dir": record.results_dir,
        "stop_reason": record.stop_reason,
        "error": record.error,
    }


def _report(args: argparse.Namespace) -> int:
    from meta_orchestrator.analysis.report import write_run_artifacts

    db = store_path(args.db)
    run_dir = write_run_artifacts(db, _resolve(db, args.run_id), args.results_dir)
    markdown = (run_dir / "summary.md").read_text(encoding="utf-8")
    if out.is_terminal:
        out.print(_terminal_markdown(markdown))
    else:  # piped or redirected: the file's exact text, for a PR comment or another tool
        sys.stdout.write(markdown)
    err.print(f"wrote {escape(str(run_dir))}")
    return EXIT_OK


def _terminal_markdown(markdown: str) -> Any:
    """summary.md rendered by rich; its folded ``<details>`` blocks (for GitHub) become headings,
    since a terminal shows no HTML."""
    import re

    from rich.markdown import Markdown

    unfolded = re.sub(r"<details>\n<summary>(.*?)</summary>", r"#### \1", markdown)
    return Markdown(unfolded.replace("</details>", ""))


def _samples(args: argparse.Namespace) -> int:
    import json

    from meta_orchestrator.analysis.samples import sample_rows
    from meta_orchestrator.errors import ConfigError
    from meta_orchestrator.store import RunStore

    with RunStore(store_path(args.db)) as store:
        run_id = store.resolve_run_id(args.run_id)  # RunNotFoundError -> exit 2
        records = [e for e in store.experiments(run_id) if e.dataset is not None]
        if args.experiment is not None:
            records = [e for e in records if e.name == args.experiment]
        if not records:
            which = f"experiment '{args.experiment}'" if args.experiment else "experiment"
            raise ConfigError(f"run {run_id} has no {which} on a dataset")
        for record in records:
            if args.variant is not None and args.variant not in record.variants:
                raise ConfigError(
                    f"--variant: '{args.variant}' is not in experiment '{record.name}' "
                    f"({', '.join(record.variants)})"
                )
            rows = sample_rows(store, record, variant=args.variant, failing=args.failing)
            reducer = str(record.scoring.get("reducer") or "mean")
            k = int(record.scoring.get("k") or record.epochs)
            if args.json:
                for row in rows:
                    line = {"experiment": record.name, **row.to_dict(reducer, k)}
                    print(json.dumps(line, ensure_ascii=False))
                continue
            _samples_table(record, rows, args.variant)
    return EXIT_OK


def _samples_table(record: Any, rows: Any, variant: str | None) -> None:
    names = [variant] if variant else list(record.variants)
    table = Table(
        "sample", "input", "target", *names, title=f"{record.name} · dataset {record.dataset}"
    )
    shown = 0
    for row in rows:
        by_variant = {o.variant: o for o in row.outcomes}
        cells = [
            f"{by_variant[n].successes}/{by_variant[n].trials}" if n in by_variant else "-"
            for n in names
        ]
        table.add_row(
            escape(row.sample.id),
            escape(_brief(row.sample.input)),
            escape(_brief(row.sample.target)),
            *cells,
        )
        shown += 1
    out.print(table)
    out.print(f"{shown} sample{'' if shown == 1 else 's'} (passes / attempts per variant)")


def _brief(value: Any, width: int = 48) -> str:
    import json

    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _variants(args: argparse.Namespace) -> int:
    from meta_orchestrator.core.config import load_config
    from meta_orchestrator.core.kinds import kind_of  # loads the kinds and the built-in agents
    from meta_orchestrator.core.registry import registered

    if Path(args.config).is_file():
        config = load_config(args.config)
        table = Table("variant", "type", "runs", "description", title=f"{args.config}")
        for name, variant in config.variants.items():
            table.add_row(
                name, variant.type, kind_of(variant).describe(variant), variant.description
            )
        out.print(table)
    else:
        err.print(f"({args.config} not found: showing registered agents only)")
    table = Table("registered agent", "import path", "description", title="registry")
    for entry in registered().values():
        table.add_row(entry.name, entry.import_path, entry.description)
    out.print(table)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from meta_orchestrator.guardrail.gate import run_compare

    return run_compare(
        args.baseline,
        args.candidate,
        db=store_path(args.db),
        metric=args.metric,
        alpha=args.alpha,
        max_regression=args.max_regression,
        higher_is_better=args.higher_is_better,
        allow_different_samples=args.allow_different_samples,
        markdown=args.markdown,
        json_path=args.json,
        allow_partial=args.allow_partial,
    )


def _power(args: argparse.Namespace) -> int:
    from meta_orchestrator.guardrail.power import report

    return report(
        args.config,
        alpha=args.alpha,
        drop=args.drop,
        budget=args.max_regression,
        power=args.power,
        pilot_trials=args.pilot_trials,
    )


def _dashboard(args: argparse.Namespace) -> int:
    from meta_orchestrator.dashboard import launch

    return launch(
        host=args.host,
        port=args.port,
        db=store_path(args.db),
        config_dir=args.config_dir,
        allow_remote=args.allow_remote,
        allowed_hosts=args.allow_host or [],
        announce=lambda line: err.print(escape(line), soft_wrap=True),
    )


def _serve_model(args: argparse.Namespace) -> int:
    from meta_orchestrator.core.llm.server import start_local_model

    err.print(f"starting the local model server on 127.0.0.1:{args.port} ...")
    server = start_local_model(args.port, threads=args.threads, quiet=False)
    try:
        err.print(
            f"serving SmolLM2-135M-Instruct at {server.base_url} as model '{server.model}' "
            f"(pid {server.pid}); Ctrl-C stops it"
        )
        code = server.wait()
        err.print(f"[bold red]error:[/] the model server exited with code {code}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("stopping the model server")
        return EXIT_OK
    finally:
        server.stop()


def _date(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _iso(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(timespec="seconds")


if __name__ == "__main__":
    sys.exit(main())
