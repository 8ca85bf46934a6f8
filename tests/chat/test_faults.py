"""Transient failures against the real model: injected 429s and dropped connections, a killed
server, a request past the trial timeout, retries that must not happen, and the API key."""

from __future__ import annotations

import socket
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_orchestrator import cli
from meta_orchestrator.core.execution import TrialRunner
from meta_orchestrator.core.kinds import build_agent
from meta_orchestrator.core.llm.server import LocalModelServer, start_local_model
from meta_orchestrator.core.trial import TrialResult, TrialSpec
from meta_orchestrator.hub import run_experiment_suite
from meta_orchestrator.listener import RunListener
from meta_orchestrator.store import RunStore
from tests.chat.helpers import addition_samples, chat, chat_variant, stored, suite
from tests.chat.proxy import FaultProxy


def spec(variant: str, index: int = 0, sample: dict[str, Any] | None = None) -> TrialSpec:
    sample = sample or {"id": "s", "input": {"a": 1, "b": 2}, "metadata": {}}
    return TrialSpec("run", "e", variant, index, 1000 + index, {"sample": sample, "epoch": 0})


def assert_retry_after_honoured(proxy: FaultProxy) -> None:
    """After each 429, the same trial's next request came no sooner than Retry-After asked."""
    by_body: dict[str, list[Any]] = defaultdict(list)
    for event in proxy.events:
        by_body[event.body].append(event)
    checked = 0
    for events in by_body.values():
        for before, after in zip(events, events[1:], strict=False):
            if before.kind == "rate_limited":
                assert after.at - before.at >= before.retry_after - 0.01
                checked += 1
    assert checked > 0


def test_rate_limits_and_dropped_connections_lose_and_duplicate_nothing(
    fault_proxy: Any, local_model: LocalModelServer, tmp_path: Path
) -> None:
    proxy = fault_proxy(rate_limit_share=0.3, drop_share=0.1, retry_after_ms=150, seed=2)
    variants = {
        name: chat(proxy.base_url, local_model.model, max_transient_retries=12, **extra)
        for name, extra in (("terse", {}), ("warm", {"temperature": 0.7, "seed": "trial"}))
    }
    db = tmp_path / "store.db"
    run_id = run_experiment_suite(suite(variants, samples=10), db_path=db, results_dir=tmp_path)

    trials = stored(db, run_id)
    assert [t.index for t in trials] == list(range(20))  # every trial, once
    tasks = {t.sample_id for t in trials}
    assert len(tasks) == 10 and sorted((t.variant, t.sample_id) for t in trials) == sorted(
        (v, s) for v in variants for s in tasks
    )
    assert all(t.status == "ok" for t in trials), [t.error for t in trials if not t.ok]
    assert all(t.details["text"].strip() and "reasoning_gym" in t.metrics for t in trials)
    counters = proxy.counters
    assert counters.rate_limited >= 3 and counters.reset + counters.cut >= 1
    assert counters.delivered == 20  # exactly one answer reached each trial: nothing duplicated
    assert sum(t.transient_retries for t in trials) == counters.injected
    assert all(t.attempts == 1 for t in trials)  # transient retries are not attempts
    assert_retry_after_honoured(proxy)


def test_the_endpoint_limit_holds_and_adapts_under_real_traffic(
    fault_proxy: Any, local_model: LocalModelServer, tmp_path: Path
) -> None:
    proxy = fault_proxy(rate_limit_share=0.3, retry_after_ms=50, seed=2)
    variant = chat_variant(
        proxy.base_url, local_model.model, max_concurrency=3, max_transient_retries=12
    )
    agent = build_agent(variant, tmp_path, 120)
    samples = addition_samples(12)
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda s: agent({"sample": s, "epoch": 0}), samples))
    assert len(results) == 12 and proxy.counters.delivered == 12
    assert proxy.counters.peak_in_flight <= 3  # twelve callers, never more than the limit
    stats = agent.limiter.stats()
    assert stats.decreases >= 1 and stats.in_use == 0 and 1 <= stats.limit <= 3
    assert sum(r["transient_retries"] for r in results) == proxy.counters.injected


def test_max_transient_retries_zero_means_one_request(
    fault_proxy: Any, local_model: LocalModelServer, tmp_path: Path
) -> None:
    proxy = fault_proxy(rate_limit_share=1.0, retry_after_ms=10)
    variants = {
        "none": chat_variant(proxy.base_url, local_model.model, max_transient_retries=0),
        "two": chat_variant(proxy.base_url, local_model.model, max_transient_retries=2),
    }
    runner = TrialRunner(variants, {"success": 1.0}, timeout=60, base_dir=tmp_path)
    result = runner.run(spec("none"))
    assert result.status == "error" and proxy.counters.requests == 1
    assert "TransientFailure: rate_limited:" in (result.error or "")
    assert "(1 attempt)" in (result.error or "")
    result = runner.run(spec("two"))
    assert proxy.counters.requests == 1 + 3 and "(3 attempts)" in (result.error or "")
    assert result.attempts == 1


def test_a_request_past_the_trial_timeout_is_cancelled(
    fault_proxy: Any, local_model: LocalModelServer, tmp_path: Path
) -> None:
    proxy = fault_proxy(hold_seconds=30)  # the server "takes" 30 s to answer
    variant = chat_variant(proxy.base_url, local_model.model)
    runner = TrialRunner({"slow": variant}, {"success": 1.0}, timeout=1.5, base_dir=tmp_path)
    started = time.monotonic()
    result = runner.run(spec("slow"))
    assert result.status == "timeout" and result.latency < 3.0
    while proxy.counters.gave_up == 0 and time.monotonic() - started < 10:
        time.sleep(0.02)
    closed_after = proxy.timeline("gave_up")[0].at - started
    assert 1.3 < closed_after < 3.0  # the client closed the request at the trial's timeout
    assert proxy.counters.delivered == 0
    assert runner._agents["slow"].limiter.stats().in_use == 0


def test_request_timeout_without_a_trial_timeout_is_retried_then_unavailable(
    fault_proxy: Any, local_model: LocalModelServer, tmp_path: Path
) -> None:
    proxy = fault_proxy(hold_seconds=30)
    variant = chat_variant(
        proxy.base_url, local_model.model, request_timeout=0.5, max_transient_retries=1
    )
    runner = TrialRunner({"slow": variant}, {"success": 1.0}, timeout=None, base_dir=tmp_path)
    result = runner.run(spec("slow"))
    assert result.status == "error" and "TransientFailure: unavailable:" in (result.error or "")
    assert "no response within 0.5s (2 attempts)" in (result.error or "")
    deadline = time.monotonic() + 5
    while proxy.counters.gave_up < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proxy.counters.gave_up == 2 and proxy.counters.delivered == 0


def test_a_permanent_error_is_not_retried(
    fault_proxy: Any, local_model: LocalModelServer, tmp_path: Path
) -> None:
    proxy = fault_proxy(unauthorized_share=1.0)
    variant = chat_variant(proxy.base_url, local_model.model)
    runner = TrialRunner({"v": variant}, {"success": 1.0}, timeout=60, base_dir=tmp_path)
    result = runner.run(spec("v"))
    assert result.status == "error" and "ChatRequestError: HTTP 401" in (result.error or "")
    assert proxy.counters.requests == 1


class _KillAfter(RunListener):
    """Kills the model server (SIGKILL, like a crash) once ``n`` trials have completed."""

    def __init__(self, server: LocalModelServer, n: int) -> None:
        self.server, self.n, self.done, self.killed_at = server, n, 0, None

    def on_trial(self, result: TrialResult, leaderboard: Any) -> None:
        self.done += 1
        if self.done == self.n:
            self.server.kill()
            self.killed_at = time.time()


def test_a_server_killed_mid_run_leaves_those_trials_unavailable(tmp_path: Path) -> None:
    from tests.chat.conftest import require_local_model

    require_local_model()
    server = start_local_model(0, threads=1, startup_timeout=180)
    try:
        variant = chat(server.base_url, server.model, max_transient_retries=2, max_concurrency=1)
        listener = _KillAfter(server, 4)
        db = tmp_path / "store.db"
        run_id = run_experiment_suite(
            suite(
                {"v": variant},
                samples=12,
                execution_backend={"type": "threads", "max_in_flight": 2},
            ),
            db_path=db,
            results_dir=tmp_path / "results",
            listener=listener,
        )
    finally:
        server.stop()
    trials = stored(db, run_id)
    assert len(trials) == 12 and listener.killed_at is not None
    with RunStore(db) as store:
        assert store.get_run(run_id).status == "completed"
    ok = [t for t in trials if t.ok]
    failed = [t for t in trials if not t.ok]
    assert len(ok) >= 4 and len(failed) >= 6
    for trial in failed:
        assert trial.status == "error" and trial.error_kind == "unavailable"
        assert "TransientFailure: unavailable:" in (trial.error or ""), trial.error
        assert "(3 attempts)" in (trial.error or "") and trial.transient_retries == 2
    assert all(t.started_at < listener.killed_at for t in ok)  # nothing answered after the kill
    summary = (tmp_path / "results" / run_id / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if "| `v` |" in line)
    assert row.endswith(f"| {len(failed)} / 0 |")  # errors / timeouts
    assert (
        f"**Endpoint failures:** {len(failed)} trials ended because the model endpoint kept "
        f"failing after every retry ({len(failed)} `unavailable`)"
    ) in summary


def test_trials_an_endpoint_failed_make_the_run_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on the port (a server that is down): every trial ends ``unavailable``."""
    from tests.chat.conftest import require_local_model

    require_local_model()  # the openai client and reasoning-gym
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections to it are refused
    config = suite(
        {"v": chat(f"http://127.0.0.1:{port}/v1", "m", max_transient_retries=1)}, samples=3
    )
    config["storage"] = {"db": "store.db", "results_dir": "results"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert cli.main(["run", "-c", str(path), "--quiet"]) == 1
    captured = capsys.readouterr()
    run_id = captured.out.strip()
    assert "3 trial(s) ended because the model endpoint kept failing (3 unavailable)" in " ".join(
        captured.err.split()
    )
    trials = stored(tmp_path / "store.db", run_id)
    assert [t.error_kind for t in trials] == ["unavailable"] * 3
    assert all(t.transient_retries == 1 for t in trials)


def test_the_api_key_is_sent_but_never_stored(
    fault_proxy: Any,
    local_model: LocalModelServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "sk-mo-test-" + "7f3a9c" * 6
    monkeypatch.setenv("MO_TEST_API_KEY", key)
    proxy = fault_proxy(unauthorized_share=0.4, seed=3)  # its 401s echo the key it got
    variant = chat(proxy.base_url, local_model.model, api_key_env="MO_TEST_API_KEY")
    db = tmp_path / "store.db"
    with caplog.at_level("DEBUG"):
        run_id = run_experiment_suite(
            suite({"v": variant}, samples=8), db_path=db, results_dir=tmp_path
        )
    assert proxy.counters.authorization == {f"Bearer {key}"}  # the key was really sent
    trials = stored(db, run_id)
    refused = [t for t in trials if not t.ok]
    assert refused and all("Incorrect API key provided: ***" in (t.error or "") for t in refused)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in written) and any(p.name == "summary.md" for p in written)
    for path in written:  # the store (and its WAL), results.json, summary.md, the config snapshot
        assert key.encode() not in path.read_bytes(), path
    with RunStore(db) as store:
        assert key not in store.get_run(run_id).config_yaml
    assert key not in caplog.text
