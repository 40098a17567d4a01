"""docs/fidelity.md: every row of its table names a test, and every test it names exists."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "fidelity.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _table_rows() -> list[str]:
    section = DOC.read_text().split("## The table")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return rows[1:]  # without the header (the separator starts with "|-")


def test_every_row_names_a_test():
    rows = _table_rows()
    assert len(rows) >= 25
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 5, row
        assert TEST_REF.search(cells[4]), f"no test named in: {row[:80]}"
        assert cells[3].split(" ")[0].rstrip(":") in ("equal", "option", "deviation", "removed"), \
            row[:80]


def test_every_named_test_exists():
    refs = TEST_REF.findall(DOC.read_text())
    assert refs
    for path, name in refs:
        source = REPO / path
        assert source.is_file(), path
        assert re.search(rf"^def {name}\(", source.read_text(), re.M), f"{path}::{name}"
