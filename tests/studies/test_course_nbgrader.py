"""The nbgrader round trip on notebook 00, in a temporary course folder: generate_assignment
on the tracked notebook (nbgrader's source), then autograde twice, the full solution (every
automatic point) and the untouched release (0). The check cells of the release fail with the
feedback block, not a traceback."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from traitlets.config import Config

from scd_lab.studies.course.registry import notebook_items

REPO = Path(__file__).resolve().parents[2]
NB = "00_primer"


@pytest.mark.slow  # two kernels
def test_generate_and_autograde_full_and_blank(tmp_path, monkeypatch):
    monkeypatch.setenv("SCD_LAB_GRADING", "1")  # the check cells run the hidden cases too
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "source" / NB).mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / f"{NB}.ipynb", tmp_path / "source" / NB)
    c = Config()
    c.CourseDirectory.root = str(tmp_path)
    c.CourseDirectory.course_id = "scd_lab"
    c.CourseDirectory.db_assignments = [{"name": NB}]
    c.CourseDirectory.db_students = [{"id": "full"}, {"id": "blank"}]
    api = NbGraderAPI(config=c)
    result = api.generate_assignment(NB, force=True)
    assert result["success"], result["log"]
    release = tmp_path / "release" / NB / f"{NB}.ipynb"
    for student, nb in (("full", tmp_path / "source" / NB / f"{NB}.ipynb"), ("blank", release)):
        (tmp_path / "submitted" / student / NB).mkdir(parents=True)
        shutil.copy(nb, tmp_path / "submitted" / student / NB)
        result = api.autograde(NB, student, force=True)
        assert result["success"], result["log"]
    auto = sum(it.points for it in notebook_items("00") if it.kind != "written")
    total = sum(it.points for it in notebook_items("00"))
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        full, blank = gb.find_submission(NB, "full"), gb.find_submission(NB, "blank")
        assert (full.score, full.max_score, blank.score) == (auto, total, 0)
        assert full.needs_manual_grade  # the written answers
    graded = json.loads((tmp_path / "autograded" / "blank" / NB / f"{NB}.ipynb").read_text())
    checks = [c for c in graded["cells"] if "".join(c["source"]).startswith("check(")]
    assert len(checks) == len([it for it in notebook_items("00") if it.kind != "written"])
    for cell in checks:
        err = next(o for o in cell["outputs"] if o["output_type"] == "error")
        assert err["ename"] == "CheckFailed" and err["traceback"][0].startswith("✗ 00-")
        assert not any("Traceback" in line for line in err["traceback"])
