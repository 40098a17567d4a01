"""Launch badges (Colab, Binder) and the setup cell at the top of every notebook source.

    python scripts/launch.py apply    # write or update both in notebooks/NN_*.py
    python scripts/launch.py check    # list the sources whose top is missing or stale

Then ``python scripts/notebooks.py sync`` writes the .ipynb files. A new notebook (e.g. 00)
gets both from ``apply``. What is written:

* a first markdown cell with the two badges, pointing at the notebook in the repository
  (``scd_lab.paths.REPO_URL``);
* right after the ``parameters`` cell (which stays the first code cell, as papermill and the
  tests expect; it imports nothing), the setup cell: ``import scd_lab`` or, when that fails
  (Colab, Binder), ``pip install`` of the kit from the repository; then
  ``scd_lab.lab.setup()``, which says what device it found and picks the tier. Inside the
  repository, or wherever the kit is installed, it installs nothing.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scd_lab.paths import REPO_URL  # noqa: E402

BADGE_MARK = "# [![Open In Colab]"
SETUP_MARK = "# Setup (written by scripts/launch.py):"
PARAMS = re.compile(r"^# %% tags=\[\"parameters\"\]\n.*?(?=^# %%)", re.S | re.M)


def badge_cell(name: str) -> str:
    """The markdown cell of the badges of ``notebooks/{name}.ipynb``."""
    owner_repo = REPO_URL.split("github.com/")[1]
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{name}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{owner_repo}/main?labpath=notebooks%2F{name}.ipynb"
    return ("# %% [markdown]\n"
            f"# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})\n"
            f"# [![Binder](https://mybinder.org/badge_logo.svg)]({binder})\n\n")


def setup_cell() -> str:
    """The setup cell's source (a percent-format cell)."""
    return ("# %%\n"
            f"{SETUP_MARK} installs the kit only where it is missing (Colab,\n"
            "# Binder), then says whether it found a CPU or a GPU and picks the tier to match.\n"
            "try:\n"
            "    import scd_lab\n"
            "except ImportError:\n"
            "    import subprocess\n"
            "    import sys\n"
            "    subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
            f"                           \"scd-lab[notebooks] @ git+{REPO_URL}\"])\n"
            "from scd_lab.lab import setup\n\n"
            "LAB = setup()  # LAB.tier: \"cpu\" or \"gpu\"; LAB.preset: the tier's preset\n\n")


def _strip(text: str) -> str:
    """The source without the badge cell and the setup cell (either may be stale)."""
    text = re.sub(r"^# %% \[markdown\]\n# \[!\[Open In Colab\].*?\n\n", "", text,
                  flags=re.S | re.M)
    return re.sub(rf"^# %%\n{re.escape(SETUP_MARK)}.*?(?=^# %%)", "", text, flags=re.S | re.M)


HEADER = re.compile(r"\A# ---\n.*?^# ---\n\n?", re.S | re.M)  # jupytext's YAML header


def with_top(path: Path) -> str:
    """The source of ``path`` with the current badge cell (after jupytext's header, if any)
    and setup cell."""
    text = path.read_text()
    head = HEADER.match(text)
    head, text = (head.group(0), text[head.end():]) if head else ("", text)
    text = _strip(text)
    m = PARAMS.search(text)
    if m is None:
        raise SystemExit(f"{path.name}: no cell tagged parameters; add one first")
    return head + badge_cell(path.stem) + text[:m.end()] + setup_cell() + text[m.end():]


def sources() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def stale() -> list[str]:
    return [p.name for p in sources() if p.read_text() != with_top(p)]


def apply() -> None:
    for p in sources():
        new = with_top(p)
        if p.read_text() != new:
            p.write_text(new)
            print("wrote", p.relative_to(ROOT))


if __name__ == "__main__":
    if sys.argv[1:] == ["apply"]:
        apply()
    elif sys.argv[1:] == ["check"]:
        problems = stale()
        print("\n".join(problems) or "every notebook has its badges and setup cell")
        sys.exit(1 if problems else 0)
    else:
        sys.exit(__doc__)
