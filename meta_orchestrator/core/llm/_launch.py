"""``python -m meta_orchestrator.core.llm._launch PARENT_PID ARGS...``: become the llama.cpp server.

First asks Linux for SIGTERM when the parent thread ends (``PR_SET_PDEATHSIG`` survives ``exec``), so
the server never outlives a parent killed by a signal; exits at once if the parent is already gone.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys


def main() -> None:
    parent = int(sys.argv.pop(1))
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        sys.exit(0)
    sys.argv[0] = "llama_cpp.server"
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
