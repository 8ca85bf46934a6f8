"""The chat kind against the real local model (llama.cpp + SmolLM2): outputs, usage, cost,
reproducibility and the response cache."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.core.kinds import build_agent
from meta_orchestrator.core.llm.server import LocalModelServer
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.store import RunStore
from tests.chat.helpers import PRICING, addition_samples, bridged, chat_variant, suite


def context(sample: dict[str, Any], index: int, epoch: int = 0) -> dict[str, Any]:
    visible = {k: v for k, v in sample.items() if k != "target"}
    return {"sample": visible, "epoch": epoch, "seed": 1000 + index, "trial_index": index}


def test_two_variants_twenty_samples_on_the_real_model(
    local_model: LocalModelServer, tmp_path: Path
) -> None:
    url, model = local_model.base_url, local_model.model
    variants = {
        "terse": chat_variant(url, model),
        "few_shot": chat_variant(
            url,
            model,
            system=None,
            temperature=0.7,
            seed="trial",
            examples=[
                {"input": {"a": 2, "b": 2}, "output": 4},
                {"input": {"a": 10, "b": 5}, "output": 15},
            ],
        ),
    }
    agents = {name: build_agent(v, tmp_path, 120.0) for name, v in variants.items()}
    jobs = [(name, i, s) for i, s in enumerate(addition_samples(20)) for name in variants]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: agents[job[0]](context(job[2], job[1])), jobs))

    assert len(results) == 40
    for (name, _, _), result in zip(jobs, results, strict=True):
        details = result["details"]
        assert details["text"].strip(), f"{name}: the model said nothing"
        assert details["finish_reason"] in ("stop", "length")
        assert details["model"] == model and details["cache_hit"] is False
        assert result["output"] is None or isinstance(result["output"], int | float)
        assert 10 < result["tokens_in"] < 200 and 1 <= result["tokens_out"] <= 8
        expected = (
            result["tokens_in"] * PRICING["input_per_mtok"]
            + result["tokens_out"] * PRICING["output_per_mtok"]
        ) / 1e6
        assert result["cost"] == pytest.approx(expected, rel=1e-12)
        assert result["transient_retries"] == 0
    tokens_in = {(name, i): r["tokens_in"] for (name, i, _), r in zip(jobs, results, strict=True)}
    # The server counts the prompt it built with the chat template: for every sample, the two
    # few-shot turns add the same number of tokens to what the one-line system message costs.
    extra = {tokens_in["few_shot", i] - tokens_in["terse", i] for i in range(20)}
    assert len(extra) == 1 and extra.pop() > 30, extra
    answered = sum(r["output"] is not None for r in results)
    assert answered >= 20, f"only {answered} of 40 replies held a number"


def test_temperature_zero_with_a_seed_gives_the_same_outputs_twice(
    local_model: LocalModelServer, tmp_path: Path
) -> None:
    agent = build_agent(
        chat_variant(local_model.base_url, local_model.model, seed=42), tmp_path, 120
    )
    samples = addition_samples(8)
    first = [agent(context(s, i))["details"]["text"] for i, s in enumerate(samples)]
    with ThreadPoolExecutor(4) as pool:  # concurrency does not change greedy decoding
        second = list(
            pool.map(lambda p: agent(context(p[1], p[0]))["details"]["text"], enumerate(samples))
        )
    assert first == second


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
    samples = addition_samples(6)
    variant = bridged(
        proxy.base_url, local_model.model, samples, cache=True, cache_path=str(tmp_path / "llm.db")
    )
    config = suite({"cached": variant}, trials=6)
    db = tmp_path / "store.db"
    first = run_experiment_suite(config, db_path=db, results_dir=tmp_path / "results")
    assert proxy.counters.delivered == 6
    second = run_experiment_suite(config, db_path=db, results_dir=tmp_path / "results")
    assert proxy.counters.delivered == 6  # nothing reached the model again
    with RunStore(db) as store:
        runs = {
            run: sorted((r for _, r in store.iter_trials(run)), key=lambda t: t.index)
            for run in (first, second)
        }
    assert [t.metrics["cache_hit"] for t in runs[first]] == [0.0] * 6
    assert [t.metrics["cache_hit"] for t in runs[second]] == [1.0] * 6
    assert sum(t.cost for t in runs[second]) == 0.0 < sum(t.cost for t in runs[first])
    assert [t.metrics["tokens_out"] for t in runs[second]] == [
        t.metrics["tokens_out"] for t in runs[first]
    ]
