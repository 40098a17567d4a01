"""``scd-lab course release|instructor`` and ``scd-lab grade``, run as an instructor runs them
(docs/course.md): the solutions get every automatic point, every untouched student copy 0,
no traceback anywhere; a file that is not a kit notebook is one line and exit 2."""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from scd_lab.cli import main

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "scd_lab.cli"]

#: every command of the bash blocks of docs/course.md and notebooks/README.md, and where it runs
COVERED = {
    "scd-lab challenge runs/challenge/* > leaderboard.md":
        "tests/studies/test_challenge.py::test_command_line",
    "git clone <this repository> scd_lab && cd scd_lab": "CI itself (a fresh clone)",
    'python -m pip install -e ".[course]"': "CI installs .[dev], which holds the course extra",
    "scd-lab course instructor ~/scd-instructor": "test_from_a_clone_to_a_csv_of_grades",
    "scd-lab course release ~/scd-students": "test_from_a_clone_to_a_csv_of_grades",
    "scd-lab grade submissions/*.ipynb --csv grades.csv": "test_from_a_clone_to_a_csv_of_grades",
}


def test_every_course_command_is_covered():
    text = "".join((REPO / f).read_text() for f in ("docs/course.md", "notebooks/README.md"))
    cmds = [line.split("  #")[0].strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)
            for line in block.splitlines() if line.strip()]
    assert len(cmds) >= 8 and [c for c in cmds if c not in COVERED] == []


def run(args, cwd, check=0):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HOME": str(cwd)}
    proc = subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == check, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def test_from_a_clone_to_a_csv_of_grades(tmp_path, capsys):
    home = tmp_path  # the writers run in this process (cheap); the grader as a command
    assert main(["course", "instructor", str(home / "scd-instructor")]) == 0
    assert main(["course", "release", str(home / "scd-students")]) == 0
    subs = tmp_path / "submissions"
    subs.mkdir()
    graded = sorted((home / "scd-instructor" / "source").glob("*/*.ipynb"))
    for nb in graded:  # one student hands in the solutions, another the untouched copies
        shutil.copy(nb, subs / f"alice_{nb.name}")
        shutil.copy(home / "scd-students" / nb.name, subs / f"bob_{nb.name}")
    proc = run(["grade", *sorted(str(p) for p in subs.glob("*.ipynb")), "--csv", "grades.csv"],
               tmp_path)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text())))
    assert rows and list(rows[0]) == ["notebook", "item", "points", "max_points", "feedback"]
    assert len({r["item"] for r in rows}) >= 24
    for r in rows:
        if Path(r["notebook"]).name.startswith("alice_"):  # full marks; written: by hand
            assert r["points"] in (r["max_points"], ""), r
        else:
            assert r["points"] == "0", r
    assert "bob_02_losses_from_scratch.ipynb: 0 / 20 points" in proc.stderr
    assert "alice_02_losses_from_scratch.ipynb: 15 / 15 points" in proc.stderr
    bad = tmp_path / "notes.ipynb"
    bad.write_text("{}")
    capsys.readouterr()
    assert main(["grade", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a notebook" in err
    assert main(["course", "release", str(REPO / "notebooks" / "mine")]) == 2
    assert "inside the tracked notebooks/" in capsys.readouterr().err
    assert not (REPO / "notebooks" / "mine").exists()


def test_refusals_keep_what_is_written(tmp_path, capsys):
    """A second release never overwrites the students' folder, and a bad path to grade or to
    write to is one line and exit 2, before any work."""
    students = tmp_path / "students"
    assert main(["course", "release", str(students)]) == 0
    assert "wrote 11 files" in capsys.readouterr().out  # ten notebooks and the README
    mine = students / "00_primer.ipynb"
    mine.write_text(mine.read_text().replace("raise NotImplementedError", "return 0 # mine", 1))
    kept = mine.read_text()

    def refused(args, words):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err

    refused(["course", "release", str(students)], "already holds files")
    refused(["course", "instructor", str(students)], "already holds files")
    refused(["course", "release", str(mine)], "is a file")
    assert mine.read_text() == kept
    refused(["grade", str(tmp_path / "missing.ipynb")], "does not exist")
    refused(["grade", str(students)], "is a folder")
    refused(["grade", str(students / "01_quickstart.ipynb")], "no graded items")
    capsys.readouterr()
    assert main(["grade", str(students / "01_quickstart.ipynb"), str(mine)]) == 0
    assert "01_quickstart.ipynb: no graded items in this notebook (skipped)" in \
        capsys.readouterr().err
    refused(["grade", str(mine), "--csv", str(tmp_path / "nowhere" / "g.csv")], "does not exist")
    refused(["grade", str(mine), "--csv", str(students)], "is a folder")
    refused(["explore", "--html", str(students), "--reference", "demo"], "is a folder")
    assert mine.read_text() == kept and not list(tmp_path.glob("*.tmp"))
