"""The notebooks' three copies, generated from the jupytext sources (``notebooks/NN_name.py``):

- ``source``: the tracked ``notebooks/NN_name.ipynb``: full solutions, the model answers in
  the written cells, and nbgrader's metadata (nbgrader's "source" notebook);
- ``student``: what ``scd-lab course release DIR`` writes: each solution region replaced by
  ``raise NotImplementedError`` (as nbgrader's ClearSolutions does), each written answer by
  ``YOUR ANSWER HERE``, no model answer, rubric or hidden case;
- ``instructor``: the source copy, written by ``scd-lab course instructor DIR`` in nbgrader's
  course layout beside the rubrics.

In a source, an answer cell carries ``item="ID"`` in its ``# %%`` line (a Markdown cell for a
written item); the check cell is the code cell that starts with ``check("ID")``. Every copy
is a plain ``.ipynb``: no jupytext pairing, so saving one in JupyterLab writes nothing else.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ...errors import UserError
from .registry import REGISTRY, notebook_items

REPO = Path(__file__).resolve().parents[3]
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
SOLUTION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n",
                      re.S | re.M)
CHECK = re.compile(r"^check\(\"(?P<id>[\w-]+)\"")
STUB = 'raise NotImplementedError("your code here")'
TEXT_STUB = "YOUR ANSWER HERE"
GRADING_ENV = "SCD_LAB_GRADING"


def notebooks_dir() -> Path:
    """The notebooks' sources: the ``notebooks/`` folder of a clone."""
    folder = REPO / "notebooks"
    if not folder.is_dir():
        raise UserError("the notebooks' sources are not here: the course commands need a clone "
                        "of the repository installed with `pip install -e .`")
    return folder


def sources() -> list[Path]:
    """The notebook sources, in order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.py"))


def student_code(text: str) -> str:
    """Code with every solution region replaced by ``raise NotImplementedError``."""
    return SOLUTION.sub(lambda m: f"{m['indent']}{STUB}\n", text)


def _nbgrader(grade_id: str, grade: bool, solution: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def model_text(item_id: str) -> str:
    """A written item's model answer and rubric, as Markdown (the instructor's copies only)."""
    it = REGISTRY[item_id]
    return (f"**Model answer ({it.points} points).** {it.model_answer}\n\n**Rubric.**\n\n"
            + "\n".join(f"- {r}" for r in it.rubric))


def _mark(cell, role: str, notebook: str) -> None:
    item_id = cell.metadata.pop("item", None)
    if item_id is not None:
        it = REGISTRY.get(item_id)
        if it is None or it.notebook != notebook:
            raise ValueError(f"notebook {notebook}: unknown item {item_id!r}")
        written = it.kind == "written"
        cell.metadata["nbgrader"] = _nbgrader(item_id, written, True, it.points if written else None)
        if written:
            cell.source = TEXT_STUB if role == "student" else model_text(item_id)
        elif role == "student":
            cell.source = student_code(cell.source + "\n").rstrip("\n")
        return
    m = CHECK.match(cell.source) if cell.cell_type == "code" else None
    if m:
        it = REGISTRY[m["id"]]
        cell.metadata["nbgrader"] = _nbgrader(f"{it.id}-check", True, False, it.points)


def to_notebook(text: str, notebook: str = "", role: str = "source"):
    """A percent-format source as an output-free notebook with a Python 3 kernel; ``role`` is
    ``source`` (solutions), ``student`` or ``instructor``."""
    try:
        import jupytext  # the notebooks' extra: only the course's writers need it
    except ImportError:
        raise UserError("writing the notebooks needs jupytext: pip install -e \".[course]\"") \
            from None
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata = {"kernelspec": KERNEL}
    if notebook:
        nb.metadata["scd_lab"] = {"notebook": notebook, "copy": role}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: a sync that changes nothing writes nothing
        if notebook:
            _mark(cell, role, notebook)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    missing = {it.id for it in notebook_items(notebook)} - {
        c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if missing:
        raise ValueError(f"notebook {notebook}: no answer cell for {sorted(missing)}")
    return nb


def render(src: Path, role: str) -> str:
    """The text of ``src``'s notebook in one role."""
    import nbformat
    return nbformat.writes(to_notebook(src.read_text(), src.name[:2], role)) + "\n"


def _outside_sources(dest: Path) -> Path:
    """``dest`` when the copies may go there: outside notebooks/, and a new or empty folder
    (a second release into the students' folder would overwrite their work)."""
    dest = Path(dest).resolve()
    src = notebooks_dir().resolve()
    if dest == src or src in dest.parents:
        raise UserError(f"{dest} is inside the tracked notebooks/ folder: write the copies "
                        "somewhere else, e.g. `scd-lab course release ~/scd-course`")
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} is a file: give a folder to write the copies into")
    if dest.is_dir() and any(dest.iterdir()):
        raise UserError(f"{dest} already holds files, which the copies would overwrite (a "
                        "student's work among them): give a new or empty folder")
    return dest


STUDENT_README = """# SCD lab: your copies of the notebooks

Open this folder in JupyterLab (`jupyter lab .`) and work in these notebooks; they are yours.
Each graded exercise has an answer cell (replace `raise NotImplementedError(...)`), then a
check cell: `check("ID")` says whether the visible cases pass and, when they do not, what looks
wrong. `hint("ID")` gives a hint; calling it again gives a more precise one. Written answers go
where a cell says YOUR ANSWER HERE. Your instructor grades with hidden cases too.
"""


def release(dest: Path) -> list[Path]:
    """Write the students' copies of every notebook into ``dest`` (never inside notebooks/)."""
    dest = _outside_sources(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources():
        out = dest / src.with_suffix(".ipynb").name
        out.write_text(render(src, "student"))
        written.append(out)
    (dest / "README.md").write_text(STUDENT_README)
    return written + [dest / "README.md"]


def rubrics_markdown() -> str:
    """Every item: points, kind, and what the grader checks or the rubric."""
    lines = ["# Graded items: answers and rubrics (instructor only)", ""]
    for it in sorted(REGISTRY.values(), key=lambda i: i.notebook):  # stable: registry order
        lines.append(f"## {it.id} · {it.title} ({it.kind}, {it.points} points)")
        if it.kind == "function":
            cases = [c.label for c in it.visible] + [c.label for c in it.hidden]
            lines.append(f"`{it.name}`, checked on: " + "; ".join(cases) + ".")
        elif it.kind == "numeric":
            lines.append(f"`{it.name}` = {it.expected():.4g} ± {it.tol:g}: {it.source}.")
        else:
            lines.append(model_text(it.id))
        lines.append("")
    return "\n".join(lines)


NBGRADER_CONFIG = """c = get_config()  # noqa: F821 - nbgrader's config object
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "scd_lab"
# the hidden cases run when nbgrader autogrades: SCD_LAB_GRADING=1 nbgrader autograde ...
"""


def instructor(dest: Path) -> list[Path]:
    """Write the instructor's material into ``dest``: nbgrader's ``source/`` folder (one
    assignment per notebook, full solutions), ``rubrics.md`` and the instructor pages."""
    dest = _outside_sources(dest)
    written = []
    for src in sources():
        out = dest / "source" / src.stem / src.with_suffix(".ipynb").name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(src, "instructor"))
        written.append(out)
    (dest / "rubrics.md").write_text(rubrics_markdown())
    (dest / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=str(dest)))
    pages = REPO / "docs" / "instructor"
    for page in sorted(pages.glob("*.md")) if pages.is_dir() else []:
        shutil.copy(page, dest / page.name)
        written.append(dest / page.name)
    return written + [dest / "rubrics.md", dest / "nbgrader_config.py"]


def notebook_key(nb: dict) -> str:
    """Which of the kit's notebooks a notebook is ("02"), from the metadata every copy carries;
    "" for a notebook that is not the kit's."""
    meta = nb.get("metadata", {}).get("scd_lab", {})
    return str(meta.get("notebook", "")) if isinstance(meta, dict) else ""


def read_notebook(path: Path) -> dict:
    """A notebook file as JSON, or one clear error."""
    try:
        nb = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise UserError(f"{path} is not a notebook (.ipynb JSON): give the notebook files to "
                        "grade") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise UserError(f"{path} is not a notebook (no cells): give the notebook files to grade")
    return nb
