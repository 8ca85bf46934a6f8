"""The score chart drawn on the server as SVG, for a finished run's first view (``st.image``).

Why not Vega, as every other chart: Streamlit loads Vega (about 1 MB of JavaScript) and compiles
the spec in the browser the first time a page shows a Vega chart, and at 800 points the CSP-safe
expression interpreter it uses adds more. That alone costs about a second on a 2-core machine,
more than everything else a finished run's overview draws. An SVG image costs the browser nothing
to speak of. The overview shows this picture; the run's **Charts** view has the interactive Vega
charts (tooltips, the bandit's choices, histograms), drawn from the same ``RunView.series_frame``.

The picture matches ``charts.score_over_time``: the same colours per variant (Vega's
``tableau10`` over the sorted variant names), the same y range (``charts.score_domain``), a line
per variant and its band. Variant names are XML-escaped; the image is shown in an ``<img>``, where
an SVG can run no script.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

import pandas as pd

from meta_orchestrator.dashboard.charts import HEIGHT, score_domain

WIDTH = 900  # the SVG's own size; the page scales it to the column (viewBox)
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 40  # plot margins in SVG pixels
LEGEND_ROW = 18
# Vega's "tableau10" scheme, which the interactive charts use: a variant keeps its colour.
TABLEAU10 = [
    "#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b",
    "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
]  # fmt: skip


def colours(variants: list[str]) -> dict[str, str]:
    """Each variant's colour, as Vega assigns it: the sorted names in turn, cycling."""
    return {name: TABLEAU10[i % len(TABLEAU10)] for i, name in enumerate(sorted(variants))}


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) in [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    value = first * step
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 12))
        first += 1
        value = first * step
    return ticks


def _label(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.3g}"


class _Frame:
    """Data coordinates to SVG pixels for one plot area."""

    def __init__(self, x_max: float, y_domain: list[float], height: int) -> None:
        self.x_max = x_max or 1.0
        self.y_low, self.y_high = y_domain
        self.width = WIDTH - LEFT - RIGHT
        self.height = height - TOP - BOTTOM

    def x(self, value: float) -> float:
        return LEFT + self.width * value / self.x_max

    def y(self, value: float) -> float:
        span = (self.y_high - self.y_low) or 1.0
        return TOP + self.height * (1 - (value - self.y_low) / span)


def score_over_time_svg(
    series: pd.DataFrame, variants: list[str] | None = None, band: str = "95% CI"
) -> str:
    """Running mean score of each variant against trials completed, with its band, as SVG.

    ``series`` has ``variant, trials, n, mean, low, high`` (``RunView.series_frame``); ``band``
    names the band in the y axis title, as in the Vega chart.
    """
    names = variants or series["variant"].unique().tolist()
    palette = colours(names)
    shown = [name for name in names if name in set(series["variant"])]
    legend_rows = math.ceil(len(shown) / 4)
    height = HEIGHT + LEGEND_ROW * legend_rows
    frame = _Frame(float(series["trials"].max()), score_domain(series), HEIGHT)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="11">',
        f"<title>running mean score ({escape(band)}) per variant</title>",
        '<defs><clipPath id="plot">'
        f'<rect x="{LEFT}" y="{TOP}" width="{frame.width}" height="{frame.height}"/>'
        "</clipPath></defs>",
        *_axes(frame, band),
    ]
    for name in shown:
        rows = series[series["variant"] == name].sort_values("trials")
        parts += _variant_marks(rows, frame, palette[name])
    parts += _legend(shown, palette, frame)
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(frame: _Frame, band: str) -> list[str]:
    bottom = TOP + frame.height
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{frame.width}" height="{frame.height}" '
        'fill="none" stroke="#ddd"/>'
    ]
    for tick in nice_ticks(frame.y_low, frame.y_high):
        y = frame.y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + frame.width}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
            f"{_label(tick)}</text>"
        )
    for tick in nice_ticks(0.0, frame.x_max):
        x = frame.x(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">'
            f"{_label(tick)}</text>"
        )
    middle = TOP + frame.height / 2
    parts.append(
        f'<text x="{LEFT + frame.width / 2}" y="{bottom + 32}" text-anchor="middle" '
        'fill="#333">trials completed in the experiment</text>'
        f'<text transform="translate(14 {middle:.1f}) rotate(-90)" text-anchor="middle" '
        f'fill="#333">running mean score ({escape(band)})</text>'
    )
    return parts


def _variant_marks(rows: pd.DataFrame, frame: _Frame, colour: str) -> list[str]:
    """The band (where both bounds exist) under the line of running means."""
    parts = []
    banded = rows.dropna(subset=["low", "high"])
    if len(banded) > 1:
        upper = [f"{frame.x(t):.1f},{frame.y(h):.1f}" for t, h in zip(banded["trials"], banded["high"], strict=True)]  # fmt: skip
        lower = [f"{frame.x(t):.1f},{frame.y(lo):.1f}" for t, lo in zip(banded["trials"], banded["low"], strict=True)]  # fmt: skip
        points = " ".join(upper + lower[::-1])
        parts.append(
            f'<polygon clip-path="url(#plot)" points="{points}" fill="{colour}" '
            'fill-opacity="0.18" stroke="none"/>'
        )
    line = " ".join(
        f"{frame.x(t):.1f},{frame.y(m):.1f}"
        for t, m in zip(rows["trials"], rows["mean"], strict=True)
    )
    parts.append(
        f'<polyline clip-path="url(#plot)" points="{line}" fill="none" stroke="{colour}" '
        'stroke-width="2"/>'
    )
    return parts


def _legend(names: list[str], palette: dict[str, str], frame: _Frame) -> list[str]:
    """Up to four variants a row under the x axis title."""
    parts = []
    column_width = frame.width / 4
    for i, name in enumerate(names):
        x = LEFT + column_width * (i % 4)
        y = TOP + frame.height + BOTTOM + 6 + LEGEND_ROW * (i // 4)
        label = name if len(name) <= 40 else name[:39] + "…"
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="12" height="12" fill="{palette[name]}"/>'
            f'<text x="{x + 17:.1f}" y="{y + 10}" fill="#333">{escape(label)}'
            f"<title>{escape(name)}</title></text>"
        )
    return parts
