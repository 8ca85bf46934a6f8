"""The response cache: what its key depends on, threads and processes at once, a broken file."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from meta_orchestrator.core.llm.cache import ResponseCache, cache_key

BASE = {
    "endpoint": ["http://127.0.0.1:8080/v1", "m"],
    "messages": [{"role": "user", "content": "hi"}],
    "params": {"temperature": 0.7},
    "seed": 3,
    "epoch": 0,
}


def test_the_key_changes_with_everything_that_decides_a_response() -> None:
    key = cache_key(**BASE)
    assert key == cache_key(**dict(reversed(list(BASE.items()))))  # canonical: order does not count
    for change in (
        {"epoch": 1},  # repeats in another epoch stay independent
        {"seed": 4},
        {"params": {"temperature": 0.8}},
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"endpoint": ["http://127.0.0.1:8081/v1", "m"]},
    ):
        assert cache_key(**{**BASE, **change}) != key, change


def test_put_get_across_threads(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "sub" / "cache.db")
    assert cache.get("missing") is None
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(25):
                cache.put(f"{i}-{j}", {"text": f"answer {i} {j}", "tokens_out": j})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(cache) == 150
    assert cache.get("5-24") == {"text": "answer 5 24", "tokens_out": 24}


def test_several_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    code = (
        "import sys\nfrom meta_orchestrator.core.llm.cache import ResponseCache\n"
        "c = ResponseCache(sys.argv[1])\n"
        "for j in range(40): c.put(f'{sys.argv[2]}-{j}', {'j': j})\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(i)]) for i in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    cache = ResponseCache(path)
    assert len(cache) == 120 and cache.get("2-39") == {"j": 39}


def test_an_unusable_file_is_a_miss_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.db"
    path.write_bytes(b"this is not a SQLite database" * 100)
    cache = ResponseCache(path)
    with caplog.at_level(logging.WARNING, logger="meta_orchestrator.llm"):
        assert cache.get("k") is None
        cache.put("k", {"text": "x"})
    assert "could not be read" in caplog.text and "could not be written" in caplog.text
