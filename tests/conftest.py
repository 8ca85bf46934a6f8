"""Fixtures shared by the whole suite (helpers live in ``tests/helpers.py``).

``run_suite`` runs configs through the hub into a temporary store (``tests/analysis`` has its own).
``ray_local`` starts one private Ray for the session (starting Ray costs seconds; ten starts would
cost a minute), and ``RayBackend`` reuses an initialised Ray without shutting it down. Tests that
need Ray skip, with the reason, only when ``ray`` is not importable (and fail under ``CI=true``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import RunSuite, import_or_skip

RAY_MISSING = "the Ray backend needs 'ray': pip install 'meta-orchestrator[ray]'"
RAY_TEST_CPUS = 4  # logical CPUs: with 0.25 per trial, 16 trials run at once on the 2-core CI box


def ray_or_skip() -> ModuleType:
    return import_or_skip("ray", RAY_MISSING)


@pytest.fixture(scope="session")
def ray_local() -> Iterator[ModuleType]:
    """A private local Ray for the session; tests share it (and its warm worker processes)."""
    ray = ray_or_skip()
    if ray.is_initialized():
        yield ray
        return
    ray.init(
        address="local",
        num_cpus=RAY_TEST_CPUS,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        object_store_memory=200 * 1024 * 1024,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture
def run_suite(tmp_path: Path) -> RunSuite:
    """Runs configs into ``tmp_path/store.db`` with results under ``tmp_path/results``."""
    return RunSuite(tmp_path / "store.db", tmp_path / "results")


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for subprocesses: never inherit a Ray address from the test process."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONUNBUFFERED"] = "1"
    return env
