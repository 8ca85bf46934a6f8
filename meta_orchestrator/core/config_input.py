"""What the config loader accepts as input, before any field is validated: bytes, YAML, numbers.

A config is read by people and written by anyone, so the loader refuses, with one line naming the
file and line, what PyYAML and pydantic would otherwise accept silently or choke on:

* a file that cannot be read, or is larger than ``MAX_CONFIG_BYTES`` (read no further than that);
* bytes that are not UTF-8;
* a key given twice in one mapping (YAML lets the last one win without a word);
* an alias "bomb": aliases whose expansion exceeds ``MAX_NODES`` nodes, or an alias to itself
  (PyYAML shares the nodes, but every later walk over the data, pydantic's included, expands them);
* numbers that break everything downstream: ``.inf``/``.nan`` anywhere, integers beyond 64 bits.

``parse_yaml`` also returns where each dotted path sits in the text (``{"variants.a.cost": 7}``),
so every problem found later can say which line to fix (``annotate``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from meta_orchestrator.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # a config is hand-written; samples live in dataset files
MAX_NODES = 100_000  # YAML nodes after expanding aliases
INT64 = (-(1 << 63), (1 << 63) - 1)
_MERGE_TAG = "tag:yaml.org,2002:merge"

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_NODES",
    "annotate",
    "number_problems",
    "parse_yaml",
    "read_config_bytes",
]


def read_config_bytes(path: Path) -> str:
    """The text of the config file ``path``; ``ConfigError`` (exit 2) when it cannot be used."""
    if path.is_dir():
        raise _one(f"{path}: is a folder, not a config file")
    if not path.exists():
        raise _one(f"{path}: file not found", f"config file not found: {path}")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise _one(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise _one(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; is this a config file?")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _one(
            f"{path} line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None


def parse_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """The data of one YAML document and the line (1-based) of each dotted path in it."""
    if len(text) > MAX_CONFIG_BYTES:
        raise _one(f"{source}: larger than {MAX_CONFIG_BYTES // 1024} KiB")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_expansion(node, source)
        lines: dict[str, int] = {}
        _walk(node, "", lines, source)
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        raise _one(f"{source}: not valid YAML: {exc}".replace("\n", " ")) from exc
    except RecursionError:
        raise _one(f"{source}: nested too deeply to be a config") from None
    finally:
        loader.dispose()


def number_problems(data: Any, path: str = "") -> list[str]:
    """Every non-finite float and every integer beyond 64 bits in ``data``, by dotted path."""
    problems: list[str] = []
    if isinstance(data, bool):
        return problems
    if isinstance(data, float) and not math.isfinite(data):
        problems.append(f"{path or '<root>'}: must be a finite number (got {data!r})")
    elif isinstance(data, int) and not INT64[0] <= data <= INT64[1]:
        problems.append(f"{path or '<root>'}: integer out of range (more than 64 bits)")
    elif isinstance(data, Mapping):
        for key, value in data.items():
            problems.extend(number_problems(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(data, list | tuple):
        for i, value in enumerate(data):
            problems.extend(number_problems(value, f"{path}[{i}]"))
    return problems


def annotate(problem: str, lines: Mapping[str, int], source: str) -> str:
    """``problem`` ("path: message") with the file line of its path, or of its closest parent."""
    path = problem.partition(": ")[0]
    while path:
        line = lines.get(path)
        if line is not None:
            return f"{problem} ({source} line {line})"
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return problem


def _check_expansion(root: Node, source: str) -> None:
    """Count the nodes the document has once aliases are expanded, without expanding them."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _one(f"{source} line {node.start_mark.line + 1}: an alias refers to itself")
        open_nodes.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        if total > MAX_NODES:
            raise _one(
                f"{source} line {node.start_mark.line + 1}: aliases expand to more than "
                f"{MAX_NODES:,} values; is this an alias bomb?"
            )
        sizes[key] = total
        return total

    size(root)


def _walk(node: Node, path: str, lines: dict[str, int], source: str) -> None:
    if isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            child_path = f"{path}[{i}]"
            lines.setdefault(child_path, child.start_mark.line + 1)
            _walk(child, child_path, lines, source)
    elif isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                _walk(value_node, path, lines, source)
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            child_path = f"{path}.{key}" if path else key
            if key in seen:
                raise _one(
                    f"{child_path}: duplicate key '{key}' ({source} line {line}; first at line "
                    f"{seen[key]}); YAML would silently keep the last one"
                )
            seen[key] = line
            lines.setdefault(child_path, line)
            _walk(value_node, child_path, lines, source)


def _one(problem: str, message: str | None = None) -> ConfigError:
    return ConfigError(message or problem, [problem])
