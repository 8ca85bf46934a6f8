"""``python -m meta_orchestrator.guardrail BASELINE CANDIDATE [...]``: the ``compare`` command."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from meta_orchestrator.cli import main

    sys.exit(main(["compare", *sys.argv[1:]]))
