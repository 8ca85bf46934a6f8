"""The agent's reply contract: what a variant returns, and what the harness keeps of it.

An agent returns a mapping. Three keys are reserved:

* ``output`` — the answer, any JSON value; the scorers judge it and the store keeps it (up to
  ``trial.max_output_bytes``, see ``truncate_output``);
* ``details`` — a JSON object of non-numeric facts (a model's ``finish_reason``, a tool's version);
* ``transient_retries`` — an int: how often the agent retried transient faults itself.

Every other key is a numeric metric (``scoring.validate_metrics``). An exception an agent raises may
carry ``error_kind`` (a string such as ``"rate_limited"``) and ``transient_retries`` (an int): the
trial is then recorded as an ``error`` with that kind and count (``exception_facts``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meta_orchestrator.core.scoring import MalformedResult

RESERVED_KEYS: tuple[str, ...] = ("output", "details", "transient_retries")
DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024


@dataclass(slots=True)
class AgentReply:
    """A reply split into its metrics (not yet validated) and its reserved parts."""

    metrics: Mapping[str, Any]
    output: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    transient_retries: int = 0


def parse_reply(variant: str, raw: Any) -> AgentReply:
    """Split ``raw`` by the contract; ``MalformedResult`` naming the variant and the field if not."""
    if (
        type(raw) is dict
        and "output" not in raw
        and "details" not in raw
        and "transient_retries" not in raw
    ):
        return AgentReply(raw)  # the common, metrics-only reply: no copy, no ABC check
    if not isinstance(raw, Mapping):
        raise MalformedResult(
            f"variant '{variant}' returned {type(raw).__name__}, expected a mapping of metrics "
            "such as {'success': True, 'cost': 0.01}"
        )
    if not any(key in raw for key in RESERVED_KEYS):
        return AgentReply(raw)  # the common, metrics-only reply: no copy
    metrics = {k: v for k, v in raw.items() if k not in RESERVED_KEYS}
    output = raw.get("output")
    _require_json(variant, "output", output)
    details = raw.get("details")
    if details is None:
        details = {}
    if not isinstance(details, Mapping) or not all(isinstance(k, str) for k in details):
        raise MalformedResult(
            f"variant '{variant}': field 'details' must be a JSON object, got "
            f"{type(details).__name__}"
        )
    _require_json(variant, "details", details)
    retries = raw.get("transient_retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise MalformedResult(
            f"variant '{variant}': field 'transient_retries' must be an int >= 0, got {retries!r}"
        )
    return AgentReply(metrics, output, dict(details), retries)


def exception_facts(exc: BaseException) -> tuple[str, int]:
    """``(error_kind, transient_retries)`` of an agent's exception: its own, else ``exception``."""
    kind = getattr(exc, "error_kind", None)
    retries = getattr(exc, "transient_retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        retries = 0
    return (kind if isinstance(kind, str) and kind else "exception"), retries


def truncate_output(output: Any, limit: int) -> tuple[Any, bool]:
    """``(kept, truncated)``: ``output`` if its JSON fits in ``limit`` bytes, else its beginning.

    A string is cut to its first ``limit`` bytes (at a character boundary); any other value is
    kept as the beginning of its JSON text (a string), since half a JSON value is not JSON.
    """
    if output is None:
        return None, False
    if isinstance(output, str):
        if len(output) * 4 <= limit:  # fits whatever the characters
            return output, False
        encoded = output.encode("utf-8")
        if len(encoded) <= limit:
            return output, False
        return encoded[:limit].decode("utf-8", errors="ignore"), True
    if isinstance(output, bool | int | float):
        return output, False
    text = json.dumps(output, ensure_ascii=False, allow_nan=False)
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return output, False
    return encoded[:limit].decode("utf-8", errors="ignore"), True


def _require_json(variant: str, name: str, value: Any) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MalformedResult(f"variant '{variant}': field '{name}' is not JSON ({exc})") from None
