"""Where things are on disk: the run store, the results folders, and the user's import paths.

Every command resolves the store and the results folder here, the same way:

* the run store: ``--db`` > ``$META_ORCHESTRATOR_DB`` > the config's ``storage.db`` (relative to the
  config's folder) > ``./results/meta_orchestrator.db`` in the working directory (like MLflow's
  ``./mlruns`` and inspect-ai's ``./logs``);
* a run's results folder (``<results_dir>/<run_id>/``): ``--results-dir`` > the folder the run
  recorded when it started (``resume`` and ``report`` write where the run wrote) > the config's
  ``storage.results_dir`` (relative to the config's folder) > the store's own folder.

So ``run -c sub/x.yaml`` without ``storage`` keys writes to ``./results/`` as ``runs``, ``report``,
``resume``, ``compare`` and ``dashboard`` read it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_DB = Path("results") / "meta_orchestrator.db"
DB_ENV = "META_ORCHESTRATOR_DB"


def store_path(db: str | Path | None = None, config: Any = None) -> Path:
    """The run store file. ``config`` is a ``SuiteConfig`` (or ``None`` for commands without one)."""
    if db:
        return Path(db).expanduser()
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    configured = getattr(getattr(config, "storage", None), "db", None)
    if configured:
        return config.base_dir / Path(configured).expanduser()
    return DEFAULT_DB


def results_root(
    results_dir: str | Path | None = None,
    *,
    store: Path,
    config: Any = None,
    recorded: str | None = None,
) -> Path:
    """The folder that holds ``<run_id>/`` folders (see the module docstring for the order)."""
    if results_dir:
        return Path(results_dir).expanduser()
    if recorded:
        return Path(recorded)
    configured = getattr(getattr(config, "storage", None), "results_dir", None)
    if configured:
        return config.base_dir / Path(configured).expanduser()
    return store.parent


@contextmanager
def extra_sys_path(entries: list[str]) -> Iterator[None]:
    """Put ``entries`` first on ``sys.path`` for the block, then restore ``sys.path``.

    Modules imported inside the block stay imported; only the search path is undone, so validating
    a config in a long-lived process (the dashboard) does not change what it imports later.
    """
    saved = list(sys.path)
    ensure_on_sys_path(entries)
    try:
        yield
    finally:
        sys.path[:] = saved


def ensure_on_sys_path(entries: list[str]) -> None:
    """Put ``entries`` first on ``sys.path`` for good: a worker process that runs the user's agents
    keeps them, because agents may import their own modules lazily, at trial time."""
    for entry in reversed(entries):
        if entry not in sys.path:
            sys.path.insert(0, entry)
