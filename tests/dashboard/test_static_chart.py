"""The server-drawn score chart of a finished run's Overview: valid SVG that says what the data says."""

from __future__ import annotations

import math
from xml.etree import ElementTree

import pandas as pd

from meta_orchestrator.dashboard.static_chart import (
    LEFT,
    RIGHT,
    TABLEAU10,
    TOP,
    WIDTH,
    nice_ticks,
    score_over_time_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & co"


def _series(means: dict[str, list[float]], band: float = 0.05) -> pd.DataFrame:
    rows = []
    for variant, values in means.items():
        for i, mean in enumerate(values):
            n = i + 1
            low, high = (mean - band, mean + band) if n > 1 else (math.nan, math.nan)
            rows.append((variant, 10 * n, n, mean, low, high))
    return pd.DataFrame(rows, columns=["variant", "trials", "n", "mean", "low", "high"])


def _marks(svg: str, tag: str) -> dict[str, list[tuple[float, float]]]:
    """Each polyline's or polygon's points, by its colour."""
    root = ElementTree.fromstring(svg)
    found = {}
    for mark in root.iter(SVG + tag):
        colour = mark.get("stroke") if tag == "polyline" else mark.get("fill")
        points = [tuple(map(float, p.split(","))) for p in mark.get("points", "").split()]
        found[colour] = points
    return found


def test_one_line_per_variant_through_its_points_higher_means_drawn_higher():
    series = _series({"good": [0.6, 0.8, 0.9], "bad": [0.5, 0.3, 0.2]})
    svg = score_over_time_svg(series, ["good", "bad"])
    lines = _marks(svg, "polyline")
    bad, good = TABLEAU10[0], TABLEAU10[1]  # colours go to the sorted names, as in Vega
    assert set(lines) == {bad, good}
    assert len(lines[good]) == len(lines[bad]) == 3
    assert lines[good][-1][1] < lines[bad][-1][1]  # SVG y grows downwards
    assert [y for _, y in lines[good]] == sorted((y for _, y in lines[good]), reverse=True)
    assert lines[good][-1][0] == WIDTH - RIGHT and lines[good][0][0] > LEFT  # x: trials done
    assert all(y >= TOP for _, y in lines[good] + lines[bad])


def test_the_band_leaves_out_points_without_an_interval():
    series = _series({"a": [0.5, 0.6, 0.7, 0.7]})
    (band,) = _marks(score_over_time_svg(series, ["a"]), "polygon").values()
    assert len(band) == 2 * 3  # upper and lower edge of the three points with n > 1
    (line,) = _marks(score_over_time_svg(series, ["a"]), "polyline").values()
    assert len(line) == 4


def test_a_variant_keeps_its_colour_whichever_variants_have_data():
    names = ["alpha", "beta", "gamma"]
    alone = _marks(score_over_time_svg(_series({"gamma": [0.5, 0.6]}), names), "polyline")
    together = _marks(
        score_over_time_svg(_series({n: [0.5, 0.6] for n in names}), names), "polyline"
    )
    assert list(alone) == [TABLEAU10[2]] and TABLEAU10[2] in together


def test_names_are_escaped_and_shown_whole_in_the_legend():
    svg = score_over_time_svg(_series({HOSTILE: [0.4, 0.5], "plain": [0.6, 0.7]}))
    assert "<script>" not in svg
    root = ElementTree.fromstring(svg)  # still well-formed XML
    titles = [t.text for t in root.iter(SVG + "title")]
    assert HOSTILE in titles and "plain" in titles


def test_round_ticks():
    assert nice_ticks(0, 50_000) == [0, 10_000, 20_000, 30_000, 40_000, 50_000]
    assert nice_ticks(0.43, 0.67) == [0.45, 0.5, 0.55, 0.6, 0.65]
    assert nice_ticks(0.5, 0.5) == [0.5]  # one value: one tick, no endless loop
