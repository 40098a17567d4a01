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
