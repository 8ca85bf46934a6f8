"""``core.paths``: ``extra_sys_path`` is scoped to its block; ``ensure_on_sys_path`` is for good."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from meta_orchestrator.core.paths import ensure_on_sys_path, extra_sys_path


@pytest.fixture(autouse=True)
def own_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test changes a copy of ``sys.path``; the real one is restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_extra_sys_path_puts_entries_first_and_restores_sys_path(tmp_path: Path) -> None:
    before = list(sys.path)
    entries = [str(tmp_path / "one"), str(tmp_path / "two")]
    with extra_sys_path(entries):
        assert sys.path[:2] == entries
        assert sys.path[2:] == before
    assert sys.path == before


def test_extra_sys_path_restores_sys_path_after_an_exception(tmp_path: Path) -> None:
    before = list(sys.path)
    with pytest.raises(RuntimeError, match="inside the block"):
        with extra_sys_path([str(tmp_path)]):
            assert sys.path[0] == str(tmp_path)
            raise RuntimeError("inside the block")
    assert sys.path == before


def test_extra_sys_path_undoes_changes_made_inside_the_block(tmp_path: Path) -> None:
    before = list(sys.path)
    with extra_sys_path([str(tmp_path / "a")]):
        sys.path.append(str(tmp_path / "added-inside"))
        ensure_on_sys_path([str(tmp_path / "ensured-inside")])
    assert sys.path == before


def test_ensure_on_sys_path_adds_for_good_without_duplicates(tmp_path: Path) -> None:
    before = list(sys.path)
    entries = [str(tmp_path / "one"), str(tmp_path / "two")]
    ensure_on_sys_path(entries)
    ensure_on_sys_path(entries)
    assert sys.path == entries + before
    ensure_on_sys_path([before[0]])  # already present: not moved, not repeated
    assert sys.path == entries + before
