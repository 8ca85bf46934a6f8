"""Command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 success; 1 the run failed (or ``compare`` found a significant regression);
2 bad config, bad arguments or bad input; 130 interrupted by Ctrl-C (the run can be resumed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from meta_orchestrator import __version__
from meta_orchestrator.errors import MetaOrchestratorError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_CONFIG = "config.yaml"
DEFAULT_DB = "results/meta_orchestrator.db"

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
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:  # an unwritable results folder, a full disk: say so, no traceback
        err.print("[bold red]error:[/] " + escape(str(exc)))
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meta-orchestrator",
        description="Evaluate and benchmark AI agent variants with honest statistics.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the experiments of a config file")
    run.add_argument(
        "-c", "--config", default=DEFAULT_CONFIG, help="config file (default: %(default)s)"
    )
    run.add_argument("--db", help="run store (default: the config's storage.db)")
    run.add_argument(
        "--results-dir", help="where results/<run_id>/ go (default: storage.results_dir)"
    )
    run.add_argument("--seed", type=int, help="override the config's seed")
    run.add_argument("--quiet", action="store_true", help="no progress bar; print only the run id")
    run.set_defaults(handler=_run)

    resume = commands.add_parser("resume", help="continue an interrupted run to its planned budget")
    resume.add_argument("run_id")
    resume.add_argument("--db", default=DEFAULT_DB, help="run store (default: %(default)s)")
    resume.add_argument("--results-dir", help="where results/<run_id>/ go")
    resume.add_argument("--quiet", action="store_true")
    resume.set_defaults(handler=_resume)

    runs = commands.add_parser("runs", help="list past runs in the store")
    runs.add_argument("--db", default=DEFAULT_DB, help="run store (default: %(default)s)")
    runs.add_argument("--limit", type=int, default=50)
    runs.set_defaults(handler=_runs)

    report = commands.add_parser("report", help="print and rewrite a run's summary.md")
    report.add_argument("run_id")
    report.add_argument("--db", default=DEFAULT_DB, help="run store (default: %(default)s)")
    report.add_argument("--results-dir", default="results", help="(default: %(default)s)")
    report.set_defaults(handler=_report)

    variants = commands.add_parser(
        "variants", help="list the config's variants and registered agents"
    )
    variants.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    variants.set_defaults(handler=_variants)

    compare = commands.add_parser(
        "compare", help="compare two runs; exit 1 on a significant regression beyond the budget"
    )
    from meta_orchestrator.guardrail import add_compare_arguments

    add_compare_arguments(compare)
    compare.set_defaults(handler=_compare)

    dashboard = commands.add_parser("dashboard", help="start the live Streamlit dashboard")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8501)
    dashboard.add_argument("--db", default=DEFAULT_DB)
    dashboard.add_argument("--config-dir", default=".", help="where the launcher finds configs")
    dashboard.set_defaults(handler=_dashboard)
    return parser


# ------------------------------------------------------------------------------------ handlers
def _run(args: argparse.Namespace) -> int:
    from meta_orchestrator.experiment_hub.config import load_config
    from meta_orchestrator.hub import run_experiment_suite

    config = load_config(args.config)  # ConfigError -> exit 2 before anything is written
    return _execute(
        lambda listener: run_experiment_suite(
            config,
            db_path=args.db,
            results_dir=args.results_dir,
            seed=args.seed,
            listener=listener,
        ),
        args.quiet,
    )


def _resume(args: argparse.Namespace) -> int:
    from meta_orchestrator.hub import resume_run

    return _execute(
        lambda listener: resume_run(
            args.run_id, db_path=args.db, results_dir=args.results_dir, listener=listener
        ),
        args.quiet,
    )


def _execute(start, quiet: bool) -> int:  # type: ignore[no-untyped-def]
    from meta_orchestrator.experiment_hub.progress import RichProgress

    _log_to(err, quiet)
    listener = _RunIdListener(None if quiet else RichProgress(err))
    try:
        run_id = start(listener)
    except KeyboardInterrupt:
        if listener.run_id:
            err.print(f"run {listener.run_id} interrupted; completed trials are kept.")
            err.print(f"continue it with: meta-orchestrator resume {listener.run_id}")
            print(listener.run_id)
        return EXIT_INTERRUPTED
    except MetaOrchestratorError:
        raise
    except Exception as exc:
        err.print(f"[bold red]run failed:[/] {escape(type(exc).__name__ + ': ' + str(exc))}")
        if listener.run_id:
            err.print(f"completed trials are kept in run {listener.run_id}")
        return EXIT_FAILED
    print(run_id)
    return EXIT_OK


def _log_to(console: Console, quiet: bool) -> None:
    """Run warnings (failed trials, budget stops) print above the progress bar, not through it."""
    import logging

    from rich.logging import RichHandler

    logger = logging.getLogger("meta_orchestrator")
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
        handler.setLevel(logging.ERROR if quiet else logging.WARNING)
        logger.addHandler(handler)


class _RunIdListener:
    """Remembers the run id (for the interrupt message) and forwards to the progress bar."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.run_id: str | None = None

    def on_run_start(self, run_id: str, planned: int, done: int) -> None:
        self.run_id = run_id
        if self.inner:
            self.inner.on_run_start(run_id, planned, done)

    def on_trial(self, result, leaderboard) -> None:  # type: ignore[no-untyped-def]
        if self.inner:
            self.inner.on_trial(result, leaderboard)

    def on_run_end(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        if self.inner:
            self.inner.on_run_end(run_id, status)


def _runs(args: argparse.Namespace) -> int:
    from meta_orchestrator.analysis.summary import run_leader
    from meta_orchestrator.store import RunStore

    with RunStore(args.db) as store:
        records = store.list_runs(limit=args.limit)
        if not records:
            out.print(f"no runs in {args.db} yet")
            return EXIT_OK
        table = Table("id", "name", "status", "started", "trials", "orchestrator", "leader")
        for record in records:
            leader = run_leader(store, record.id)
            table.add_row(
                record.id,
                record.name,
                record.status,
                _date(record.started_at),
                f"{record.trials}/{record.planned_trials}",
                record.orchestrator,
                leader or "-",
            )
    out.print(table)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from meta_orchestrator.analysis.report import write_run_artifacts

    run_dir = write_run_artifacts(args.db, args.run_id, args.results_dir)
    print((run_dir / "summary.md").read_text(encoding="utf-8"))
    err.print(f"wrote {run_dir}")
    return EXIT_OK


def _variants(args: argparse.Namespace) -> int:
    from meta_orchestrator.experiment_hub.config import load_config
    from meta_orchestrator.experiment_hub.registry import registered

    if Path(args.config).is_file():
        config = load_config(args.config)
        table = Table("variant", "type", "agent / command", "description", title=f"{args.config}")
        for name, variant in config.variants.items():
            target = getattr(variant, "agent", None) or " ".join(getattr(variant, "command", []))
            table.add_row(name, variant.type, target or "simulated", variant.description)
        out.print(table)
    else:
        err.print(f"({args.config} not found: showing registered agents only)")
    table = Table("registered agent", "import path", "description", title="registry")
    for entry in registered().values():
        table.add_row(entry.name, entry.import_path, entry.description)
    out.print(table)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from meta_orchestrator.guardrail import run_compare

    return run_compare(args)


def _dashboard(args: argparse.Namespace) -> int:
    from meta_orchestrator.dashboard import launch

    return launch(host=args.host, port=args.port, db=args.db, config_dir=args.config_dir)


def _date(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


if __name__ == "__main__":
    sys.exit(main())
