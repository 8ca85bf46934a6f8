"""How user text and numbers are shown: one way in summary.md, the comparison report, the CLI's
``compare`` table and the dashboard.

* ``escape_text`` makes user text (run, experiment and variant names, error and log messages) inert
  Markdown, safe both on GitHub (summary.md and the comparison are posted as pull-request comments)
  and in Streamlit, whose Markdown also reads ``$...$`` as LaTeX. ``code_span`` shows a name as
  inline code whatever backticks it holds; ``table=True`` escapes ``|``, which splits a GFM table
  cell even inside a code span.
* A p-value is ``<0.001`` or three decimals; a measured share (a success rate, a relative change, a
  bandit's choice share, power) is a percentage with one decimal; a duration is ``12.3 s``,
  ``4 min 05 s`` or ``1 h 02 min``. A setting the user chose (a 2% budget, a 95% interval) is echoed
  as given, with ``format_setting_percent``. A missing number is ``DASH``.
* An interval is never shown with zero width, which reads as certainty: ``format_interval`` prints
  ``n/a (no variance in 60 trials)`` instead, and ``rule_of_three`` gives the bound that is honest
  when all n trials succeeded (or all failed): the true rate is within 3/n of it, at 95%.
"""

from __future__ import annotations

import re

DASH = "—"

# Characters that open emphasis, code, links, HTML, headings, tables, strike-through and LaTeX;
# and, where the text opens a line, a list item ("- x", "+ x", "1. x") or a rule ("---", "===").
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")
_LINE_START = re.compile(r"^([-+=]|\d{1,9}[.)](?=\s|$))")
_BACKTICKS = re.compile(r"`+")


# ------------------------------------------------------------------------------------ user text
def escape_text(value: object) -> str:
    """User text made inert in GitHub and Streamlit Markdown: one line, special characters
    backslash-escaped, ``&`` as ``&amp;`` (so no HTML entity is decoded). Safe in table cells."""
    flat = " ".join(str(value).split())
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", flat).replace("&", "&amp;")
    return _LINE_START.sub(lambda m: m[1][:-1] + "\\" + m[1][-1], escaped)


def code_span(value: object, *, table: bool = False) -> str:
    """User text as one inline code span, shown verbatim; ``table=True`` inside a table cell."""
    flat = " ".join(str(value).split())
    if not flat:
        return "` `"  # an empty span would be two literal backticks
    ticks = "`" * (max((len(run) for run in _BACKTICKS.findall(flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    if table:
        flat = flat.replace("|", "\\|")
    return f"{ticks}{pad}{flat}{pad}{ticks}"


# -------------------------------------------------------------------------------------- numbers
def format_p_value(p: float | None) -> str:
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_number(value: float | None, digits: int = 3, *, signed: bool = False) -> str:
    """A statistic with ``digits`` decimals (with its sign when ``signed``: a difference)."""
    if value is None:
        return DASH
    return f"{value:{'+' if signed else ''}.{digits}f}"


def format_percent(fraction: float | None, *, signed: bool = False) -> str:
    """A measured share as a percentage with one decimal: ``82.5%`` (``+1.2%`` when ``signed``)."""
    if fraction is None:
        return DASH
    return f"{100 * fraction:{'+' if signed else ''}.1f}%"


def format_setting_percent(fraction: float) -> str:
    """A setting as the user gave it (``0.02`` is ``2%``, ``0.995`` is ``99.5%``), not rounded."""
    return f"{100 * fraction:.3g}%"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 59.95:  # what would print as "60.0 s" is "1 min 00 s"
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ------------------------------------------------------------------------------------ intervals
def format_interval(
    low: float | None, high: float | None, *, n: int, digits: int = 3, percent: bool = False
) -> str:
    """``[low, high]``, or ``n/a (no variance in n trials)`` where the interval has no width.

    A t interval over scores that are all equal has zero width, and "[0.950, 0.950]" would claim
    certainty that 60 trials cannot give; ``rule_of_three`` says what they do show.
    """
    if low is None or high is None:
        return DASH
    if high - low <= 1e-12 * max(1.0, abs(low), abs(high)):
        return f"n/a (no variance in {n} trial{'' if n == 1 else 's'})"
    if percent:
        return f"[{format_percent(low)}, {format_percent(high)}]"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def rule_of_three(successes: int, trials: int) -> str | None:
    """With every trial a success (or every one a failure), the one-sided 95% bound on the other
    outcome's rate is about 3/n (Hanley & Lippman-Hand 1983); ``None`` otherwise or for n < 1."""
    if trials < 1 or 0 < successes < trials:
        return None
    bound = format_percent(min(1.0, 3 / trials))
    other = "failure" if successes == trials else "success"
    return f"{other} rate ≤ {bound} (95%, rule of three)"
