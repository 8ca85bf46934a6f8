"""Fixtures for the core engine tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import RunSuite


@pytest.fixture
def run_suite(tmp_path: Path) -> RunSuite:
    """Runs configs into ``tmp_path/store.db`` with results under ``tmp_path/results``."""
    return RunSuite(tmp_path / "store.db", tmp_path / "results")
