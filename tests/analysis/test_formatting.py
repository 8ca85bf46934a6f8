"""The one escaper, the one code span and the number formatters, on hostile and edge-case input.

Escaped text is rendered with markdown-it (CommonMark plus GFM tables and strike-through, as GitHub
renders it) and must come back as exactly the text it was, with no element of its own.
"""

from __future__ import annotations

import html
import re

import pytest

from meta_orchestrator.analysis.formatting import (
    DASH,
    code_span,
    escape_text,
    format_duration,
    format_number,
    format_p_value,
    format_percent,
    format_setting_percent,
)

markdown_it = pytest.importorskip("markdown_it")
MD = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])

HOSTILE = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "`rm -rf /`",
    "a``b`",
    "`",
    "name|with|pipes",
    "$x$ and $$y^2$$",
    "line one\nline two\r\n\tthree  ",
    "**bold** _it_ [link](javascript:alert(1)) ~~gone~~ ![img](x.png)",
    "# heading",
    "> quote",
    "- item",
    "1. item",
    "---",
    "&lt;b&gt; &amp; &#60;",
    "back\\slash \\` \\| \\",
    "",
]


def flat(value: str) -> str:
    return " ".join(value.split())


def rendered_paragraph(markdown: str) -> str:
    out = MD.render(markdown).strip()
    if not out:
        return ""
    match = re.fullmatch(r"<p>(.*)</p>", out, flags=re.S)
    assert match, f"{markdown!r} rendered as more than a paragraph: {out!r}"
    return match[1]


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_text_renders_as_exactly_the_text(value: str) -> None:
    escaped = escape_text(value)
    assert "\n" not in escaped
    inner = rendered_paragraph(escaped)
    assert "<" not in inner  # no element: every tag character came out as &lt;
    assert html.unescape(inner) == flat(value)


@pytest.mark.parametrize("value", HOSTILE)
def test_escaped_text_leaves_nothing_for_latex(value: str) -> None:
    # Streamlit's Markdown reads $...$ as math; an escaped dollar is a literal one.
    assert re.search(r"(?<!\\)\$", escape_text(value)) is None


@pytest.mark.parametrize("value", HOSTILE)
def test_code_span_shows_the_text_verbatim(value: str) -> None:
    span = code_span(value)
    assert "\n" not in span
    inner = rendered_paragraph(span)
    assert inner.startswith("<code>") and inner.endswith("</code>")
    assert html.unescape(inner[len("<code>") : -len("</code>")]) == (flat(value) or " ")


@pytest.mark.parametrize("value", HOSTILE)
def test_table_cells_stay_one_cell(value: str) -> None:
    table = "\n".join(
        [
            "| code | text | after |",
            "|---|---|---|",
            f"| {code_span(value, table=True)} | {escape_text(value)} | end |",
        ]
    )
    out = MD.render(table)
    cells = re.findall(r"<td>(.*?)</td>", out, flags=re.S)
    assert len(cells) == 3, out
    assert html.unescape(re.sub(r"</?code>", "", cells[0])) == (flat(value) or " ")
    assert html.unescape(cells[1]) == flat(value)
    assert cells[2] == "end"


def test_escapes_by_example() -> None:
    assert escape_text("<b>a|b</b>") == "\\<b\\>a\\|b\\</b\\>"
    assert escape_text("cost $5 & up") == "cost \\$5 &amp; up"
    assert escape_text("two\nlines") == "two lines"
    assert escape_text("- not a list") == "\\- not a list"
    assert escape_text("1.5 s, a - b") == "1.5 s, a - b"
    assert code_span("plain") == "`plain`"
    assert code_span("x*y_`z`") == "`` x*y_`z` ``"
    assert code_span("a|b", table=True) == "`a\\|b`" and code_span("a|b") == "`a|b`"


def test_p_values() -> None:
    assert format_p_value(None) == DASH
    assert format_p_value(0.0) == format_p_value(0.000999) == "<0.001"
    assert format_p_value(0.001) == "0.001"
    assert format_p_value(0.04449) == "0.044"
    assert format_p_value(1.0) == "1.000"


def test_numbers() -> None:
    assert format_number(None) == DASH and format_number(None, signed=True) == DASH
    assert format_number(0.8766) == "0.877" and format_number(0.06021, 4) == "0.0602"
    assert format_number(-0.3961, signed=True) == "-0.396"
    assert format_number(0.119, signed=True) == "+0.119" and format_number(0.4, 2) == "0.40"


def test_percentages() -> None:
    assert format_percent(None) == DASH
    assert format_percent(0.8124) == "81.2%"
    assert format_percent(1.0) == "100.0%" and format_percent(0.0) == "0.0%"
    assert format_percent(0.0123, signed=True) == "+1.2%"
    assert format_percent(-0.05, signed=True) == "-5.0%"
    assert format_setting_percent(0.02) == "2%"
    assert format_setting_percent(1 - 0.05) == "95%"
    assert format_setting_percent(0.995) == "99.5%"


def test_durations() -> None:
    assert format_duration(None) == DASH
    assert format_duration(0) == "0.0 s"
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(59.96) == "1 min 00 s"  # never "60.0 s"
    assert format_duration(245) == "4 min 05 s"
    assert format_duration(3599.6) == "1 h 00 min"
    assert format_duration(3720) == "1 h 02 min"
    assert format_duration(26 * 3600) == "26 h 00 min"


# ------------------------------------------------------------------------------------ intervals
def test_an_interval_without_width_is_never_shown_as_one() -> None:
    from meta_orchestrator.analysis.formatting import format_interval

    assert format_interval(0.95, 0.95, n=60) == "n/a (no variance in 60 trials)"
    assert format_interval(1.0, 1.0, n=1) == "n/a (no variance in 1 trial)"
    assert format_interval(0.1, 0.3, n=9) == "[0.100, 0.300]"
    assert format_interval(0.94, 1.0, n=60, percent=True) == "[94.0%, 100.0%]"
    assert format_interval(None, 0.3, n=9) == DASH


@pytest.mark.parametrize("n", [30, 60, 300])
def test_the_rule_of_three_is_the_exact_one_sided_95_percent_bound_within_a_tenth(n: int) -> None:
    from scipy.stats import beta

    from meta_orchestrator.analysis.formatting import rule_of_three

    exact = beta.ppf(0.95, 1, n)  # Clopper-Pearson upper bound for 0 events in n
    assert abs(3 / n - exact) / exact < 0.1
    assert rule_of_three(n, n) == f"failure rate ≤ {100 * 3 / n:.1f}% (95%, rule of three)"
    assert rule_of_three(0, n) == f"success rate ≤ {100 * 3 / n:.1f}% (95%, rule of three)"
    assert rule_of_three(n // 2, n) is None
    assert rule_of_three(0, 0) is None
