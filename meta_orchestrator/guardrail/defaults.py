"""The gate settings the benchmark workflow uses; the power analysis defaults to them.

A module of its own, without imports, so that building the CLI's ``--help`` (which shows them)
does not load ``power`` and with it numpy and scipy.stats: every command started a second slower.
"""

from __future__ import annotations

DEFAULT_ALPHA = 0.05
DEFAULT_BUDGET = 0.02
DEFAULT_DROP = 0.05
DEFAULT_POWER = 0.80
DEFAULT_PILOT_TRIALS = 4000
