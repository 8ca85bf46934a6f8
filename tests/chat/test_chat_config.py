"""``type: chat`` in a config: defaults, load-time problems, env expansion, the missing extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from meta_orchestrator.core.config import load_config
from meta_orchestrator.core.kinds import build_agent, kind_of
from meta_orchestrator.errors import ConfigError, MissingDependencyError
from tests.helpers import import_or_skip


def config(**variant: Any) -> dict[str, Any]:
    chat = {"type": "chat", "base_url": "http://127.0.0.1:9/v1", "model": "m", **variant}
    return {
        "variants": {"llm": chat},
        "experiments": [{"name": "e", "variants": ["llm"], "trials_per_variant": 1}],
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(data)
    return caught.value.problems


def test_defaults() -> None:
    variant = load_config(config()).variants["llm"]
    assert variant.prompt == "{input}" and variant.extract.type == "text"
    assert (variant.max_concurrency, variant.max_transient_retries) == (4, 6)
    assert (variant.cache, variant.seed, variant.pricing, variant.api_key_env) == (
        False,
        None,
        None,
        None,
    )
    assert variant.request_params() == {}
    assert kind_of(variant).describe(variant) == "m at http://127.0.0.1:9/v1"


def test_token_metrics_may_be_weighted() -> None:
    data = config(pricing={"input_per_mtok": 0.1, "output_per_mtok": 0.4})
    data["scoring_weights"] = {"success": 1.0, "tokens_out": -0.001, "cost": -1.0}
    assert load_config(data).scoring_weights["tokens_out"] == -0.001


def test_shorthands_for_extract_and_stop() -> None:
    variant = load_config(config(extract="last_number", stop="\n\n")).variants["llm"]
    assert variant.extract.type == "last_number" and variant.stop == ["\n\n"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prompt": "Q: {question}"}, "variants.llm.prompt: unknown field {question}"),
        ({"extract": {"type": "regex"}}, "variants.llm.extract.pattern: required"),
        ({"extract": {"type": "regex", "pattern": "("}}, "not a valid regular expression"),
        ({"extract": {"type": "text", "field": "a"}}, "field: only for type 'json'"),
        ({"extract": {"type": "magic"}}, "variants.llm.extract.type: must be one of"),
        ({"temperature": 3}, "variants.llm.temperature"),
        ({"max_transient_retries": -1}, "variants.llm.max_transient_retries"),
        ({"base_url": "127.0.0.1:8080"}, "variants.llm.base_url: must be an http://"),
        ({"api_key_env": "not a name"}, "variants.llm.api_key_env"),
        ({"temprature": 0.2}, "variants.llm.temprature: unknown key"),
        (
            {"prompt": "Q: {input[q]}", "examples": [{"input": "no dict", "output": 1}]},
            "examples[0]: the prompt uses {input[q]}",
        ),
    ],
)
def test_problems_are_reported_at_load_time(fields: dict[str, Any], expected: str) -> None:
    found = problems(config(**fields))
    assert any(expected in p for p in found), found


def test_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "${MO_TEST_LLM_URL:-http://127.0.0.1:8080/v1}"
    monkeypatch.delenv("MO_TEST_LLM_URL", raising=False)
    assert load_config(config(base_url=url)).variants["llm"].base_url == "http://127.0.0.1:8080/v1"
    monkeypatch.setenv("MO_TEST_LLM_URL", "http://10.0.0.5:9000/v1")
    assert load_config(config(base_url=url)).variants["llm"].base_url == "http://10.0.0.5:9000/v1"
    monkeypatch.delenv("MO_TEST_LLM_URL")
    found = problems(config(base_url="${MO_TEST_LLM_URL}/v1"))
    assert any("environment variable MO_TEST_LLM_URL is not set" in p for p in found), found


def test_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    model = "${MO_TEST_LLM_MODEL:-smollm2-135m-instruct}"
    monkeypatch.delenv("MO_TEST_LLM_MODEL", raising=False)
    assert load_config(config(model=model)).variants["llm"].model == "smollm2-135m-instruct"
    monkeypatch.setenv("MO_TEST_LLM_MODEL", "qwen2.5-0.5b")
    assert load_config(config(model=model)).variants["llm"].model == "qwen2.5-0.5b"


def test_the_local_llm_example_loads_and_points_at_serve_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_or_skip(
        "reasoning_gym", "needs reasoning-gym: pip install 'meta-orchestrator[reasoning-gym]'"
    )
    example = Path(__file__).resolve().parents[2] / "examples" / "local_llm" / "config.yaml"
    monkeypatch.delenv("MO_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("MO_LLM_MODEL", raising=False)
    loaded = load_config(example)
    assert len(loaded.variants) == 6 and len(loaded.dataset("sums")) == 40
    assert {v.base_url for v in loaded.variants.values()} == {"http://127.0.0.1:8080/v1"}
    assert {v.model for v in loaded.variants.values()} == {"smollm2-135m-instruct"}
    assert {v.temperature for v in loaded.variants.values()} == {0.0, 0.7}
    assert [e.orchestrator for e in loaded.experiments] == ["standard", "mab"]
    monkeypatch.setenv("MO_LLM_BASE_URL", "http://10.0.0.5:9000/v1")
    moved = load_config(example)
    assert {v.base_url for v in moved.variants.values()} == {"http://10.0.0.5:9000/v1"}


def test_a_missing_api_key_variable_is_a_config_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MO_TEST_MISSING_KEY", raising=False)
    found = problems(config(api_key_env="MO_TEST_MISSING_KEY"))
    assert found == [
        "variants.llm.api_key_env: environment variable MO_TEST_MISSING_KEY is not set "
        "(export it before running)"
    ]


def test_the_snapshot_names_the_variable_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MO_TEST_KEY", "sk-test-do-not-store-0123456789")
    loaded = load_config(config(api_key_env="MO_TEST_KEY"))
    snapshot = loaded.to_yaml()
    assert "MO_TEST_KEY" in snapshot and "sk-test-do-not-store" not in snapshot


def test_without_openai_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    variant = load_config(config()).variants["llm"]  # loading a config needs no openai
    monkeypatch.setitem(sys.modules, "openai", None)  # "import openai" now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'meta-orchestrator\[llm\]'"):
        build_agent(variant, tmp_path, 10.0)


def test_importing_the_package_does_not_import_openai() -> None:
    import subprocess

    code = (
        "import sys, meta_orchestrator.core.config, meta_orchestrator.core.kinds.chat; "
        "sys.exit(1 if 'openai' in sys.modules or 'llama_cpp' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
