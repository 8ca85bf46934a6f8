"""Pieces every dashboard view shares: settings, opening the store, showing errors, safe text."""

from __future__ import annotations

import argparse
import logging
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from meta_orchestrator.dashboard.data import DashboardStore
from meta_orchestrator.errors import MetaOrchestratorError

log = logging.getLogger("meta_orchestrator.dashboard")

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")


@dataclass(frozen=True)
class Settings:
    db: Path
    config_dir: Path


def parse_settings(argv: list[str]) -> Settings:
    """The arguments after ``--`` in ``streamlit run app.py -- --db PATH --config-dir DIR``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", default="results/meta_orchestrator.db")
    parser.add_argument("--config-dir", default=".")
    args, _ = parser.parse_known_args(argv)
    return Settings(Path(args.db).expanduser(), Path(args.config_dir).expanduser())


def plain(text: object) -> str:
    """User data (names, messages) made inert inside Streamlit's Markdown: one line, with the
    characters that open emphasis, code, links, HTML, headings, tables and LaTeX escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: object) -> str:
    """User data as an inline code span, whatever backticks it holds."""
    flat = " ".join(str(text).split())
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", flat)), default=0) + 1)
    return f"{ticks} {flat} {ticks}"


def open_store(db: Path) -> DashboardStore | None:
    """The store, or ``None`` after telling the user why it cannot be read."""
    if not db.exists():
        st.info(
            f"No run store at `{db}` yet. Launch an experiment from the **Launch** view, or run "
            f"`meta-orchestrator run --db {db}`; runs appear here as soon as they start."
        )
        return None
    try:
        return DashboardStore(db)
    except (MetaOrchestratorError, sqlite3.Error) as exc:
        st.error(f"Cannot read the run store `{db}`: {plain(exc)}")
        return None


@contextmanager
def shown_errors(doing: str) -> Iterator[None]:
    """Turn any failure inside the block into a message on the page (never a traceback)."""
    try:
        yield
    except (MetaOrchestratorError, sqlite3.Error) as exc:
        st.error(f"{doing} failed: {plain(exc)}")
    except Exception as exc:  # a bug; the server log has the traceback
        log.exception("%s failed", doing)
        st.error(f"{doing} failed unexpectedly ({type(exc).__name__}): {plain(exc)}")
