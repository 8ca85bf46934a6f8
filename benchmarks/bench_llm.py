"""Chat trials on the real local model: the engine against a bare loop of the same openai calls.

    python benchmarks/bench_llm.py [--trials 24] [--rounds 3] [--threads 1]

Starts llama.cpp's server with SmolLM2-135M-Instruct (``start_local_model``, the ``[local-model]``
extra), then, at concurrency 1 and 4, alternates rounds of

* **bare loop**: one ``openai.OpenAI(max_retries=0)`` client and a thread pool of that size calling
  ``chat.completions.create`` with the same messages and parameters, nothing else;
* **engine**: ``run_experiment_suite`` with a ``type: chat`` variant on the same reasoning-gym
  ``chain_sum`` tasks, graded by the ``reasoning_gym`` scorer (local backend at 1, threads at 4;
  ``timeout_seconds: 60``, so each trial also passes the runner's watchdog), timed to its last trial
  ("trial phase") and to its return ("whole call", with ``results.json`` and ``summary.md``).

Both send the same messages (rendered by the chat kind's own ``build_messages``). Rounds alternate
so that drift on a shared machine hits both alike; the table shows medians. Then, through the
fault-injecting proxy of the tests (``tests/chat/proxy.py``) at concurrency 4, it measures the
share of trials completed with 30% of requests answered 429 (``Retry-After: 1``,
``retry-after-ms: 200``) and the slowdown against the same proxy without faults; a bare loop with
the openai client's own default retries (2) is shown for reference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meta_orchestrator.core.config import load_config  # noqa: E402
from meta_orchestrator.core.llm.prompt import build_messages  # noqa: E402
from meta_orchestrator.core.llm.server import start_local_model  # noqa: E402
from meta_orchestrator.hub import run_experiment_suite  # noqa: E402
from meta_orchestrator.listener import RunListener  # noqa: E402
from meta_orchestrator.store import RunStore  # noqa: E402
from tests.chat.helpers import chat, suite  # noqa: E402
from tests.chat.proxy import FaultProxy  # noqa: E402

PARAMS = {"temperature": 0.0, "seed": 1, "max_tokens": 8}


def tasks(n: int) -> list[dict[str, Any]]:
    """The engine's samples, as its chat agent sees them (reasoning-gym chain_sum tasks)."""
    config = load_config(suite({"chat": chat("http://127.0.0.1:1/v1", "m")}, samples=n))
    return [s.for_agent() for s in config.dataset("tasks").samples]


def messages(sample: dict[str, Any]) -> list[dict[str, str]]:
    variant = chat("http://127.0.0.1:1/v1", "m")
    return build_messages(
        system=variant["system"], examples=[], template=variant["prompt"], sample=sample
    )


def bare_loop(
    base_url: str, model: str, samples: list[dict[str, Any]], concurrency: int, retries: int = 0
) -> tuple[float, int]:
    """Seconds for the calls, and how many answered."""
    import openai

    started = time.perf_counter()
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", max_retries=retries)

    def call(sample: dict[str, Any]) -> bool:
        try:
            client.chat.completions.create(model=model, messages=messages(sample), **PARAMS)
        except openai.APIError:
            return False
        return True

    with ThreadPoolExecutor(concurrency) as pool:
        answered = sum(pool.map(call, samples))
    client.close()
    return time.perf_counter() - started, answered


class _LastTrial(RunListener):
    def __init__(self) -> None:
        self.last = 0.0

    def on_trial(self, result: Any, leaderboard: Any) -> None:
        self.last = time.perf_counter()


def engine(
    base_url: str,
    model: str,
    samples: list[dict[str, Any]],
    concurrency: int,
    work: Path,
    **fields: Any,
) -> tuple[float, float, list[Any]]:
    """(trial phase seconds, whole call seconds, stored trials) of one run."""
    backend = (
        {"type": "local"} if concurrency == 1 else {"type": "threads", "max_in_flight": concurrency}
    )
    variant = chat(base_url, model, **fields)
    config = suite({"chat": variant}, samples=len(samples), execution_backend=backend)
    config["trial"] = {"timeout_seconds": 60}
    listener = _LastTrial()
    db = work / "store.db"
    started = time.perf_counter()
    run_id = run_experiment_suite(
        config, db_path=db, results_dir=work / "results", listener=listener
    )
    whole = time.perf_counter() - started
    with RunStore(db) as store:
        trials = [r for _, r in store.iter_trials(run_id)]
    return listener.last - started, whole, trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=24, help="trials per round (default 24)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1)")
    args = parser.parse_args()
    samples = tasks(args.trials)
    with start_local_model(0, threads=args.threads) as server, tempfile.TemporaryDirectory() as tmp:
        url, model = server.base_url, server.model
        bare_loop(url, model, samples[:2], 1)  # warm the model and the prompt cache
        print(
            f"{args.trials} trials per round, {args.rounds} rounds, llama.cpp threads {args.threads}\n"
        )
        print(
            "| concurrency | bare loop trials/s | engine, trial phase | vs bare | whole call | vs bare |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for concurrency in (1, 4):
            bare, phase, whole = [], [], []
            for round_no in range(args.rounds):
                order = ("bare", "engine") if round_no % 2 == 0 else ("engine", "bare")
                for which in order:
                    if which == "bare":
                        seconds, answered = bare_loop(url, model, samples, concurrency)
                        assert answered == len(samples)
                        bare.append(len(samples) / seconds)
                    else:
                        work = Path(tmp) / f"c{concurrency}-r{round_no}"
                        p, w, trials = engine(url, model, samples, concurrency, work)
                        assert len(trials) == len(samples) and all(t.ok for t in trials)
                        phase.append(len(samples) / p)
                        whole.append(len(samples) / w)
            b, p, w = (statistics.median(x) for x in (bare, phase, whole))
            print(
                f"| {concurrency} | {b:.2f} | {p:.2f} | **{p / b:.2f}** | {w:.2f} | {w / b:.2f} |"
            )
        faults(server.port, model, samples, Path(tmp))


def faults(port: int, model: str, samples: list[dict[str, Any]], work: Path) -> None:
    print("\nconcurrency 4, through the fault proxy:\n")
    print("| run | trials completed | trials/s | vs no faults | transient retries |")
    print("| --- | ---: | ---: | ---: | ---: |")
    n = len(samples)
    with FaultProxy(port) as clean:
        p, _, trials = engine(clean.base_url, model, samples, 4, work / "clean")
        clean_rate = n / p
        print(
            f"| engine, no faults | {sum(t.ok for t in trials)}/{n} | {clean_rate:.2f} | 1.00 | 0 |"
        )
    with FaultProxy(port, rate_limit_share=0.3, retry_after_ms=200, seed=1) as proxy:
        p, _, trials = engine(
            proxy.base_url, model, samples, 4, work / "faults", max_transient_retries=12
        )
        done = sum(t.ok for t in trials)
        retries = sum(t.transient_retries for t in trials)
        print(
            f"| engine, 30% answered 429 | **{done}/{n} ({100 * done / n:.0f}%)** | {n / p:.2f} | "
            f"{clean_rate / (n / p):.2f}x slower | {retries} ({proxy.counters.rate_limited} 429s) |"
        )
    with FaultProxy(port, rate_limit_share=0.3, retry_after_ms=200, seed=1) as proxy:
        seconds, answered = bare_loop(proxy.base_url, model, samples, 4, retries=2)
        print(
            f"| bare loop, openai's default 2 retries, 30% 429 | {answered}/{n} "
            f"({100 * answered / n:.0f}%) | {n / seconds:.2f} | - | ({proxy.counters.rate_limited} 429s) |"
        )


if __name__ == "__main__":
    main()
