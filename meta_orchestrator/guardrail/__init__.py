"""The CI regression gate: ``meta-orchestrator compare BASELINE CANDIDATE``.

Also runnable as ``python -m meta_orchestrator.guardrail BASELINE CANDIDATE``.
"""

from __future__ import annotations

import argparse


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", help="run directory, results.json, or run id in --db")
    parser.add_argument("candidate", help="run directory, results.json, or run id in --db")
    parser.add_argument("--db", default="results/meta_orchestrator.db", help="store for run ids")
    parser.add_argument("--metric", default="score", help="metric to compare (default: score)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument(
        "--max-regression",
        type=float,
        default=0.0,
        help="relative drop tolerated even when significant (e.g. 0.02 = 2%%)",
    )
    parser.add_argument("--markdown", help="write the comparison as Markdown to this file")
    parser.add_argument("--json", help="write the comparison as JSON to this file")


def run_compare(args: argparse.Namespace) -> int:
    from meta_orchestrator.guardrail.gate import run_compare as _run

    return _run(args)
