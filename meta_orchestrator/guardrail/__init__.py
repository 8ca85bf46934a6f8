"""The CI regression gate: ``meta-orchestrator compare BASELINE CANDIDATE``.

Also runnable as ``python -m meta_orchestrator.guardrail BASELINE CANDIDATE``. The comparison itself
(the statistics, the verdicts, the Markdown) lives in ``meta_orchestrator.analysis.compare``; this
package holds the command (``gate``) and the benchmark's power analysis (``power``).

Exit codes: 0 no significant regression beyond the budget, 1 at least one, 2 bad input.
"""

from __future__ import annotations

import argparse


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "baseline", help="the reference run: a run folder, its results.json, or a run id in --db"
    )
    parser.add_argument(
        "candidate", help="the run under test: a run folder, its results.json, or a run id in --db"
    )
    parser.add_argument(
        "--db",
        default="results/meta_orchestrator.db",
        help="run store in which BASELINE / CANDIDATE run ids are looked up (default: %(default)s)",
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
    parser.add_argument("--markdown", help="write the comparison as Markdown to this file")
    parser.add_argument("--json", help="write the comparison as JSON to this file")


def run_compare(args: argparse.Namespace) -> int:
    from meta_orchestrator.guardrail.gate import run_compare as _run

    return _run(args)
