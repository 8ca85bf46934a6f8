"""Samples and configs for the tests on the real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meta_orchestrator.core.kinds.chat import ChatVariant
from meta_orchestrator.core.trial import TrialResult
from meta_orchestrator.store import RunStore

PRICING = {"input_per_mtok": 0.15, "output_per_mtok": 0.60}
PROMPT = "What is {input[a]} plus {input[b]}? Answer with the number only."


def addition_samples(n: int) -> list[dict[str, Any]]:
    """``n`` distinct addition questions; ``target`` is the sum (hidden from the model)."""
    samples = []
    for i in range(n):
        a, b = 3 + (7 * i) % 40 + i // 40, 2 + (5 * i) % 30
        samples.append({"id": f"add-{i}", "input": {"a": a, "b": b}, "metadata": {"i": i}})
        samples[-1]["target"] = a + b
    return samples


def chat_fields(base_url: str, model: str, **fields: Any) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "model": model,
        "system": "You are a calculator. Reply with one number only.",
        "prompt": PROMPT,
        "extract": "last_number",
        "temperature": 0.0,
        "seed": 1,
        "max_tokens": 8,
        "pricing": PRICING,
        **fields,
    }


def chat_variant(base_url: str, model: str, **fields: Any) -> ChatVariant:
    return ChatVariant.model_validate({"type": "chat", **chat_fields(base_url, model, **fields)})


# Single-digit sums of two terms: the model gets about half right, so variants really differ.
RG_OPTIONS = {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}
RG_PROMPT = "{input} Answer with the number only."


def rg_dataset(size: int, seed: int = 11) -> dict[str, Any]:
    """reasoning-gym's ``chain_sum`` tasks, graded by the generator's own ``score_answer``."""
    return {
        "type": "reasoning_gym",
        "name": "chain_sum",
        "size": size,
        "seed": seed,
        "options": RG_OPTIONS,
    }


def chat(base_url: str, model: str, **fields: Any) -> dict[str, Any]:
    """A ``type: chat`` variant's config over the reasoning-gym tasks."""
    return {"type": "chat", **chat_fields(base_url, model, prompt=RG_PROMPT, **fields)}


def suite(
    variants: dict[str, Any], samples: int, epochs: int = 1, seed: int = 11, **top: Any
) -> dict[str, Any]:
    """One standard experiment: every variant on ``samples`` reasoning-gym tasks, ``epochs`` times."""
    return {
        "name": "llm-test",
        "seed": seed,
        "variants": variants,
        "datasets": {"tasks": rg_dataset(samples)},
        "scoring_weights": {"success": 1.0},
        "experiments": [
            {
                "name": "e",
                "variants": list(variants),
                "dataset": "tasks",
                "scorers": [{"type": "reasoning_gym"}],
                "epochs": epochs,
            }
        ],
        "trial": {"timeout_seconds": 120},
        "execution_backend": {"type": "threads", "max_in_flight": 4},
        **top,
    }


def stored(db: Path, run_id: str) -> list[TrialResult]:
    """A run's trials in the store, in dispatch order."""
    with RunStore(db) as store:
        return sorted((r for _, r in store.iter_trials(run_id)), key=lambda t: t.index)
