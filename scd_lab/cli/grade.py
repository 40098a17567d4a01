"""``scd-lab grade NOTEBOOK... [--csv FILE]``: grade submitted notebooks with the course's
hidden cases (``studies.course.grade``), one row per notebook and item."""
from __future__ import annotations

import sys
from pathlib import Path

from ..studies.course.grade import grade, rows_csv
from ._parsers import check_output_file


def cmd_grade(args) -> int:
    check_output_file(args.csv)  # before grading, so that no grading is lost to a bad path
    rows = grade(args.notebooks)
    text = rows_csv(rows)
    if args.csv:
        Path(args.csv).write_text(text)
    print(text, end="")
    for path in args.notebooks:
        if str(path) not in {r.notebook for r in rows}:
            print(f"# {path}: no graded items in this notebook (skipped)", file=sys.stderr)
    for nb in dict.fromkeys(r.notebook for r in rows):
        mine = [r for r in rows if r.notebook == nb]
        auto = [r for r in mine if r.points is not None]
        hand = sum(r.max_points for r in mine if r.points is None)
        print(f"# {nb}: {sum(r.points for r in auto)} / {sum(r.max_points for r in auto)} "
              "points graded automatically" + (f"; {hand} to grade by hand" if hand else ""),
              file=sys.stderr)  # stdout stays a CSV
    return 0


def register(subparsers) -> None:
    ap = subparsers.add_parser("grade", help="grade submitted notebooks (hidden cases, CSV)",
                               description="Grade submitted notebooks: each graded item alone, "
                                           "on its visible and hidden cases.")
    ap.add_argument("notebooks", nargs="+", type=Path, help="submitted .ipynb files")
    ap.add_argument("--csv", help="also write the rows to this CSV file")
    ap.set_defaults(fn=cmd_grade)
