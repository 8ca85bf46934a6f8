"""Starting and stopping ``meta-orchestrator run`` in the background, for the dashboard's launcher.

A config is validated by the CLI's own validator (``load_config`` / ``parse_config_text``). An edited
config is written to ``<store folder>/launches/<stamp>-<name>.yaml`` with its relative paths
(``python_path``, command ``cwd``) made absolute against the config folder, so it runs exactly as it
would from there. The run is a child process started from an argument list (never a shell), in its
own session so that it outlives a dashboard restart; ``stop`` sends it SIGINT, which marks the run
interrupted and keeps its completed trials. Launches are remembered per dashboard process, so every
browser session can see and stop them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from meta_orchestrator.core.config import (
    SuiteConfig,
    build_config,
    load_config,
    parse_config_text,
)
from meta_orchestrator.core.paths import results_root
from meta_orchestrator.errors import ConfigError
from meta_orchestrator.store import RunRecord, RunStore

CONFIG_SUFFIXES = (".yaml", ".yml")
LAUNCH_FOLDER = "launches"


def list_configs(config_dir: Path) -> list[Path]:
    """YAML files in ``config_dir`` and its direct subfolders, skipping hidden ones and launches."""
    if not config_dir.is_dir():
        return []
    found = [p for p in config_dir.iterdir() if p.suffix in CONFIG_SUFFIXES]
    for sub in config_dir.iterdir():
        if sub.is_dir() and not sub.name.startswith(".") and sub.name != LAUNCH_FOLDER:
            found.extend(p for p in sub.iterdir() if p.suffix in CONFIG_SUFFIXES)
    return sorted(p for p in found if p.is_file() and not p.name.startswith("."))


def validate(text: str, base_dir: Path) -> SuiteConfig:
    """The CLI's validation of config text; raises ``ConfigError`` whose ``problems`` name fields.

    ``base_dir`` is the folder relative paths resolve against: the picked file's folder.
    """
    return parse_config_text(text, base_dir=base_dir.resolve())


def prepare(
    text: str,
    base_dir: Path,
    launch_dir: Path,
    source: Path | None = None,
    root: Path | None = None,
) -> Path:
    """Validate ``text`` and return the file to run: ``source`` itself if unedited, else a new file.

    With ``root`` (the dashboard's ``--config-dir``), the config file and every folder it puts on
    ``python_path`` must lie under it: a page visitor cannot run code from elsewhere on the disk.
    Raises ``ConfigError`` before anything is written.
    """
    unedited = source is not None and source.is_file() and source.read_text("utf-8") == text
    config = load_config(source) if unedited and source is not None else validate(text, base_dir)
    if root is not None:
        _confine(config, [source] if source is not None else [base_dir], root)
    if unedited and source is not None:
        return source
    data = config.model_dump(mode="json")
    data["python_path"] = config.resolved_python_path()
    for variant in data["variants"].values():
        if variant["type"] == "command":
            variant["cwd"] = str((config.base_dir / (variant.get("cwd") or ".")).resolve())
    build_config(data, base_dir=launch_dir)  # the rewritten file must still be valid
    launch_dir.mkdir(parents=True, exist_ok=True)
    target = launch_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{config.name}.yaml"
    header = f"# written by the meta-orchestrator dashboard from {source or 'the editor'}\n"
    temporary = target.with_suffix(".yaml.tmp")
    temporary.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    os.replace(temporary, target)
    return target


@dataclass
class Launch:
    """One background ``meta-orchestrator run`` started by this dashboard process."""

    process: subprocess.Popen[bytes]
    config_file: Path
    log_file: Path
    db: Path
    started_at: float = field(default_factory=time.time)
    run_id: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()

    def stop(self) -> bool:
        """Send SIGINT (the run is marked interrupted, its trials kept); ``False`` if it had ended."""
        if not self.running:
            return False
        self.process.send_signal(signal.SIGINT)
        return True

    def find_run(self, store: RunStore) -> RunRecord | None:
        """The run this process created, once it has written its first row."""
        if self.run_id is None:
            for record in store.list_runs(limit=50):
                if record.pid == self.pid and record.started_at >= self.started_at - 5:
                    self.run_id = record.id
                    break
        return store.get_run(self.run_id) if self.run_id else None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _confine(config: SuiteConfig, files: list[Path], root: Path) -> None:
    """``ConfigError`` naming every config file or ``python_path`` folder outside ``root``."""
    top = root.resolve()
    problems = [
        f"{where}: {path} is outside {top}, the folder the dashboard launches from (--config-dir)"
        for where, path in [
            *(("config", f.resolve()) for f in files),
            *((f"python_path[{i}]", Path(p)) for i, p in enumerate(config.resolved_python_path())),
        ]
        if not path.is_relative_to(top)
    ]
    if problems:
        raise ConfigError(
            "the launcher refuses this config:\n  - " + "\n  - ".join(problems), problems
        )


_launches: dict[int, Launch] = {}
_lock = threading.Lock()


def start(config_file: Path, db: Path, config_dir: Path) -> Launch:
    """Start ``meta-orchestrator run`` on ``config_file`` writing into ``db``; return at once."""
    config = load_config(config_file)
    results_dir = results_root(None, store=db, config=config).resolve()
    log_dir = db.resolve().parent / LAUNCH_FOLDER
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{config.name}.log"
    command = [
        sys.executable, "-m", "meta_orchestrator.cli", "run",
        "-c", str(config_file.resolve()),
        "--db", str(db.resolve()),
        "--results-dir", str(results_dir),
        "--quiet",
    ]  # fmt: skip
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=config_dir.resolve(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    launch = Launch(process, config_file, log_file, db)
    with _lock:
        _launches[launch.pid] = launch
    return launch


def launches() -> list[Launch]:
    """Every launch of this dashboard process, newest first."""
    with _lock:
        return sorted(_launches.values(), key=lambda item: item.started_at, reverse=True)


def launch_for_run(run_id: str, store: RunStore) -> Launch | None:
    """The launch that created ``run_id``, if this dashboard started it."""
    for launch in launches():
        if launch.run_id is None:
            launch.find_run(store)
        if launch.run_id == run_id:
            return launch
    return None
