"""One chat-completions request through the official ``openai`` client, and nothing more.

The client is created with ``max_retries=0``: retries belong to ``retry.call_with_retries``, which
counts them and keeps them inside the trial's deadline. Every request gets its own timeout (the
trial's time left, or ``request_timeout`` if smaller) for connecting, writing, reading and waiting
for a pooled connection, so a request that outlives its trial is closed, not left running.

``openai`` is imported when a client is built; without it, ``MissingDependencyError`` names the
``[llm]`` extra. Error messages never contain the API key, even when a server echoes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meta_orchestrator.core.llm.retry import (
    TransientError,
    parse_retry_after,
    transient_kind_of_status,
)
from meta_orchestrator.errors import MissingDependencyError

__all__ = ["ChatRequestError", "Completion", "OpenAIChatClient"]

PLACEHOLDER_KEY = "not-needed"  # local servers need no key; the client insists on one


@dataclass(frozen=True)
class Completion:
    """What a trial keeps of a response."""

    text: str
    finish_reason: str | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        return cls(
            data["text"],
            data.get("finish_reason"),
            data.get("model"),
            data.get("tokens_in"),
            data.get("tokens_out"),
        )


class ChatRequestError(RuntimeError):
    """The endpoint refused the request for good (400, 401, 404, ...): retrying will not help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.transient_retries = 0


class OpenAIChatClient:
    """A thread-safe ``openai.OpenAI`` client for one base URL, without its own retries."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        try:
            import openai
        except ImportError as exc:
            raise MissingDependencyError("openai", "llm", "A chat variant") from exc
        self._openai = openai
        self._secret = api_key or ""
        self.base_url = base_url
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or PLACEHOLDER_KEY, max_retries=0
        )

    def complete(
        self, model: str, messages: list[dict[str, str]], params: dict[str, Any], timeout: float
    ) -> Completion:
        """One request. Raises ``TransientError`` (worth retrying) or ``ChatRequestError``."""
        openai = self._openai
        try:
            response = self._client.chat.completions.create(
                model=model, messages=messages, timeout=timeout, **params
            )
        except openai.APITimeoutError:
            raise TransientError(
                "unavailable", f"no response within {timeout:.1f}s", timed_out=True
            ) from None
        except openai.APIConnectionError as exc:
            raise TransientError("unavailable", self._scrub(_connection_reason(exc))) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APIError as exc:  # a 200 whose body is not a completion
            raise ChatRequestError(self._scrub(f"unusable response: {exc}")) from None
        return _completion(response)

    def close(self) -> None:
        self._client.close()

    def _status_error(self, exc: Any) -> Exception:
        status = int(exc.status_code)
        message = self._scrub(f"HTTP {status}: {_message(exc)}")
        kind = transient_kind_of_status(status)
        if kind is None:
            return ChatRequestError(message, status)
        retry_after = parse_retry_after(dict(exc.response.headers))
        return TransientError(kind, message, retry_after=retry_after)

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if len(self._secret) >= 4 else text


def _completion(response: Any) -> Completion:
    if not response.choices:
        raise ChatRequestError("the response has no choices")
    choice = response.choices[0]
    usage = getattr(response, "usage", None)
    return Completion(
        text=choice.message.content or "",
        finish_reason=choice.finish_reason,
        model=response.model,
        tokens_in=getattr(usage, "prompt_tokens", None),
        tokens_out=getattr(usage, "completion_tokens", None),
    )


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
        if isinstance(inner, str):
            return inner[:500]
    return str(getattr(exc, "message", exc))[:500]


def _connection_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if cause is None:
        return str(exc)
    return f"connection failed ({type(cause).__name__}: {cause})"[:500]
