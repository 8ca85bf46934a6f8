"""Two arithmetic agents for the datasets example: they read the sample, and answer.

Both really compute the answer (``ast``, no ``eval``), then make the kind of slips a model makes:
more often on longer numbers. ``careful`` checks its work once and so slips less, at twice the cost.
The seed of each trial drives the slips, so a run is reproducible and each epoch differs.
"""

from __future__ import annotations

import ast
import operator
import random
from typing import Any

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def evaluate(expression: str) -> int:
    """The value of an integer expression with + - * (anything else raises ValueError)."""

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(f"not an arithmetic expression: {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


def _attempt(expression: str, rng: random.Random, slip_per_digit: float) -> int:
    value = evaluate(expression)
    digits = max(len(token) for token in expression.split() if token.isdigit())
    if rng.random() < slip_per_digit * digits:
        value += rng.choice([-10, -1, 1, 10])  # a carry gone wrong
    return value


def direct(context: dict[str, Any], slip_per_digit: float = 0.08) -> dict[str, Any]:
    """Answers at once."""
    rng = random.Random(context["seed"])
    answer = _attempt(context["sample"]["input"], rng, slip_per_digit)
    return {"output": str(answer), "cost": 0.001, "details": {"strategy": "direct"}}


def careful(context: dict[str, Any], slip_per_digit: float = 0.08) -> dict[str, Any]:
    """Works the sum twice and answers when both agree; otherwise a third time decides."""
    rng = random.Random(context["seed"])
    expression = context["sample"]["input"]
    first, second = (_attempt(expression, rng, slip_per_digit) for _ in range(2))
    answer = first if first == second else _attempt(expression, rng, slip_per_digit)
    return {"output": str(answer), "cost": 0.002, "details": {"strategy": "careful"}}
