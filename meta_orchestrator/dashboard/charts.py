"""Vega-Lite specs for the dashboard's charts, drawn with ``st.vega_lite_chart(spec)``.

Plain dicts rather than Altair objects: Altair validates every chart against the Vega-Lite schema on
each render, which costs more than the rest of a live refresh. The data travels as a *named* dataset
(``datasets``), as Altair sends it; Streamlit 1.67 draws an unnamed one empty. Each chart takes a small,
already-aggregated DataFrame. Pass an experiment's ``variants`` so that each keeps its colour in every
chart, whichever variants have data yet.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

HEIGHT = 280
SETTLED_TRIALS = 10  # a band from fewer trials is too wide to set the y axis by

Spec = dict[str, Any]


def _with_data(spec: Spec, data: pd.DataFrame) -> Spec:
    return {"data": {"name": "table"}, "datasets": {"table": data}, **spec}


def _color(variants: list[str], legend: bool = True) -> Spec:
    encoding: Spec = {
        "field": "variant",
        "type": "nominal",
        "title": "variant",
        "scale": {"domain": sorted(variants), "scheme": "tableau10"},
    }
    if not legend:
        encoding["legend"] = None
    return encoding


def score_over_time(
    series: pd.DataFrame, variants: list[str] | None = None, band: str = "95% CI"
) -> Spec:
    """Running mean score of each variant against trials completed, with its band (named by
    ``band``: a fixed-sample ``95% CI`` or an anytime-valid band).

    ``series`` has ``variant, trials, n, mean, low, high`` (``RunView.series_frame``).
    """
    x = {"field": "trials", "type": "quantitative", "title": "trials completed in the experiment"}
    color = _color(variants or series["variant"].unique().tolist())
    y_scale = {"domain": score_domain(series), "zero": False}
    spec = {
        "height": HEIGHT,
        "layer": [
            {
                "mark": {"type": "area", "opacity": 0.18, "clip": True},
                "encoding": {
                    "x": x,
                    "y": {"field": "low", "type": "quantitative", "scale": y_scale},
                    "y2": {"field": "high"},
                    "color": color,
                },
            },
            {
                "mark": {"type": "line", "strokeWidth": 2, "clip": True},
                "encoding": {
                    "x": x,
                    "y": {
                        "field": "mean",
                        "type": "quantitative",
                        "scale": y_scale,
                        "title": f"running mean score ({band})",
                    },
                    "color": color,
                    "tooltip": [
                        {"field": "variant", "type": "nominal"},
                        {"field": "trials", "type": "quantitative", "title": "trials completed"},
                        {"field": "n", "type": "quantitative", "title": "scored trials"},
                        {"field": "mean", "type": "quantitative", "format": ".3f"},
                        {
                            "field": "low",
                            "type": "quantitative",
                            "format": ".3f",
                            "title": f"{band} low",
                        },
                        {
                            "field": "high",
                            "type": "quantitative",
                            "format": ".3f",
                            "title": f"{band} high",
                        },
                    ],
                },
            },
        ],
    }
    return _with_data(spec, series)


def score_domain(series: pd.DataFrame) -> list[float]:
    """Fit the means and the settled part of the bands; early, very wide bands are clipped."""
    settled = series[series["n"] >= SETTLED_TRIALS]
    values = pd.concat([series["mean"], settled["low"], settled["high"]]).dropna()
    if values.empty:
        return [0.0, 1.0]
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * (high - low) or 0.1
    return [low - pad, high + pad]


def choice_distribution(choices: pd.DataFrame, variants: list[str] | None = None) -> Spec:
    """How often the bandit chose each variant (``variant, trials``)."""
    spec = {
        "height": HEIGHT,
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "trials", "type": "quantitative", "title": "times chosen"},
            "y": {"field": "variant", "type": "nominal", "sort": "-x", "title": None},
            "color": _color(variants or choices["variant"].tolist(), legend=False),
            "tooltip": [
                {"field": "variant", "type": "nominal"},
                {"field": "trials", "type": "quantitative", "title": "times chosen"},
            ],
        },
    }
    return _with_data(spec, choices)


def distribution(histogram: pd.DataFrame, title: str, variants: list[str] | None = None) -> Spec:
    """Overlaid per-variant histograms from pre-binned counts (``variant, start, end, trials``)."""
    spec = {
        "height": 220,
        "mark": {"type": "bar", "opacity": 0.55, "binSpacing": 0},
        "encoding": {
            "x": {"field": "start", "type": "quantitative", "bin": "binned", "title": title},
            "x2": {"field": "end"},
            "y": {"field": "trials", "type": "quantitative", "stack": None, "title": "trials"},
            "color": _color(variants or histogram["variant"].unique().tolist()),
            "tooltip": [
                {"field": "variant", "type": "nominal"},
                {"field": "start", "type": "quantitative", "format": ".4g", "title": "from"},
                {"field": "end", "type": "quantitative", "format": ".4g", "title": "to"},
                {"field": "trials", "type": "quantitative"},
            ],
        },
    }
    return _with_data(spec, histogram)


def pass_rate_heatmap(grid: pd.DataFrame, variants: list[str] | None = None) -> Spec:
    """Variant x sample pass rates (``sample, variant, pass rate, passed, attempts, difficulty
    rank``, ``dashboard.samples_data``): samples left to right from the hardest."""
    spec = {
        "height": max(80, 28 * len(variants or grid["variant"].unique())),
        "mark": {"type": "rect"},
        "encoding": {
            "x": {
                "field": "sample",
                "type": "ordinal",
                "sort": {"field": "difficulty rank", "order": "ascending"},
                "title": "samples, hardest first",
                "axis": {"labels": False, "ticks": False},
            },
            "y": {"field": "variant", "type": "nominal", "title": None, "sort": variants},
            "color": {
                "field": "pass rate",
                "type": "quantitative",
                "scale": {"domain": [0, 1], "scheme": "redyellowgreen"},
                "title": "pass rate",
            },
            "tooltip": [
                {"field": "sample", "type": "nominal"},
                {"field": "variant", "type": "nominal"},
                {"field": "pass rate", "type": "quantitative", "format": ".0%"},
                {"field": "passed", "type": "quantitative"},
                {"field": "attempts", "type": "quantitative"},
            ],
        },
    }
    return _with_data(spec, grid)
