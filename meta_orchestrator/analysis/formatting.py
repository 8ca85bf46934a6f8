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
