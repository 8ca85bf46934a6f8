"""Messages from a sample: templates over the sample's fields, few-shot turns, clear errors."""

from __future__ import annotations

import pytest

from meta_orchestrator.core.llm.prompt import PromptError, build_messages, check_template, render


def test_fields_of_the_sample_and_json_for_structures() -> None:
    sample = {
        "id": "q7",
        "input": {"question": "2+2?", "choices": [3, 4]},
        "metadata": {"level": 1},
    }
    fields = {"input": sample["input"], "id": "q7", "metadata": sample["metadata"]}
    assert render("{id}: {input[question]} {input[choices]}", fields) == "q7: 2+2? [3, 4]"
    assert render("{input}", fields) == '{"question": "2+2?", "choices": [3, 4]}'
    assert render("level {metadata[level]} {{literal}} {input[choices][-1]}", fields) == (
        "level 1 {literal} 4"
    )


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{question}", "unknown field {question}"),
        ("{question}", "a key of the input is {input[question]}"),
        ("{}", "name a field"),
        ("{0}", "name a field"),
        ("{input.question}", "reach inside a field with [key]"),
        ("{input", "not a valid template"),
        ("{input:{width}}", "nested fields"),
    ],
)
def test_template_problems_found_without_a_sample(template: str, problem: str) -> None:
    assert any(problem in p for p in check_template(template)), check_template(template)


def test_good_templates_have_no_problems() -> None:
    for template in ("{input}", "Q: {input[q]} ({id}, {metadata[topic]})", "no fields", "{target}"):
        assert check_template(template) == []


def test_a_field_the_sample_lacks_is_a_prompt_error_naming_it() -> None:
    with pytest.raises(PromptError, match=r"\{input\[question\]\}.*no \[question\]"):
        render("{input[question]}", {"input": {"q": 1}, "id": "", "metadata": {}})
    with pytest.raises(PromptError, match="expose_target: true"):
        render("{target}", {"input": "x", "id": "", "metadata": {}})


def test_messages_system_examples_then_the_sample() -> None:
    messages = build_messages(
        system="Answer with a number.",
        examples=[{"input": {"q": "1+1"}, "output": 2}, {"input": {"q": "2+3"}, "output": "5"}],
        template="Q: {input[q]}",
        sample={"id": "s1", "input": {"q": "3+4"}, "metadata": {}},
    )
    assert messages == [
        {"role": "system", "content": "Answer with a number."},
        {"role": "user", "content": "Q: 1+1"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "Q: 2+3"},
        {"role": "assistant", "content": "5"},
        {"role": "user", "content": "Q: 3+4"},
    ]


def test_no_system_message_when_none_is_configured() -> None:
    messages = build_messages(system=None, examples=[], template="{input}", sample={"input": "hi"})
    assert messages == [{"role": "user", "content": "hi"}]
