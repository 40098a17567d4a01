"""The grader of submitted notebooks (``scd-lab grade``), for courses without nbgrader.

Each item is graded in isolation: its answer cell, found by its nbgrader ``grade_id`` (never
by running the check cells, so deleting or editing a check cell changes nothing), runs alone
in a fresh namespace with a few imports, its output swallowed and a time limit; then the
answer is checked on the visible and the hidden cases. One item's failure never stops
another's. An answer that calls the library's own implementation of the same job gets 0: the
call is seen in the cell's code, and the library's function raises while the answer runs.
Written answers are left to the instructor (points empty) unless the cell is untouched (0).
"""
from __future__ import annotations

import contextlib
import io
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError
from ...tables import table_csv
from .build import TEXT_STUB, notebook_key, read_notebook
from .feedback import MISSING, Result, evaluate, library_calls
from .items import Item
from .registry import notebook_items, notebooks

PRELUDE = "import math\nimport torch\nimport torch.nn.functional as F\n"
ANSWER_FILE = "<answer>"
TIME_LIMIT_S = 30


@dataclass(frozen=True)
class Row:
    notebook: str
    item: str
    points: int | None   # None: a written answer, to grade by hand
    max_points: int
    feedback: str


class LibraryCall(Exception):
    """Raised by a library function that an answer called while it was graded."""


def _guarded(name: str, fn):
    def guard(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:  # called (at any depth) from the student's answer?
            if frame.f_code.co_filename == ANSWER_FILE:
                raise LibraryCall(f"it calls the library's own {name}: the exercise is to "
                                  "write it yourself, so this scores 0")
            frame = frame.f_back
        return fn(*args, **kwargs)
    return guard


@contextlib.contextmanager
def forbid(names: tuple[str, ...]):
    """While it runs, the library's functions of these names raise when an answer calls them."""
    patched = []
    for mod in [m for k, m in list(sys.modules.items()) if k.startswith("scd_lab") and m]:
        for name in names:
            fn = getattr(mod, name, None)
            if callable(fn):
                patched.append((mod, name, fn))
                setattr(mod, name, _guarded(name, fn))
    try:
        yield
    finally:
        for mod, name, fn in patched:
            setattr(mod, name, fn)


@contextlib.contextmanager
def time_limit(seconds: int):
    """Stop an answer that runs longer than ``seconds`` (in the main thread; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        signal.alarm(1)  # again in a second, should this one land where it is swallowed
        raise TimeoutError(f"stopped after {seconds} s")
    old = signal.signal(signal.SIGALRM, stop)
    before = signal.alarm(seconds)  # an alarm already set (a test runner's) is put back after
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        if before:
            signal.alarm(before)


def _code(source: str) -> str:
    """The cell without IPython's magics and shell lines."""
    return "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def grade_item(it: Item, source: str | None, hidden: bool = True) -> Result:
    """Grade one answer cell's source against its item."""
    if source is None:
        return Result(it, False, what="the answer cell is missing (deleted, or its metadata "
                                      "removed): the answer cannot be found")
    used = library_calls(source, it.forbidden)
    if used:
        return Result(it, False, what=f"it calls the library's own {', '.join(used)}: the "
                                      "exercise is to write it yourself, so this scores 0")
    ns: dict = {"__name__": "__answer__"}
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                time_limit(TIME_LIMIT_S):
            exec(compile(PRELUDE + _code(source), ANSWER_FILE, "exec"), ns)
            with forbid(it.forbidden):
                return evaluate(it, ns.get(it.name, MISSING), hidden=hidden)
    except NotImplementedError:
        return Result(it, False, what="not implemented yet: the answer cell still raises "
                                      "NotImplementedError")
    except LibraryCall as exc:
        return Result(it, False, what=str(exc))
    except BaseException as exc:  # the student's code: anything it raises is feedback
        if isinstance(exc, KeyboardInterrupt):
            raise
        msg = str(exc).splitlines()[0][:160] if str(exc) else ""
        return Result(it, False, what=f"the answer cell raised {type(exc).__name__}"
                                      + (f": {msg}" if msg else "")
                                      + " (it runs alone: give the value, not a name from "
                                        "another cell)" * isinstance(exc, NameError))


def _cell_sources(nb: dict) -> dict[str, str]:
    out = {}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        src = cell.get("source", "")
        if gid:
            out[gid] = "".join(src) if isinstance(src, list) else src
    return out


def _open(path: Path) -> tuple[dict, list[Item]]:
    """A submitted notebook and its items, or one clear error."""
    if not path.exists():
        raise UserError(f"{path} does not exist: give the submitted .ipynb files")
    if path.is_dir():
        raise UserError(f"{path} is a folder: give the .ipynb files in it ({path}/*.ipynb)")
    nb = read_notebook(path)
    key = notebook_key(nb)
    graded = ", ".join(notebooks())
    if not key:
        raise UserError(f"{path} is not one of the kit's notebooks (no scd_lab metadata): give "
                        f"a copy written by `scd-lab course release` (graded: notebooks {graded})")
    return nb, notebook_items(key)


def grade_notebook(path: Path, opened: tuple[dict, list[Item]] | None = None) -> list[Row]:
    """One row per graded item of one submitted notebook (``opened``: what ``_open`` read)."""
    path = Path(path)
    nb, items = opened or _open(path)
    cells = _cell_sources(nb)
    rows = []
    for it in items:
        src = cells.get(it.id)
        if it.kind == "written":
            text = (src or "").strip()
            blank = not text or text == TEXT_STUB
            rows.append(Row(str(path), it.id, 0 if blank else None, it.points,
                            "no answer written" if blank else
                            f"graded by hand ({len(text.split())} words): see rubrics.md"))
            continue
        result = grade_item(it, src)
        rows.append(Row(str(path), it.id, result.points, it.points,
                        result.block(hidden=True).replace("\n", " / ")))
    return rows


def grade(paths: list[Path]) -> list[Row]:
    """Every notebook's rows; a file that is not one of the kit's notebooks stops it (exit 2)
    before anything is graded."""
    opened = {p: _open(Path(p)) for p in paths}  # every file checked before any grading
    graded = [p for p in paths if opened[p][1]]  # e.g. 01 has nothing to grade
    if not graded:
        raise UserError(f"{', '.join(map(str, paths))}: no graded items in "
                        f"{'this notebook' if len(paths) == 1 else 'these notebooks'}; the "
                        f"graded notebooks are {', '.join(notebooks())}")
    return [row for p in graded for row in grade_notebook(Path(p), opened[p])]


def rows_csv(rows: list[Row]) -> str:
    return table_csv([row.__dict__ for row in rows])
