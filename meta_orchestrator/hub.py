"""Short import path for the library API: ``from meta_orchestrator.hub import run_experiment_suite``."""

from meta_orchestrator.experiment_hub.hub import resume_run, run_experiment_suite

__all__ = ["resume_run", "run_experiment_suite"]
