"""Reading the answer from a reply: text, last number, regex, JSON; a missing answer is not a crash."""

from __future__ import annotations

from typing import Any

import pytest

from meta_orchestrator.core.kinds.chat import ExtractRule
from meta_orchestrator.core.llm.extract import extract


def rule(**fields: Any) -> ExtractRule:
    return ExtractRule(**fields)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  The answer is 42.\n", "The answer is 42."),
    ],
)
def test_text(text: str, expected: str) -> None:
    assert extract(text, rule()) == (expected, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 + 3 = 5", 5),
        ("It costs 1,234.50 dollars, not 99", 99),
        ("Total: 1,234.50", 1234.5),
        ("minus: -17.", -17),
        ("x is 3.0", 3.0),
        ("about 6.02e23 atoms", 6.02e23),
    ],
)
def test_last_number(text: str, expected: float) -> None:
    value, problem = extract(text, rule(type="last_number"))
    assert problem is None and value == expected and type(value) is type(expected)


def test_no_number_is_an_answer_of_none_with_the_reason() -> None:
    assert extract("I cannot say.", rule(type="last_number")) == (None, "no number in the reply")


def test_regex_group_defaults_to_the_first_group() -> None:
    text = "Reasoning... ANSWER: Paris\nmore"
    assert extract(text, rule(type="regex", pattern=r"ANSWER:\s*(\w+)")) == ("Paris", None)
    assert extract(text, rule(type="regex", pattern=r"ANSWER:\s*\w+")) == ("ANSWER: Paris", None)
    named = rule(type="regex", pattern=r"(?P<city>P\w+)", group="city")
    assert extract(text, named) == ("Paris", None)
    value, problem = extract("nothing", rule(type="regex", pattern=r"ANSWER: (\w+)"))
    assert value is None and "does not match" in (problem or "")


@pytest.mark.parametrize(
    "text",
    [
        '{"answer": 7, "why": "because"}',
        'Sure! ```json\n{"answer": 7}\n``` Hope that helps.',
        'The result is {"answer": 7} as requested.',
    ],
)
def test_json_with_a_field(text: str) -> None:
    assert extract(text, rule(type="json", field="answer")) == (7, None)


def test_json_nested_field_and_missing_field() -> None:
    text = '{"result": {"values": [1, 2, 3]}}'
    assert extract(text, rule(type="json", field="result.values.2")) == (3, None)
    assert extract(text, rule(type="json", field="result.nope"))[0] is None
    assert extract("no json here", rule(type="json")) == (None, "no JSON value in the reply")
