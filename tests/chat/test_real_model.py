"""The chat kind against the real local model (llama.cpp + SmolLM2) on reasoning-gym tasks:
outputs, usage, cost, the generator's grades, reproducibility and the response cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.core.kinds import build_agent
from meta_orchestrator.core.llm.server import LocalModelServer
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.hub import run_experiment_suite
from tests.chat.helpers import (
    PRICING,
    RG_OPTIONS,
    addition_samples,
    chat,
    chat_variant,
    stored,
    suite,
)


def context(sample: dict[str, Any], index: int, epoch: int = 0) -> dict[str, Any]:
    visible = {k: v for k, v in sample.items() if k != "target"}
    return {"sample": visible, "epoch": epoch, "seed": 1000 + index, "trial_index": index}


def test_two_chat_variants_on_twenty_reasoning_gym_tasks(
    local_model: LocalModelServer, tmp_path: Path
) -> None:
    url, model = local_model.base_url, local_model.model
    variants = {
        "terse": chat(url, model),
        "few_shot": chat(
            url,
            model,
            system=None,
            temperature=0.7,
            seed="trial",
            examples=[
                {"input": "What is 2 + 2 =", "output": 4},
                {"input": "What is 7 - 5 =", "output": 2},
            ],
        ),
    }
    db = tmp_path / "store.db"
    run_id = run_experiment_suite(suite(variants, samples=20), db_path=db, results_dir=tmp_path)
    trials = stored(db, run_id)

    assert sorted((t.variant, t.sample_id) for t in trials) == sorted(
        (v, s) for v in variants for s in {t.sample_id for t in trials}
    )
    assert len(trials) == 40 and all(t.ok for t in trials), [t.error for t in trials]
    for trial in trials:
        details = trial.details
        assert details["text"].strip(), f"{trial.variant}: the model said nothing"
        assert details["finish_reason"] in ("stop", "length")
        assert details["model"] == model and details["cache_hit"] is False
        assert trial.output is None or isinstance(trial.output, int | float)
        tokens_in, tokens_out = trial.metrics["tokens_in"], trial.metrics["tokens_out"]
        assert 10 < tokens_in < 200 and 1 <= tokens_out <= 8
        expected = (
            tokens_in * PRICING["input_per_mtok"] + tokens_out * PRICING["output_per_mtok"]
        ) / 1e6
        assert trial.cost == pytest.approx(expected, rel=1e-12)
        assert trial.transient_retries == 0
        # the stored grade is the generator's own score_answer of the stored answer
        assert trial.metrics["reasoning_gym"] == generators_grade(trial)
        assert trial.metrics["success"] == float(trial.metrics["reasoning_gym"] == 1.0)
    tokens = {(t.variant, t.sample_id): t.metrics["tokens_in"] for t in trials}
    # The server counts the prompt it built with the chat template: for every sample, the two
    # few-shot turns add the same number of tokens to what the one-line system message costs.
    extra = {tokens["few_shot", s] - tokens["terse", s] for _, s in tokens}
    assert len(extra) == 1 and extra.pop() > 20, extra
    answered = sum(t.output is not None for t in trials)
    assert answered >= 20, f"only {answered} of 40 replies held a number"
    assert (
        0 < sum(t.metrics["success"] for t in trials) < 40
    )  # a real model: neither all right nor all wrong


def generators_grade(trial: TrialResult, size: int = 20) -> float:
    """What reasoning-gym's own chain_sum grader gives the trial's stored answer."""
    import reasoning_gym

    tasks = reasoning_gym.create_dataset("chain_sum", seed=11, size=size, **RG_OPTIONS)
    index = int(trial.sample_id.rsplit("-", 1)[1])
    return tasks.score_answer(None if trial.output is None else str(trial.output), tasks[index])


def test_temperature_zero_with_a_seed_gives_the_same_outputs_twice(
    local_model: LocalModelServer, tmp_path: Path
) -> None:
    variant = chat(local_model.base_url, local_model.model, seed=42)
    outputs = []
    for i, backend in enumerate(({"type": "local"}, {"type": "threads", "max_in_flight": 4})):
        config = suite({"greedy": variant}, samples=8, execution_backend=backend)
        run_id = run_experiment_suite(config, db_path=tmp_path / f"{i}.db", results_dir=tmp_path)
        trials = stored(tmp_path / f"{i}.db", run_id)
        assert len(trials) == 8 and all(t.ok for t in trials)
        outputs.append({t.sample_id: (t.details["text"], t.output) for t in trials})
    assert outputs[0] == outputs[1]  # one at a time or four at once: the same greedy answers


def test_cache_hits_repeat_nothing_and_epochs_stay_independent(
    fault_proxy: Any, tmp_path: Path, local_model: LocalModelServer
) -> None:
    proxy = fault_proxy()  # no faults: it counts what reaches the server
    variant = chat_variant(
        proxy.base_url,
        local_model.model,
        cache=True,
        cache_path="c/llm.db",
        temperature=0.8,
        seed="trial",
    )
    agent = build_agent(variant, tmp_path, 120)
    sample = addition_samples(1)[0]
    first = agent(context(sample, 0))
    again = agent(context(sample, 0))
    assert proxy.counters.delivered == 1
    assert again["details"]["cache_hit"] is True and first["details"]["cache_hit"] is False
    assert again["output"] == first["output"] and again["tokens_out"] == first["tokens_out"]
    assert again["cost"] == 0.0 < first["cost"]  # a cached answer cost nothing
    other_epoch = agent(context(sample, 0, epoch=1))
    assert other_epoch["details"]["cache_hit"] is False and proxy.counters.delivered == 2
    rebuilt = build_agent(variant, tmp_path, 120)  # another process, the same file
    assert rebuilt(context(sample, 0, epoch=1))["details"]["cache_hit"] is True
    assert proxy.counters.delivered == 2 and (tmp_path / "c" / "llm.db").is_file()


def test_rerunning_a_cached_config_costs_nothing(
    fault_proxy: Any, tmp_path: Path, local_model: LocalModelServer
) -> None:
    proxy = fault_proxy()
    variant = chat(
        proxy.base_url, local_model.model, cache=True, cache_path=str(tmp_path / "llm.db")
    )
    config = suite({"cached": variant}, samples=6)
    db = tmp_path / "store.db"
    first = run_experiment_suite(config, db_path=db, results_dir=tmp_path / "results")
    assert proxy.counters.delivered == 6
    second = run_experiment_suite(config, db_path=db, results_dir=tmp_path / "results")
    assert proxy.counters.delivered == 6  # nothing reached the model again
    runs = {run: stored(db, run) for run in (first, second)}
    assert [t.details["cache_hit"] for t in runs[first]] == [False] * 6
    assert [t.details["cache_hit"] for t in runs[second]] == [True] * 6
    assert sum(t.cost for t in runs[second]) == 0.0 < sum(t.cost for t in runs[first])
    same = ("tokens_in", "tokens_out", "reasoning_gym", "success")
    for before, after in zip(runs[first], runs[second], strict=True):
        assert (after.sample_id, after.output) == (before.sample_id, before.output)
        assert {k: after.metrics[k] for k in same} == {k: before.metrics[k] for k in same}
