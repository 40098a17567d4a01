"""``scd-lab course release DIR`` (the students' copies) and ``scd-lab course instructor DIR``
(solutions, rubrics and nbgrader's source folder), from the notebooks' jupytext sources."""
from __future__ import annotations

from pathlib import Path

from ..studies.course.build import instructor, release


def cmd_course(args) -> int:
    written = (release if args.what == "release" else instructor)(args.dir)
    print(f"wrote {len(written)} files under {Path(args.dir).resolve()}")
    return 0


def register(subparsers) -> None:
    ap = subparsers.add_parser("course", help="write the students' or the instructor's copies",
                               description="Write the notebooks' copies for a course: `release` "
                                           "the students' (no solutions), `instructor` the "
                                           "solutions, rubrics and nbgrader's source folder.")
    ap.add_argument("what", choices=("release", "instructor"))
    ap.add_argument("dir", type=Path, help="where to write (outside the repository's notebooks/)")
    ap.set_defaults(fn=cmd_course)
