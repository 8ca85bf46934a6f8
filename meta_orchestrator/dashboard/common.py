"""Pieces every dashboard view shares: settings, opening the store, showing errors, number columns.

User text is shown with ``analysis.formatting`` (``escape_text``, ``code_span``), as in summary.md.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from meta_orchestrator.analysis.formatting import DASH, escape_text, format_p_value, format_percent
from meta_orchestrator.core.paths import store_path
from meta_orchestrator.errors import MetaOrchestratorError
from meta_orchestrator.store import RunStore

log = logging.getLogger("meta_orchestrator.dashboard")

# Column widths in pixels: Streamlit's table font is about 8 px per character.
CHAR_PIXELS, CELL_PADDING, MAX_COLUMN_CHARS = 8, 28, 40


@dataclass(frozen=True)
class Settings:
    db: Path
    config_dir: Path


def parse_settings(argv: list[str]) -> Settings:
    """The arguments after ``--`` in ``streamlit run app.py -- --db PATH --config-dir DIR``.

    Without ``--db`` the store is where every command looks for it (``core.paths.store_path``:
    ``$META_ORCHESTRATOR_DB``, else ``./results/meta_orchestrator.db``); ``meta-orchestrator
    dashboard`` always passes the path it resolved.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", default=None)
    parser.add_argument("--config-dir", default=".")
    args, _ = parser.parse_known_args(argv)
    return Settings(store_path(args.db), Path(args.config_dir).expanduser())


def formatted(
    frame: pd.DataFrame,
    *,
    p_values: Iterable[str] = (),
    percents: Iterable[str] = (),
    signed_percents: Iterable[str] = (),
) -> Styler:
    """``frame`` with its p-value and percentage columns shown as summary.md and the CLI show them
    (``analysis.formatting``). Only the shown text changes: the cells stay numbers, so they sort."""
    formats: dict[str, Callable[[float], str]] = {}
    formats |= dict.fromkeys(p_values, format_p_value)
    formats |= dict.fromkeys(percents, format_percent)
    formats |= dict.fromkeys(signed_percents, functools.partial(format_percent, signed=True))
    return frame.style.format(formats, na_rep=DASH)


def fitted_columns(frame: pd.DataFrame, configs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``column_config`` giving every column room for its full name and its widest value (that
    up to ``MAX_COLUMN_CHARS``), so a table wider than the page scrolls instead of cutting names.

    ``configs`` (a column's format, say) are kept; only their width is set.
    """
    result: dict[str, Any] = {}
    for name in frame.columns:
        values = frame[name].head(200).map(lambda v: len(str(v)))
        widest = min(int(values.max()) if len(values) else 0, MAX_COLUMN_CHARS)
        width = CHAR_PIXELS * max(len(str(name)), widest) + CELL_PADDING
        config = dict((configs or {}).get(name) or {})
        config["width"] = width
        result[str(name)] = config
    return result


def markdown_table(
    frame: pd.DataFrame,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    *,
    intervals: Iterable[str] = (),
) -> str:
    """``frame`` as a Markdown table for ``st.markdown``: each cell through its column's format
    (else ``_cell_text``; a missing value is a dash), escaped with ``escape_text`` so that names
    stay text, number columns right-aligned. The cells of the ``intervals`` columns
    (``[low, high]``) keep to one line.

    The views that open first (a run's Overview, the live ranking) draw their small tables this
    way, and the sidebar its run list as a Markdown list, not with ``st.dataframe``: Streamlit
    shows a page only once every element's JavaScript has loaded, and the grid's (glide-data-grid
    with Arrow, 1.6 MB) cost the Overview about 0.2 s of each open and 0.4-0.6 s of a first one
    (``bench_dashboard.py`` side by side). A long column name wraps instead of being cut; sorting
    and resizing are given up.
    """
    formats = formats or {}
    names = [str(name) for name in frame.columns]
    numeric = [_is_number_column(frame[name]) for name in frame.columns]
    lines = [
        "| " + " | ".join(escape_text(name) for name in names) + " |",
        "|" + "|".join("---:" if right else "---" for right in numeric) + "|",
    ]
    shown = [formats.get(name, _cell_text) for name in names]
    keep_together = set(intervals)
    one_line = [name in keep_together for name in names]
    for row in frame.itertuples(index=False):
        cells = []
        for show, keep, value in zip(shown, one_line, row, strict=True):
            text = escape_text(DASH if _missing(value) else show(value))
            cells.append(text.replace(", ", ",\u00a0") if keep else text)  # a no-break space
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _is_number_column(column: pd.Series) -> bool:
    types = pd.api.types
    return bool(types.is_numeric_dtype(column) and not types.is_bool_dtype(column))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell_text(value: Any) -> str:
    """A cell as text: ``yes``/``no`` for a flag, 4 significant digits for a float."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def open_store(db: Path) -> RunStore | None:
    """The store, or ``None`` after telling the user why it cannot be read."""
    if not db.exists():
        st.info(
            f"No run store at `{db}` yet. Launch an experiment from the **Launch** view, or run "
            f"`meta-orchestrator run --db {db}`; runs appear here as soon as they start."
        )
        return None
    try:
        return RunStore(db)
    except (MetaOrchestratorError, sqlite3.Error) as exc:
        st.error(f"Cannot read the run store `{db}`: {escape_text(exc)}")
        return None


@contextmanager
def shown_errors(doing: str) -> Iterator[None]:
    """Turn any failure inside the block into a message on the page (never a traceback)."""
    try:
        yield
    except (MetaOrchestratorError, sqlite3.Error) as exc:
        st.error(f"{doing} failed: {escape_text(exc)}")
    except Exception as exc:  # a bug; the server log has the traceback
        log.exception("%s failed", doing)
        st.error(f"{doing} failed unexpectedly ({type(exc).__name__}): {escape_text(exc)}")
