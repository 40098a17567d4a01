"""The notebooks' times come from one source, docs/notebook_times.md: the README's table,
notebooks/README.md's table and every notebook's header state the figures it holds."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "docs" / "notebook_times.md"
NOTEBOOKS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py"))
# a figure: "29 s", "61-87 s" (two figures), "1 min 26 s" (two), "15.6 min"
FIGURE = re.compile(r"(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*(h|min|s)\b")


def figures(text: str) -> set[str]:
    """Every time figure in ``text``: ``{"61 s", "87 s"}`` for ``"61-87 s"``."""
    out = set()
    for low, high, unit in FIGURE.findall(text):
        out |= {f"{low} {unit}"} | ({f"{high} {unit}"} if high else set())
    return out


def tables(text: str) -> list[list[list[str]]]:
    """The Markdown tables of ``text`` (``# `` comment prefixes stripped), as lists of rows of
    cells, the header row first and the ``---`` row dropped."""
    out, rows = [], []
    for line in text.splitlines() + [""]:
        line = line.removeprefix("#").strip()
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
        elif rows:
            out, rows = out + [rows], []
    return out


def tier_columns(path: Path) -> dict[str, tuple[str, str]]:
    """``{notebook: (CPU smoke cell, CPU full cell)}`` of the table of ``path`` with those
    columns (the notebook named in backticks in the first column)."""
    for table in tables(path.read_text()):
        head = table[0]
        if "CPU smoke" in head and "CPU full" in head:
            s, f = head.index("CPU smoke"), head.index("CPU full")
            return {row[0].strip("`"): (row[s], row[f]) for row in table[1:]}
    raise AssertionError(f"{path.relative_to(REPO)} has no table with CPU smoke and CPU full")


TIMES = tier_columns(SOURCE)


def test_the_source_has_a_row_for_every_notebook():
    missing = [nb for nb in NOTEBOOKS if nb not in TIMES]
    assert not missing, f"add a row for {missing} to docs/notebook_times.md (measure it first)"
    assert all(figures(smoke) for smoke, _ in TIMES.values()), "every smoke time is measured"


@pytest.mark.parametrize("readme", ["README.md", "notebooks/README.md"])
def test_the_readme_tables_state_the_sources_figures(readme):
    stated = tier_columns(REPO / readme)
    for nb, (smoke, full) in TIMES.items():
        if nb not in stated:
            continue  # a README may leave a notebook out; what it states must agree
        for tier, mine, theirs in (("smoke", smoke, stated[nb][0]), ("full", full, stated[nb][1])):
            assert figures(theirs) == figures(mine), (
                f"{readme}, {nb}, CPU {tier}: {theirs!r} states {sorted(figures(theirs))}; "
                f"docs/notebook_times.md says {mine!r}")


def header_rows(nb: str) -> list[list[str]]:
    """The rows of the tier table(s) in a notebook's text before its parameters cell."""
    text = (REPO / "notebooks" / f"{nb}.py").read_text().split('tags=["parameters"]')[0]
    return [row for table in tables(text) for row in table[1:]]


@pytest.mark.parametrize("nb", NOTEBOOKS)
def test_each_notebook_header_states_the_sources_figures(nb):
    """The header's smoke row holds the smoke figures, its full row the full ones; a row for
    both tiers holds the full tier's (the slower bounds both)."""
    smoke, full = TIMES[nb]
    found = {"smoke": False, "full": False}
    for row in header_rows(nb):
        tier = row[0].lower()
        want = full if "full" in tier else smoke if "smoke" in tier else None
        if want is None:
            continue
        found.update({t: True for t in ("smoke", "full") if t in tier})
        missing = figures(want) - figures(" ".join(row[1:]))
        assert not missing, (f"notebooks/{nb}.py's header row {row[0]!r} lacks {sorted(missing)} "
                             f"(docs/notebook_times.md: {want!r})")
    assert all(found.values()), f"notebooks/{nb}.py's header has no row for {found}"
