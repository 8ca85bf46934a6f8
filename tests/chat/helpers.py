"""Samples and configs for the tests on the real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meta_orchestrator.core.kinds.chat import ChatVariant

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
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


def bridged(base_url: str, model: str, samples: list[dict[str, Any]], **fields: Any) -> dict:
    """A python variant running the chat agent through ``tests/fixtures/chat_bridge.py``."""
    return {
        "type": "python",
        "agent": "chat_bridge:ChatAsMetrics",
        "params": {"chat": chat_fields(base_url, model, **fields), "samples": samples},
    }


def suite(variants: dict[str, Any], trials: int, **top: Any) -> dict[str, Any]:
    return {
        "name": "llm-test",
        "seed": 11,
        "python_path": [str(FIXTURES)],
        "variants": variants,
        "scoring_weights": {"success": 1.0},
        "custom_metrics": ["transient_retries", "cache_hit", "output_chars"],
        "experiments": [{"name": "e", "variants": list(variants), "trials_per_variant": trials}],
        "trial": {"timeout_seconds": 120},
        "execution_backend": {"type": "threads", "max_in_flight": 4},
        **top,
    }
