"""What the notebooks and the README say where a reader could be misled: renaming RUN for a
new config, smoke numbers meaning nothing, and notebook 07's headline against the shipped
study."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def text(name: str) -> str:
    """The file with its line breaks (and a notebook's comment marks) read as spaces."""
    return re.sub(r"\s*\n#?\s*", " ", (REPO / name).read_text())


def test_notebook_01s_exercise_says_to_rename_run():
    exercise = text("notebooks/01_quickstart.py").split("`method.alpha=0.0`")[-1][:300]
    assert "rename `RUN`" in exercise


def test_smoke_numbers_are_said_to_mean_nothing():
    for name in ("notebooks/01_quickstart.py", "notebooks/04_small_runs.py", "README.md"):
        assert "SMOKE = True" in text(name) and "mean nothing" in text(name), name
    assert "smoke_note(" in text("notebooks/04_small_runs.py")  # the kit's line under the table


def test_notebook_07s_headline_holds_on_the_shipped_study():
    """The learned map reaches a lower L_d than the mask on every trained trunk, not on the
    random one: the headline says so."""
    from scd_lab.paths import study_dir
    from scd_lab.studies.objective import read_cells

    oracle = {c: next(r for r in rs if "oracle_mask" in r)
              for c, rs in read_cells(study_dir()).items() if any("oracle_mask" in r for r in rs)}
    trained = {c: o for c, o in oracle.items() if not c.startswith("random")}
    assert trained and all(o["final_loss"] < o["oracle_mask"] for o in trained.values())
    assert all(o["final_loss"] > o["oracle_mask"] for c, o in oracle.items() if c not in trained)
    head = text("notebooks/07_does_the_map_find_the_object.py").split("# %%")[1]
    assert "frozen *trained* trunks" in head and "The random trunk is the exception" in head
