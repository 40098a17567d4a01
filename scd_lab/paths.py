"""Where the kit's files are: the runs root, and the data it ships (the objective study's
results, the reference runs), found from a source checkout or an installed wheel alike."""
from __future__ import annotations

import os
from pathlib import Path


def runs_root() -> Path:
    """Where runs go by default, whatever the working directory: ``$SCD_LAB_RUNS``, else
    ``runs/`` at the root of the repository this package was installed from (git-ignored),
    else ``./runs``."""
    if os.environ.get("SCD_LAB_RUNS"):
        return Path(os.environ["SCD_LAB_RUNS"])
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pyproject.toml").is_file() and (repo / "scd_lab").is_dir():
        return repo / "runs"
    return Path.cwd() / "runs"


def shipped_dir() -> Path:
    """The small files the kit ships: the objective study's results (``study/``) and the
    reference runs (``reference_runs/``)."""
    return Path(__file__).resolve().parents[1] / "data"


def reference_runs_dir() -> Path:
    """The shipped reference runs, one folder each."""
    return shipped_dir() / "reference_runs"


def study_dir() -> Path:
    """The shipped results of the objective study (``scd-lab study table`` reads them)."""
    return shipped_dir() / "study"
