"""The course's graded items, one registry: the single source of truth for the notebooks' check
cells, ``scd-lab grade``, the nbgrader metadata and the instructor's rubrics."""
from __future__ import annotations

from ...errors import UserError
from . import answers, bank_00, bank_02
from .items import KINDS, Item


def _build() -> dict[str, Item]:
    reg: dict[str, Item] = {}
    for it in (*bank_00.ITEMS, *bank_02.ITEMS, *answers.ITEMS):
        if it.kind not in KINDS or it.id in reg or not it.id.startswith(it.notebook + "-"):
            raise ValueError(f"bad or repeated item {it.id!r}")
        reg[it.id] = it
    return reg


REGISTRY: dict[str, Item] = _build()


def item(item_id: str) -> Item:
    if item_id not in REGISTRY:
        raise UserError(f"no graded item {item_id!r}; the items are: {', '.join(REGISTRY)}")
    return REGISTRY[item_id]


def notebook_items(notebook: str) -> list[Item]:
    """The items of one notebook ("02"), in the registry's order."""
    return [it for it in REGISTRY.values() if it.notebook == notebook]


def notebooks() -> list[str]:
    """The notebooks that have graded items ("00", "02", ...)."""
    return sorted({it.notebook for it in REGISTRY.values()})
