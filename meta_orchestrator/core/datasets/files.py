"""Opening a dataset file: one clear message for a file that is missing, a folder or unreadable."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from meta_orchestrator.core.datasets.base import DatasetError, LoadContext


def open_text(path: str, context: LoadContext) -> IO[str]:
    """``path`` (relative to the config's folder) opened as UTF-8 text; ``DatasetError`` if it can't be."""
    resolved: Path = context.resolve(path)
    if not resolved.exists():
        raise DatasetError(f"{path}: file not found (looked for {resolved})")
    if not resolved.is_file():
        raise DatasetError(f"{path}: not a file ({resolved})")
    try:
        return resolved.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read: {exc.strerror or exc}") from None
