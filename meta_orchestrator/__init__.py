"""meta-orchestrator: evaluate and benchmark AI agent variants with honest statistics."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
