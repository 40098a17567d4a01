"""Where the kit's files are: the runs root, the data the kit ships (the objective study's
results, the reference runs) and the default place of the ImageNet-100 copy, found alike from a
source checkout, an editable install or an installed wheel.

The shipped files are package data (``scd_lab/shipped/``), so they travel inside the wheel and
are found next to this file wherever the package is. What the kit writes (runs, datasets) goes
to the checkout's root when the package sits in one, else to the working directory.
"""
from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The root of the source checkout this package is imported from (its ``pyproject.toml``
    names the ``scd-lab`` project), or None for an installed package."""
    root = _HERE.parent
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if 'name = "scd-lab"' in project else None


def runs_root() -> Path:
    """Where runs go by default, whatever the working directory: ``$SCD_LAB_RUNS``, else
    ``runs/`` at the root of the checkout this package is imported from (git-ignored), else
    ``./runs`` (an installed package)."""
    if os.environ.get("SCD_LAB_RUNS"):
        return Path(os.environ["SCD_LAB_RUNS"])
    return (checkout_root() or Path.cwd()) / "runs"


def imagenet100_dir() -> Path:
    """Where ``scd-lab data in100 --out data/imagenet100`` puts the compact ImageNet-100 copy,
    run from the checkout's root: ``data/imagenet100`` there, else in the working directory."""
    return (checkout_root() or Path.cwd()) / "data" / "imagenet100"


def shipped_dir() -> Path:
    """The small files the kit ships, inside the package: the objective study's results
    (``study/``) and the reference runs (``reference_runs/``)."""
    return _HERE / "shipped"


def reference_runs_dir() -> Path:
    """The shipped reference runs, one folder each."""
    return shipped_dir() / "reference_runs"


def study_dir() -> Path:
    """The shipped results of the objective study (``scd-lab study table`` reads them)."""
    return shipped_dir() / "study"


#: The repository's address, in one place: the notebooks' first cell installs the kit from it
#: (``scripts/launch.py``), their Colab and Binder badges point into it, and the site links
#: to its files. pyproject.toml names no URL yet, so this is the kit's placeholder: change it
#: here when the repository is published (then run ``python scripts/launch.py apply``).
REPO_URL = "https://github.com/scd-lab/scd_lab"
