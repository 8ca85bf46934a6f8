"""Every error meta-orchestrator shows to a person.

    MetaOrchestratorError          root: the CLI prints the message without a traceback
    ├── ConfigError                a config or argument is wrong; exit code 2, nothing written
    ├── MissingDependencyError     an optional extra is not installed; the message names the pip command
    ├── StoreError                 the SQLite run store cannot be opened, read or written
    ├── BackendError               an execution backend cannot start or reach its workers (Ray)
    ├── RunNotFoundError           a run id, run directory or results file does not exist
    └── ComparisonError            two runs cannot be compared (no trials, no shared variant); exit 2

    KeyboardInterrupt              Ctrl-C (SIGINT) stopped a run; exit code 130
    └── RunTerminated              SIGTERM stopped a run, handled as Ctrl-C; exit code 143

A failed *trial* is never an exception here: it is recorded as a trial with status ``error`` or
``timeout`` and the run goes on.
"""

from __future__ import annotations


class MetaOrchestratorError(Exception):
    """Root of every user-facing error; ``exit_code`` is what the CLI returns for it."""

    exit_code: int = 1


class ConfigError(MetaOrchestratorError):
    """The configuration (or a command-line argument) is invalid.

    ``problems`` holds one ``"dotted.path: message"`` line per offending field.
    """

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class MissingDependencyError(MetaOrchestratorError):
    """An optional dependency is needed; the message says which ``pip install`` fixes it."""

    exit_code = 2

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'meta-orchestrator[{extra}]'"
        )
        self.package = package
        self.extra = extra


class StoreError(MetaOrchestratorError):
    """The run store could not be used (not a SQLite file, not a run store, locked, ...)."""

    exit_code = 2


class BackendError(MetaOrchestratorError):
    """An execution backend cannot start or reach where trials run (a Ray cluster, say).

    Exit code 1: the config was valid, the run could not go on; its completed trials are kept.
    """


class RunNotFoundError(MetaOrchestratorError):
    """A run id, run directory or results file does not exist."""

    exit_code = 2


class ComparisonError(MetaOrchestratorError):
    """Two runs cannot be compared: no trials, no shared variant, or not a results file."""

    exit_code = 2


class RunTerminated(KeyboardInterrupt):
    """SIGTERM (a CI runner's cancel, ``timeout``, ``docker stop``, systemd) stopped a run.

    A ``KeyboardInterrupt``, so every path that handles Ctrl-C (the run marked ``interrupted``,
    its trials kept, its programs killed, its reports written) handles SIGTERM too; only the exit
    code differs, 143 (128 + 15) as the shell reports a process killed by SIGTERM.
    """

    exit_code = 143
