"""``type: chat``: an OpenAI-compatible chat-completions agent, configured entirely in YAML.

Each trial renders the messages from the trial's sample (``context["sample"]``: ``system``, the
few-shot ``examples``, then the ``prompt`` template), sends one request through the official
``openai`` client (the ``[llm]`` extra), extracts the answer and returns::

    {"output": answer, "details": {"finish_reason", "model", "cache_hit", ...},
     "transient_retries": n, "tokens_in": ..., "tokens_out": ..., "cost": ...}

``tokens_in`` / ``tokens_out`` come from the response's ``usage``; ``cost`` from ``pricing``
(0 without it, and 0 for a cached response, which cost nothing). Rate limits and unavailable
endpoints are retried (``core.llm.retry``) inside an endpoint's shared concurrency limit
(``core.llm.endpoint``); a trial that exhausts its retries raises ``TransientFailure`` with
``error_kind`` ``rate_limited`` or ``unavailable``. The API key is read from ``api_key_env`` in the
process that runs the trial and is never written to the config snapshot, the store or a message.

The trial runner's watchdog bounds the trial; the agent also gives every wait (a slot, a backoff,
a request) only the trial's time left, so a request that would outlive its trial is closed.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from meta_orchestrator.core.kinds.base import (
    Agent,
    BuildContext,
    TrialTimeout,
    VariantKind,
    register_kind,
)
from meta_orchestrator.core.llm.cache import ResponseCache, cache_key
from meta_orchestrator.core.llm.client import ChatRequestError, Completion, OpenAIChatClient
from meta_orchestrator.core.llm.endpoint import endpoint_key, endpoint_limiter
from meta_orchestrator.core.llm.extract import extract
from meta_orchestrator.core.llm.prompt import (
    PromptError,
    build_messages,
    check_template,
    render,
    sample_fields,
)
from meta_orchestrator.core.llm.retry import (
    DeadlineExceeded,
    RetryPolicy,
    TransientError,
    TransientFailure,
    call_with_retries,
)
from meta_orchestrator.core.models import Count, NonNegative, Seconds, StrictModel

__all__ = [
    "ChatAgent",
    "ChatKind",
    "ChatRequestError",
    "ChatTimeout",
    "ChatVariant",
    "PromptError",
    "TransientFailure",
]

DEFAULT_CACHE = Path("results") / "llm_cache.db"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ChatTimeout(TrialTimeout):
    """The trial's timeout passed waiting for the endpoint; the request was closed."""

    def __init__(self, message: str, transient_retries: int) -> None:
        super().__init__(message)
        self.transient_retries = transient_retries


class ChatExample(StrictModel):
    """A few-shot example: the prompt over ``input`` is a user turn, ``output`` the reply."""

    input: Any
    output: Any
    id: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExtractRule(StrictModel):
    """How the answer is read from the reply (``extract: last_number`` is short for the type)."""

    type: Literal["text", "last_number", "regex", "json"] = "text"
    pattern: str | None = None
    group: int | str | None = None
    field: str | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> ExtractRule:
        if self.type == "regex":
            if not self.pattern:
                raise ValueError("pattern: required when type is 'regex'")
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern: not a valid regular expression ({exc})") from None
            if isinstance(self.group, int) and self.group > compiled.groups:
                raise ValueError(f"group: the pattern has {compiled.groups} group(s)")
            if isinstance(self.group, str) and self.group not in compiled.groupindex:
                raise ValueError(f"group: the pattern has no group named {self.group!r}")
        elif self.pattern is not None or self.group is not None:
            raise ValueError("pattern: only for type 'regex'")
        if self.field is not None and self.type != "json":
            raise ValueError("field: only for type 'json'")
        return self


class Pricing(StrictModel):
    """Price per million tokens, in the unit of ``budget.max_cost`` (dollars, say)."""

    input_per_mtok: NonNegative
    output_per_mtok: NonNegative


class ChatVariant(StrictModel):
    """An OpenAI-compatible chat-completions endpoint, a model, and how to prompt it."""

    type: Literal["chat"]
    description: str = ""
    base_url: Annotated[str, Field(min_length=1)]
    model: Annotated[str, Field(min_length=1)]
    api_key_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    system: str | None = None
    prompt: str = "{input}"
    examples: list[ChatExample] = Field(default_factory=list)
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    max_tokens: Count | None = None
    seed: int | Literal["trial"] | None = None
    stop: list[Annotated[str, Field(min_length=1)]] | None = None
    extract: ExtractRule = Field(default_factory=ExtractRule)
    pricing: Pricing | None = None
    max_concurrency: Annotated[int, Field(ge=1, le=1024)] = 4
    max_transient_retries: Annotated[int, Field(ge=0, le=100)] = 6
    request_timeout: Seconds = 300.0
    cache: bool = False
    cache_path: str | None = None

    @field_validator("base_url")
    @classmethod
    def _expand_base_url(cls, value: str) -> str:
        expanded = _expand_env(value)
        if not re.match(r"^https?://[^/\s]+", expanded):
            raise ValueError(f"must be an http:// or https:// URL (got {expanded!r})")
        return expanded

    @field_validator("model")
    @classmethod
    def _expand_model(cls, value: str) -> str:
        expanded = _expand_env(value)
        if not expanded.strip():
            raise ValueError("is empty after reading the environment")
        return expanded

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("extract", mode="before")
    @classmethod
    def _extract_shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @field_validator("prompt")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        problems = check_template(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _examples_render(self) -> ChatVariant:
        for i, example in enumerate(self.examples):
            try:
                render(self.prompt, sample_fields(example.model_dump()))
            except PromptError as exc:
                raise ValueError(f"examples[{i}]: {exc}") from None
        return self

    def request_params(self) -> dict[str, Any]:
        """The request's sampling parameters (the seed is added per trial)."""
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
        }
        return {k: v for k, v in params.items() if v is not None}


def _expand_env(value: str) -> str:
    """``${NAME}`` and ``${NAME:-default}`` from the environment of the process loading the config."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found:
            return found
        if default is None:
            raise ValueError(f"environment variable {name} is not set (write ${{{name}:-default}})")
        return default

    return _ENV_REF.sub(replace, value)


@register_kind
class ChatKind(VariantKind):
    name = "chat"
    model = ChatVariant

    def metrics(self, variant: ChatVariant) -> set[str]:
        return {"tokens_in", "tokens_out"}

    def check(self, name: str, variant: ChatVariant, python_path: list[str]) -> list[str]:
        if variant.api_key_env and not os.environ.get(variant.api_key_env):
            return [
                f"variants.{name}.api_key_env: environment variable {variant.api_key_env} "
                "is not set (export it before running)"
            ]
        return []

    def build(self, variant: ChatVariant, context: BuildContext) -> Agent:
        return ChatAgent(variant, context)

    def describe(self, variant: ChatVariant) -> str:
        return f"{variant.model} at {variant.base_url}"


class ChatAgent:
    """One chat variant in one process; safe to call from many threads at once."""

    def __init__(self, variant: ChatVariant, context: BuildContext) -> None:
        api_key = None
        if variant.api_key_env:
            api_key = os.environ.get(variant.api_key_env)
            if not api_key:
                raise RuntimeError(
                    f"environment variable {variant.api_key_env} (api_key_env) is not set "
                    "in the process running the trial"
                )
        self.variant = variant
        self.client = OpenAIChatClient(variant.base_url, api_key)
        self.limiter = endpoint_limiter(variant.base_url, variant.model, variant.max_concurrency)
        self.policy = RetryPolicy(max_retries=variant.max_transient_retries)
        self.timeout = context.timeout
        self.params = variant.request_params()
        self.endpoint = f"{variant.model} at {variant.base_url}"
        self.cache: ResponseCache | None = None
        if variant.cache:
            self.cache = ResponseCache(context.base_dir / (variant.cache_path or DEFAULT_CACHE))

    def __call__(self, context: dict[str, Any]) -> dict[str, Any]:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        messages, params = self._request(context)
        key = None
        if self.cache is not None:
            key = cache_key(
                endpoint=endpoint_key(self.variant.base_url, self.variant.model),
                messages=messages,
                params=params,
                seed=params.get("seed"),
                epoch=context.get("epoch", 0),
            )
            stored = self.cache.get(key)
            if stored is not None:
                return self._result(Completion.from_json(stored), 0, cache_hit=True)
        completion, retries = self._call(messages, params, deadline)
        if self.cache is not None and key is not None:
            self.cache.put(key, completion.to_json())
        return self._result(completion, retries, cache_hit=False)

    def _request(self, context: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """The trial's messages and request parameters (with its seed)."""
        messages = build_messages(
            system=self.variant.system,
            examples=[e.model_dump() for e in self.variant.examples],
            template=self.variant.prompt,
            sample=context.get("sample") or {},
        )
        params = dict(self.params)
        seed = context.get("seed") if self.variant.seed == "trial" else self.variant.seed
        if seed is not None:
            params["seed"] = int(seed)
        return messages, params

    def _call(
        self, messages: list[dict[str, str]], params: dict[str, Any], deadline: float | None
    ) -> tuple[Completion, int]:
        def attempt(left: float | None) -> Completion:
            timeout = (
                self.variant.request_timeout
                if left is None
                else min(left, self.variant.request_timeout)
            )
            if timeout <= 0:
                raise TransientError("unavailable", "no time left", timed_out=True)
            return self.client.complete(self.variant.model, messages, params, timeout)

        try:
            return call_with_retries(
                attempt,
                policy=self.policy,
                limiter=self.limiter,
                deadline=deadline,
                describe=self.endpoint,
            )
        except DeadlineExceeded as exc:
            raise ChatTimeout(str(exc), exc.transient_retries) from None

    def _result(self, completion: Completion, retries: int, *, cache_hit: bool) -> dict[str, Any]:
        answer, problem = extract(completion.text, self.variant.extract)
        details: dict[str, Any] = {
            "finish_reason": completion.finish_reason,
            "model": completion.model,
            "cache_hit": cache_hit,
        }
        if self.variant.extract.type != "text":
            details["text"] = completion.text
        if problem:
            details["extract_error"] = problem
        result: dict[str, Any] = {
            "output": answer,
            "details": details,
            "transient_retries": retries,
        }
        if completion.tokens_in is not None:
            result["tokens_in"] = completion.tokens_in
        if completion.tokens_out is not None:
            result["tokens_out"] = completion.tokens_out
        result["cost"] = 0.0 if cache_hit else self._cost(completion, retries)
        return result

    def _cost(self, completion: Completion, retries: int) -> float:
        pricing = self.variant.pricing
        if pricing is None:
            return 0.0
        if completion.tokens_in is None or completion.tokens_out is None:
            error = ChatRequestError(
                f"{self.endpoint}: pricing is set but the response reports no token usage"
            )
            error.transient_retries = retries
            raise error
        return (
            completion.tokens_in * pricing.input_per_mtok
            + completion.tokens_out * pricing.output_per_mtok
        ) / 1_000_000
