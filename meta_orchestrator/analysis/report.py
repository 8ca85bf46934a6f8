"""A run's artifacts: ``summary.md`` for people, ``results.json`` for programs, the config snapshot.

``write_run_artifacts`` writes all three into ``<out_dir>/<run_id>/``; the hub calls it at the end of
every run (completed, failed or interrupted) and ``meta-orchestrator report RUN_ID`` calls it again.
Each file is replaced atomically, so a reader never sees half of one. The hub also keeps the
summary it computed in the store (``analysis.saved_summary``), for the dashboard and ``runs``.

``results.json`` (``"format": "meta-orchestrator/results"``, ``"format_version": 1``) holds ``run``
(every ``RunRecord`` field), ``scoring_weights``, ``experiments`` (config, choice counts, ranked
``summary`` rows and ``comparisons``, as produced by ``summarize_run``; on a dataset also its name,
fingerprint and per-sample section), ``samples`` (every sample of the run's datasets:
``{"dataset", "id", "input", "target", "metadata"}``, in order) and ``trials`` (every
``TrialResult.to_dict()`` in commit order, each with its ``sample_id`` and ``epoch``). ``meta-orchestrator compare`` reads it back with
``load_results_json``. Trials are streamed from the store into the file, never held in memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from meta_orchestrator.analysis.formatting import (
    DASH,
    code_span,
    escape_text,
    format_duration,
    format_interval,
    format_number,
    format_p_value,
    format_percent,
    rule_of_three,
)
from meta_orchestrator.analysis.results_follower import FollowedTrials, ResultsFollower
from meta_orchestrator.analysis.samples import SampleNote, SampleSummary
from meta_orchestrator.analysis.saved_summary import save_summary
from meta_orchestrator.analysis.stats import MIN_TRIALS_FOR_TEST
from meta_orchestrator.analysis.summary import (
    NOT_ENOUGH_TRIALS,
    ExperimentSummary,
    PairwiseComparison,
    RunSummary,
    VariantSummary,
    summarize_run,
)
from meta_orchestrator.core.paths import results_root
from meta_orchestrator.errors import ComparisonError, RunNotFoundError
from meta_orchestrator.store import RunRecord, RunStore, StoreWriter

RESULTS_FORMAT = "meta-orchestrator/results"
RESULTS_FORMAT_VERSION = 1
RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.md"
CONFIG_FILE = "config.yaml"

_BAR_WIDTH = 20


# ------------------------------------------------------------------------------------- artifacts
def write_run_artifacts(
    db_path: str | Path,
    run_id: str,
    out_dir: str | Path | None = None,
    *,
    closing: Mapping[str, Any] | None = None,
    follower: ResultsFollower | None = None,
    saving: StoreWriter | None = None,
) -> Path:
    """Write ``results.json``, ``summary.md`` and ``config.yaml`` for a run; return their folder.

    ``out_dir`` holds the run's folder; ``None`` means where the run recorded its outputs
    (``core.paths.results_root``). ``closing`` (status, ended_at, ...) is what the run's record is
    about to become: the hub writes the reports before it marks a run completed, so a kill -9 in
    between never leaves a completed run without them. ``follower`` is the run's
    ``ResultsFollower``, if it has one: the trials it has written already are copied, not read
    again. ``saving`` is the run's own writer: the summary is kept in the store for readers
    (``analysis.saved_summary``) for the trial count and closing status it holds for. Raises
    ``StoreError`` / ``RunNotFoundError`` if the store or the run does not exist.
    """
    db = Path(db_path)
    with RunStore(db) as store, store.snapshot():
        summary = summarize_run(store, run_id)
        if closing:
            summary.run = dataclasses.replace(summary.run, **closing)
        root = results_root(out_dir, store=db, recorded=summary.run.results_dir)
        run_dir = root / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        followed = follower.written(store, run_id) if follower is not None else None
        _write_results(store, summary, run_dir / RESULTS_FILE, followed)
    with atomic_write(run_dir / SUMMARY_FILE) as out:
        out.write(render_summary_markdown(summary))
    with atomic_write(run_dir / CONFIG_FILE) as out:
        out.write(summary.run.config_yaml)
    if saving is not None:
        save_summary(saving, summary)
    return run_dir


def write_results_json(store: RunStore, run_id: str, path: str | Path) -> Path:
    """Write a run's ``results.json`` to ``path`` (atomically) and return the path."""
    target = Path(path)
    with store.snapshot():
        _write_results(store, summarize_run(store, run_id), target)
    return target


def load_results_json(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` (or the run folder holding one) and check that it is one.

    Raises ``RunNotFoundError`` if there is no such file and ``ComparisonError`` if the file is not
    a meta-orchestrator results file or was written by a newer version.
    """
    file = Path(path)
    if file.is_dir():
        file = file / RESULTS_FILE
    if not file.is_file():
        raise RunNotFoundError(
            f"no results file at {file}: pass a run folder or its {RESULTS_FILE}"
        )
    not_results = f"{file} is not a meta-orchestrator results file"
    try:
        with file.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ComparisonError(f"{not_results}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise ComparisonError(
            f'{not_results} (expected "format": "{RESULTS_FORMAT}"; every run writes one to '
            f"<results_dir>/<run_id>/{RESULTS_FILE})"
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version > RESULTS_FORMAT_VERSION:
        raise ComparisonError(
            f"{file} has results format version {version!r}; this meta-orchestrator reads version "
            f"{RESULTS_FORMAT_VERSION}: upgrade meta-orchestrator"
        )
    for key, kind, kind_name in (
        ("run", dict, "object"),
        ("experiments", list, "list"),
        ("trials", list, "list"),
    ):
        if not isinstance(data.get(key), kind):
            raise ComparisonError(f"{file} is damaged: '{key}' must be a JSON {kind_name}")
    return data


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[TextIO]:
    """Write text to a temporary file beside ``path`` and ``os.replace`` it on success.

    On any error the temporary file is removed and ``path`` keeps its old content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_results(
    store: RunStore, summary: RunSummary, path: Path, followed: FollowedTrials | None = None
) -> None:
    head = {
        "format": RESULTS_FORMAT,
        "format_version": RESULTS_FORMAT_VERSION,
        "run": dataclasses.asdict(summary.run),
        "scoring_weights": summary.scoring_weights,
        "experiments": [e.to_dict() for e in summary.experiments],
    }
    head_text = json.dumps(_json_safe(head), indent=2, allow_nan=False)
    with atomic_write(path) as out:
        out.write(head_text[: -len("\n}")])  # reopen the object to stream "samples" and "trials"
        out.write(',\n  "samples": [')
        separator = "\n    "
        for dataset in store.datasets(summary.run.id):
            for sample in store.samples(summary.run.id, dataset):
                out.write(separator)
                out.write(_trial_json({"dataset": dataset, **sample.to_dict()}))
                separator = ",\n    "
        out.write("\n  ],")
        out.write('\n  "trials": [')
        separator = "\n    "
        after_seq = 0
        if followed is not None and followed.count:
            out.write(separator)
            out.flush()
            followed.copy_to(out.buffer)  # type: ignore[attr-defined]
            separator, after_seq = ",\n    ", followed.last_seq
        for batch in store.trial_json_batches(summary.run.id, after_seq=after_seq):
            out.write(separator)
            out.write(",\n    ".join(batch))
            separator = ",\n    "
        out.write("\n  ]\n}\n")


def _trial_json(trial: dict[str, Any]) -> str:
    try:
        return json.dumps(trial, allow_nan=False)
    except ValueError:
        return json.dumps(_json_safe(trial), allow_nan=False)


def _json_safe(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by ``null``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# ------------------------------------------------------------------------------------- markdown
def render_summary_markdown(summary: RunSummary) -> str:
    """The run as Markdown that reads well as a GitHub pull-request comment."""
    run = summary.run
    parts = [
        f"## meta-orchestrator run: {escape_text(run.name)} ({code_span(run.id)})",
        _metadata(summary),
    ]
    if not summary.experiments:
        parts.append("_No experiment started: the run recorded no trials._")
    parts.extend(
        _experiment_section(e, summary.scoring_weights, run.id) for e in summary.experiments
    )
    parts.append(_config_block(run.config_yaml))
    return "\n\n".join(parts) + "\n"


def _metadata(summary: RunSummary) -> str:
    run = summary.run
    lines = [
        f"- **Status:** {escape_text(run.status)}" + _no_success_note(summary),
        f"- **Orchestrator:** {code_span(run.orchestrator)} · "
        f"**Backend:** {code_span(run.backend)} · **Seed:** {run.seed}",
        f"- **Trials:** {run.trials} done of {run.planned_trials} planned",
        f"- **Started:** {_time(run.started_at)} · **Ended:** {_ended(run)}",
        f"- **Version:** meta-orchestrator {escape_text(run.package_version)} · **Git commit:** "
        + (code_span(run.git_commit[:12]) if run.git_commit else "unknown"),
        f"- **Stop reason:** {escape_text(run.stop_reason) if run.stop_reason else 'none'}",
    ]
    if run.error:
        lines.append(f"- **Error:** {escape_text(run.error)}")
    if summary.endpoint_failures:
        lines.append(_endpoint_failures(summary.endpoint_failures))
    # Experiments with weights of their own show them in their section.
    uses_run_weights = not summary.experiments or any(
        e.scoring_weights in ({}, summary.scoring_weights) for e in summary.experiments
    )
    if summary.scoring_weights and uses_run_weights:
        lines.append(f"- **Score per trial:** {_score_formula(summary.scoring_weights)}")
    lines.append(
        "- Mean score is over all trials, with a 95% Student t interval; a failed trial (error, "
        "timeout) scores as one that achieved nothing. Success rate is over all trials, with a 95% "
        "Wilson interval."
    )
    if any(e.samples is not None for e in summary.experiments):
        lines.append(
            "- On a dataset, the mean score's interval is clustered by sample (repeats of a sample "
            "are correlated; Student t on samples − 1 df), and so is the success rate's with "
            "epochs > 1; variants are compared by paired tests on the samples both ran."
        )
    return "\n".join(lines)


def _endpoint_failures(failures: dict[str, int]) -> str:
    """Trials lost to an endpoint (not to the agent): the results are incomplete, and the CLI
    exits 1."""
    total = sum(failures.values())
    kinds = ", ".join(f"{n} {code_span(kind)}" for kind, n in sorted(failures.items()))
    return (
        f"- **Endpoint failures:** {total} trial{'' if total == 1 else 's'} ended because the model "
        f"endpoint kept failing after every retry ({kinds}); they count as errors, so the results "
        "are incomplete and `meta-orchestrator run` exits 1"
    )


def _no_success_note(summary: RunSummary) -> str:
    if (
        summary.experiments
        and all(e.none_succeeded for e in summary.experiments if e.trials > 0)
        and any(e.trials > 0 for e in summary.experiments)
    ):
        return " · **no trial succeeded**: no variant leads"
    return ""


def _experiment_section(
    experiment: ExperimentSummary, run_weights: dict[str, float], run_id: str
) -> str:
    kind = experiment.orchestrator
    if experiment.strategy:
        kind += f" ({experiment.strategy})"
    heading = (
        f"### Experiment {code_span(experiment.name)} · {escape_text(kind)} · "
        f"{experiment.trials} of {experiment.planned_trials} trials · "
        f"{escape_text(experiment.status)}"
    )
    parts = [heading]
    if experiment.trials == 0:
        parts.append("_No trials were recorded for this experiment._")
        return "\n\n".join(parts)
    if experiment.none_succeeded:
        parts.append(
            f"> **No trial succeeded:** all {experiment.trials} trials failed, so no variant "
            "leads; the ranking below only orders the failures. See the errors column and the "
            "run's log."
        )
    elif experiment.too_few_trials:
        parts.append(_too_few_warning(experiment))
    if experiment.scoring_weights and experiment.scoring_weights != run_weights:
        parts.append(f"**Score per trial:** {_score_formula(experiment.scoring_weights)}")
    parts.append(_ranking_table(experiment.variants))
    if not experiment.none_succeeded:
        parts.append(_comparison_block(experiment))
    if _is_bandit(experiment):
        parts.append(_choices_table(experiment))
    if experiment.adaptive:
        parts.append(_adaptive_note(experiment))
    stop = _stop_line(experiment)
    if stop:
        parts.append(stop)
    if experiment.samples is not None:
        parts.append(_samples_section(experiment, experiment.samples, run_id))
    return "\n\n".join(p for p in parts if p)


# ------------------------------------------------------------------------------------- samples
_INPUT_WIDTH = 60


def _samples_section(experiment: ExperimentSummary, samples: SampleSummary, run_id: str) -> str:
    """Per-variant pass rates (pass@k and pass^k with epochs) and the samples worth a look."""
    fingerprint = f" · fingerprint {code_span(samples.fingerprint)}" if samples.fingerprint else ""
    epochs = f"{samples.epochs} epoch{'' if samples.epochs == 1 else 's'}"
    parts = [
        f"#### Samples of dataset {code_span(samples.dataset)} ({samples.samples} samples · "
        f"{epochs}{fingerprint})",
        _pass_table(samples),
    ]
    names = experiment.variant_names or [v.variant for v in samples.variants]
    lists = [
        ("Every variant fails", samples.all_fail, samples.all_fail_count),
        ("Variants disagree (one passes every attempt, another fails every one)",
         samples.disagree, samples.disagree_count),
    ]  # fmt: skip
    if samples.epochs > 1:
        lists.append(
            ("Flaky (0 < pass rate < 1 across epochs)", samples.flaky, samples.flaky_count)
        )
    for title, notes, count in lists:
        parts.append(_sample_list(title, notes, count, samples.samples, names))
    if any(count > len(notes) for _, notes, count in lists):
        command = f"meta-orchestrator samples {run_id} --experiment {experiment.name} --failing"
        parts.append(f"Every sample: {code_span(command)}")
    return "\n\n".join(parts)


def _pass_table(samples: SampleSummary) -> str:
    k = samples.k
    with_k = samples.epochs > 1 and k > 1
    head = "| Variant | Samples | Pass rate per sample |"
    rule = "|---|---:|---:|"
    if with_k:
        head += f" pass@{k} | pass^{k} |"
        rule += "---:|---:|"
    rows = [head, rule]
    for v in samples.variants:
        cells = [code_span(v.variant, table=True), str(v.samples), _maybe_pct(v.pass_rate)]
        if with_k:
            cells += [_maybe_pct(v.pass_at_k), _maybe_pct(v.pass_hat_k)]
        rows.append(_row(cells))
    note = (
        f"\n\npass@{k}: the chance that at least one of {k} attempts passes; pass^{k}: that all "
        f"{k} do (unbiased estimators over each sample's {samples.epochs} epochs, averaged over "
        "the samples run at least k times)."
        if with_k
        else ""
    )
    return "\n".join(rows) + note


def _sample_list(
    title: str, notes: list[SampleNote], count: int, total: int, variants: list[str]
) -> str:
    heading = f"**{title}:** {count} of {total} samples"
    if not notes:
        return heading + "."
    rows = [
        "| Sample | Input | Target | "
        + " | ".join(code_span(v, table=True) for v in variants)
        + " |",
        "|---|---|---|" + "---:|" * len(variants),
    ]
    for note in notes:
        rates = [
            f"{note.rates[v][0]}/{note.rates[v][1]}" if v in note.rates else DASH for v in variants
        ]
        rows.append(
            _row(
                [
                    code_span(note.sample_id, table=True),
                    _short(note.input),
                    _short(note.target),
                    *rates,
                ]
            )
        )
    more = count - len(notes)
    tail = f"\n\n…and {more} more." if more > 0 else ""
    return heading + " (passes / attempts):\n\n" + "\n".join(rows) + tail


def _short(value: Any) -> str:
    if value is None:
        return DASH
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    flat = " ".join(text.split())
    if len(flat) > _INPUT_WIDTH:
        flat = flat[: _INPUT_WIDTH - 1] + "…"
    return escape_text(flat)


def _maybe_pct(value: float | None) -> str:
    return DASH if value is None else format_percent(value)


def _too_few_warning(experiment: ExperimentSummary) -> str:
    short = [v for v in experiment.variants if v.score_n < MIN_TRIALS_FOR_TEST]
    listed = ", ".join(
        f"{code_span(v.variant)} has {v.score_n} scored trial{'' if v.score_n == 1 else 's'}"
        for v in short
    )
    return (
        f"> **Too few trials:** {listed}. A confidence interval and a test need at least "
        f"{MIN_TRIALS_FOR_TEST} scored trials per variant; read this ranking as anecdotal."
    )


def _ranking_table(variants: list[VariantSummary]) -> str:
    rows = [
        "| Rank | Variant | Trials | Mean score [95% CI] | SD | Success [95% CI] "
        "| Latency p50 / p95 | Cost total / mean | Errors / timeouts |",
        "|---:|---|---:|---|---:|---|---|---|---:|",
    ]
    for v in variants:
        cells = [
            str(v.rank),
            code_span(v.variant, table=True),
            str(v.trials),
            _mean_with_ci(v),
            format_number(v.score_sd),
            _success_with_ci(v),
            f"{_latency(v.latency_p50)} / {_latency(v.latency_p95)}",
            f"{_cost(v.cost_total)} / {_cost(v.cost_mean)}",
            f"{v.errors} / {v.timeouts}",
        ]
        rows.append(_row(cells))
    return "\n".join(rows)


def _comparison_block(experiment: ExperimentSummary) -> str:
    if not experiment.comparisons:
        return ""
    best = experiment.best
    if best is None:
        return "**Best vs others:** no variant has a scored trial; nothing to compare."
    if any(c.test == "paired" for c in experiment.comparisons):
        return _paired_block(experiment, best)
    tested = sum(c.p_value is not None for c in experiment.comparisons)
    intro = (
        f"**Best vs others** ({code_span(best.variant)}): Welch's t-test on score, "
        f"Holm-corrected across {tested} comparison{'' if tested == 1 else 's'}, "
        f"alpha {experiment.alpha:g}. Difference = other − best; Hedges' g is the effect size."
    )
    rows = [
        "| Other | Difference [95% CI] | Welch p | Holm p | Hedges' g | Verdict (best vs other) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for c in experiment.comparisons:
        rows.append(
            _row(
                [
                    code_span(c.other, table=True),
                    _difference(c),
                    format_p_value(c.p_value),
                    format_p_value(c.p_holm),
                    format_number(c.effect_size, 2, signed=True),
                    _verdict(c),
                ]
            )
        )
    return intro + "\n\n" + "\n".join(rows)


def _paired_block(experiment: ExperimentSummary, best: VariantSummary) -> str:
    tested = sum(c.p_value is not None for c in experiment.comparisons)
    intro = (
        f"**Best vs others** ({code_span(best.variant)}): paired t-test on score over the samples "
        "both ran (per-sample means over the epochs both ran), Holm-corrected across "
        f"{tested} comparison{'' if tested == 1 else 's'}, alpha {experiment.alpha:g}; the "
        "Wilcoxon signed-rank p (two-sided, not adjusted) is a robustness check. Difference = "
        "other − best, with its 95% paired t interval; correlation is of the per-sample scores."
    )
    rows = [
        "| Other | Difference [95% CI] | Paired t p | Holm p | Wilcoxon p | Correlation "
        "| Samples paired / left out | Verdict (best vs other) |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in experiment.comparisons:
        rows.append(
            _row(
                [
                    code_span(c.other, table=True),
                    _difference(c),
                    format_p_value(c.p_value),
                    format_p_value(c.p_holm),
                    format_p_value(c.p_wilcoxon),
                    format_number(c.correlation, 2),
                    f"{c.paired or 0} / {c.left_out or 0}",
                    _verdict(c),
                ]
            )
        )
    return intro + "\n\n" + "\n".join(rows)


def _adaptive_note(experiment: ExperimentSummary) -> str:
    """What a bandit's allocation does to the numbers above it."""
    paired = (
        " The comparisons pair only the samples both variants ran (the shared prefix of the "
        "sample sequence)."
        if experiment.samples is not None
        else ""
    )
    return (
        "> **Adaptive allocation:** a bandit chose which variant ran next, so variants have "
        "unequal trial counts and the means of rarely chosen variants are biased (one that started "
        "unlucky was dropped before it could recover, so its mean tends to be too low)."
        f"{paired} Intervals and p-values assume a fixed allocation: read them as approximate."
    )


def _choices_table(experiment: ExperimentSummary) -> str:
    total = sum(experiment.choice_counts.values())
    rows = ["| Variant | Chosen | Share | |", "|---|---:|---:|---|"]
    ordered = sorted(experiment.choice_counts.items(), key=lambda item: (-item[1], item[0]))
    for name, count in ordered:
        share = count / total if total else 0.0
        filled = round(share * _BAR_WIDTH)
        bar = "█" * filled + "░" * (_BAR_WIDTH - filled)
        rows.append(_row([code_span(name, table=True), str(count), format_percent(share), bar]))
    return f"**Bandit choices** ({total} trials):\n\n" + "\n".join(rows)


def _stop_line(experiment: ExperimentSummary) -> str:
    if experiment.stop_reason:
        return f"**Stopped:** {escape_text(experiment.stop_reason)}"
    if experiment.status != "completed":
        return f"**Not finished:** experiment status is {escape_text(experiment.status)}."
    if _is_bandit(experiment):
        return f"**Stopped:** trial budget of {experiment.planned_trials} spent; no early stop."
    return ""


def _verdict(c: PairwiseComparison) -> str:
    if c.p_holm is None:
        return c.note or NOT_ENOUGH_TRIALS
    return "**significantly better**" if c.significant else "no significant difference"


def _config_block(config_yaml: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", config_yaml)), default=0)
    fence = "`" * max(3, longest + 1)
    body = config_yaml if config_yaml.endswith("\n") else config_yaml + "\n"
    return (
        f"<details>\n<summary>Config snapshot</summary>\n\n{fence}yaml\n{body}{fence}\n\n</details>"
    )


def _is_bandit(experiment: ExperimentSummary) -> bool:
    return experiment.orchestrator == "mab"


# ----------------------------------------------------------------------------------- formatting
def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _mean_with_ci(v: VariantSummary) -> str:
    if v.mean_score is None:
        return DASH
    if v.score_ci_low is None or v.score_ci_high is None:
        return format_number(v.mean_score)
    interval = format_interval(v.score_ci_low, v.score_ci_high, n=v.score_n)
    if interval.startswith("n/a"):
        bound = _rule_of_three(v)
        return f"{format_number(v.mean_score)} · {interval[:-1]}{'; ' + bound if bound else ''})"
    return f"{format_number(v.mean_score)} {interval}"


def _rule_of_three(v: VariantSummary) -> str | None:
    """The bound where every trial succeeded (or failed). On a dataset the independent units are
    the samples, not the trials (epochs of one sample agree), so the bound counts samples."""
    successes = round((v.success_rate or 0.0) * v.trials)
    if not v.clusters or 0 < successes < v.trials:
        return rule_of_three(successes, v.trials)
    bound = rule_of_three(v.clusters if successes else 0, v.clusters)
    return None if bound is None else f"{bound[:-1]} over {v.clusters} samples)"


def _success_with_ci(v: VariantSummary) -> str:
    if v.success_rate is None:
        return DASH
    text = format_percent(v.success_rate)
    if v.success_ci_low is not None and v.success_ci_high is not None:
        interval = format_interval(v.success_ci_low, v.success_ci_high, n=v.trials, percent=True)
        text += f" {interval}"
    return text


def _difference(c: PairwiseComparison) -> str:
    if c.difference is None:
        return DASH
    if c.ci_low is not None and c.ci_high is not None and c.ci_high - c.ci_low <= 1e-12:
        return f"{format_number(c.difference, signed=True)} · n/a (no variance on either side)"
    low, high = (format_number(x, signed=True) for x in (c.ci_low, c.ci_high))
    return f"{format_number(c.difference, signed=True)} [{low}, {high}]"


def _latency(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _cost(value: float | None) -> str:
    return DASH if value is None else f"{value:.4g}"


def _score_formula(weights: dict[str, float]) -> str:
    terms = []
    for i, (metric, weight) in enumerate(weights.items()):
        sign = "−" if weight < 0 else ("" if i == 0 else "+")
        terms.append(f"{sign} {abs(weight):g} × {escape_text(metric)}".strip())
    return " ".join(terms)


def _time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ended(run: RunRecord) -> str:
    if run.ended_at is None:
        return "not yet (still running, or the process died)"
    duration = format_duration(run.ended_at - run.started_at)
    return f"{_time(run.ended_at)} · **Duration:** {duration}"
