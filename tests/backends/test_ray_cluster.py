"""A real two-node Ray cluster on this machine, started with ``ray start`` as a user would.

The head and a second node each get one CPU; a run through ``address: "127.0.0.1:PORT"`` must put
trials on both nodes, import the user's variant module from the copy shipped through the runtime
environment (not from the driver's folder), and leave the cluster running. ``address: null`` must
start a private Ray even when ``RAY_ADDRESS`` points at the cluster.

Each ``ray start --block`` runs in its own process group; the finalizer stops those processes by id
(SIGTERM, which drains the node, then SIGKILL to the group). ``ray stop --force`` is not used: it
kills every Ray process of the user on the machine, including other test sessions' Rays.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.backends.helpers import agent, rows, write_agents
from tests.conftest import ray_or_skip
from tests.helpers import which_or_skip

CLI = [sys.executable, "-m", "meta_orchestrator.cli"]
NODES_SCRIPT = """
import json, logging, sys, time
import ray
ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False)
deadline = time.monotonic() + 60
while True:
    alive = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    if len(alive) >= int(sys.argv[2]) or time.monotonic() > deadline:
        break
    time.sleep(0.2)
ray.shutdown()
print(json.dumps(alive))
"""


@dataclass
class Cluster:
    address: str
    env: dict[str, str]
    node_ids: list[str]

    def alive_nodes(self, wanted: int = 2) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", NODES_SCRIPT, self.address, str(wanted)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return list(json.loads(out.stdout.strip().splitlines()[-1]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*args, "--block"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_started(proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while b"Ray runtime started" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ray start failed:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def stop_node(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM drains the node and stops what it started; SIGKILL the group for any leftover."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this test created, nothing else
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    ray_or_skip()
    ray = which_or_skip("ray", "the 'ray' command is not on PATH")
    port = free_port()
    address = f"127.0.0.1:{port}"
    # Short: Ray's socket paths live under the temp dir and must stay below 107 characters.
    temp_dir = Path(tempfile.mkdtemp(prefix="mo-ray-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_AUTH_MODE"] = "disabled"  # a throwaway loopback cluster; see the README for tokens
    common = ["--num-cpus=1", "--disable-usage-stats", f"--temp-dir={temp_dir}"]
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        head_args = [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}"]
        head_args += ["--include-dashboard=false", *common]
        nodes.append(start_node(head_args, env, temp_dir / "head.log"))
        wait_started(nodes[0], temp_dir / "head.log")
        worker_args = [ray, "start", f"--address={address}", "--node-ip-address=127.0.0.1"]
        nodes.append(start_node([*worker_args, *common], env, temp_dir / "worker.log"))
        wait_started(nodes[1], temp_dir / "worker.log")
        probe = Cluster(address, env, [])
        node_ids = probe.alive_nodes()
        assert len(node_ids) == 2, f"the second node did not join: {node_ids}"
        yield Cluster(address, env, node_ids)
    finally:
        for proc in reversed(nodes):
            stop_node(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


def run_cli(
    folder: Path, address: str | None, env: dict[str, str], executor: str = "tasks"
) -> Path:
    agents = write_agents(folder / "agents")
    config = {
        "name": "cluster",
        "python_path": ["agents"],
        "custom_metrics": ["shipped"],
        "variants": {
            "here": agent("where", driver_dir=os.path.realpath(agents), seconds=0.3),
        },
        "experiments": [{"name": "spread", "variants": ["here"], "trials_per_variant": 8}],
        "execution_backend": {
            "type": "ray",
            "max_in_flight": 4,
            "ray_settings": {
                "address": address,
                "num_cpus": 1,
                "num_cpus_per_trial": 0.5,
                "executor": executor,
            },
        },
    }
    (folder / "cfg.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    db = folder / "runs.db"
    done = subprocess.run(
        [*CLI, "run", "-c", str(folder / "cfg.yaml"), "--db", str(db), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return db


@pytest.mark.parametrize("executor", ["tasks", "actors"])
def test_trials_run_on_both_nodes_from_shipped_modules(
    cluster: Cluster, tmp_path: Path, executor: str
) -> None:
    db = run_cli(tmp_path, cluster.address, cluster.env, executor)
    trials = rows(db, "SELECT node_id, status, json_extract(metrics_json, '$.shipped') FROM trials")
    assert len(trials) == 8
    assert all(status == "ok" for _, status, _ in trials)
    assert {node for node, _, _ in trials} == set(cluster.node_ids)
    assert all(shipped == 1.0 for _, _, shipped in trials), "imported from the driver's folder"


def test_null_address_starts_a_private_ray_despite_ray_address(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {**cluster.env, "RAY_ADDRESS": cluster.address}
    db = run_cli(tmp_path, None, env)
    trials = rows(db, "SELECT node_id, status, json_extract(metrics_json, '$.shipped') FROM trials")
    assert len(trials) == 8 and all(status == "ok" for _, status, _ in trials)
    (private,) = {node for node, _, _ in trials}
    assert private not in cluster.node_ids
    assert all(shipped == 0.0 for _, _, shipped in trials)  # same machine: nothing shipped
    assert cluster.alive_nodes() == cluster.node_ids  # neither run stopped the cluster
