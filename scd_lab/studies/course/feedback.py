"""Checking one answer against its item, and saying what is wrong in a short block, never a
traceback: the item and the case, what differs, the common mistake it looks like, and where
the next hint is. Hints go from the concept to the formula; nothing here prints code.

    check("02-wap")        # in a notebook: the answer is read from the notebook's names
    hint("02-wap")         # the concept; ask again for the formula

``check`` prints a passing block; a failing one is raised as :class:`CheckFailed`, which
IPython shows as the block alone (``_render_traceback_``), so that a notebook run and nbgrader
see a failed check while the student sees no traceback. With ``SCD_LAB_GRADING=1`` (the
grader, or ``nbgrader autograde``) the hidden cases run too.
"""
from __future__ import annotations

import ast
import inspect
import math
import os
import sys
import textwrap
from dataclasses import dataclass

import torch

from .items import Item
from .registry import item as get_item

MISSING = object()
_asked: dict[str, int] = {}


@dataclass(frozen=True)
class Result:
    item: Item
    passed: bool
    case: str = ""
    what: str = ""
    mistake: str = ""

    @property
    def points(self) -> int:
        return self.item.points if self.passed else 0

    def block(self, hidden: bool = False) -> str:
        it = self.item
        head = f"{it.id} · {it.title}"
        if self.passed:
            if hidden:
                return f"✓ {head}: every case passes, the hidden ones too"
            return f"✓ {head}: the visible cases pass ({it.points} points if the hidden ones do)"
        lines = [f"✗ {head}" + (f": case \"{self.case}\"" if self.case else ""), self.what]
        if self.mistake:
            lines.append(f"this looks like a common mistake: {self.mistake}")
        if it.hints:
            lines.append(f"stuck? hint(\"{it.id}\") gives a hint; asking again gives more")
        return "\n".join(textwrap.fill(line, 96, subsequent_indent="  ",
                                                   break_on_hyphens=False) for line in lines)


class CheckFailed(Exception):
    """A failed check: IPython prints the feedback block instead of a traceback."""

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


def library_calls(source: str, forbidden: tuple[str, ...]) -> list[str]:
    """The forbidden library names the code calls or imports."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return []
    own = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    imported, called = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.alias):
            imported.add(node.name.rpartition(".")[2])
        elif isinstance(node, ast.Call):
            f = node.func
            called.add(f.id if isinstance(f, ast.Name) else getattr(f, "attr", ""))
    found = (imported | (called - own)) & set(forbidden)  # a helper of one's own may share a name
    return sorted(found)


def _flat(x) -> list:
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in _flat(v)]
    return [torch.as_tensor(x).detach().double()]


def compare(got, want, atol: float) -> str | None:
    """None when ``got`` matches ``want``; else one sentence saying how it differs."""
    try:
        g, w = _flat(got), _flat(want)
    except (TypeError, ValueError, RuntimeError):
        return f"returned {type(got).__name__}, expected numbers or tensors"
    if len(g) != len(w):
        return f"returned {len(g)} value(s), expected {len(w)}"
    for i, (a, b) in enumerate(zip(g, w)):
        which = f"value {i + 1}: " if len(w) > 1 else ""
        if a.shape != b.shape:
            return f"{which}shape {tuple(a.shape)}, expected {tuple(b.shape)}"
        if not torch.isfinite(a).all() and torch.isfinite(b).all():
            return (f"{which}NaN or inf where the answer is finite: a division by zero (a zero "
                    "denominator) gave it")
        if not torch.allclose(a, b, rtol=1e-4, atol=atol):
            return f"{which}the values differ (largest difference {(a - b).abs().max():.3g})"
    return None


def _run(fn, case):
    try:
        return case.output(fn, case.args()), None
    except NotImplementedError:
        return None, "not implemented yet: replace the `raise NotImplementedError` line"
    except Exception as exc:  # the student's code: any error is feedback, not a crash
        msg = str(exc).splitlines()[0][:160] if str(exc) else ""
        return None, f"it raised {type(exc).__name__}" + (f": {msg}" if msg else "")


def _function(it: Item, fn, hidden: bool) -> Result:
    if not callable(fn):
        return Result(it, False, what=f"`{it.name}` is not a function yet: run its cell")
    try:  # the student's function (the kit's own references and mistakes may call it)
        own = str(getattr(fn, "__module__", "")).startswith("scd_lab.")
        used = [] if own else library_calls(inspect.getsource(fn), it.forbidden)
    except (OSError, TypeError):
        used = []
    if used:
        return Result(it, False, what=f"it calls the library's own {', '.join(used)}: the "
                                       "exercise is to write it yourself, so this scores 0")
    for case in it.visible + (it.hidden if hidden else ()):
        got, error = _run(fn, case)
        if error:
            return Result(it, False, case.label, error)
        want = case.output(it.reference, case.args())
        what = compare(got, want, it.atol)
        if what is None:
            continue
        mistake = next((m.says for m in it.mistakes
                        if compare(got, _run(m.fn, case)[0], it.atol) is None), "")
        if not mistake and isinstance(want, torch.Tensor) and compare(got, -want, it.atol) is None:
            mistake = "a flipped sign: every value is the negative of what it should be"
        return Result(it, False, case.label, what, mistake)
    return Result(it, True)


def _numeric(it: Item, value) -> Result:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return Result(it, False, what=f"`{it.name}` must be a number, got {type(value).__name__}")
    want = float(it.expected())
    if math.isfinite(x) and abs(x - want) <= it.tol:
        return Result(it, True)
    unit = 0 <= want <= 1  # a fraction (an AUROC, a share)
    mistake = ("it looks like a percentage: give a fraction" if unit and abs(x / 100 - want)
               <= it.tol else "it looks like 1 minus the answer: check the polarity"
               if unit and abs(1 - x - want) <= it.tol else "")
    return Result(it, False, what=f"{it.name} = {x:g} does not match {it.source}",
                  mistake=mistake)


def evaluate(it: Item, value, hidden: bool = False) -> Result:
    """Grade one answer (a function or a number) against its item."""
    if value is MISSING:
        return Result(it, False, what=f"`{it.name}` is not defined: run the answer cell first")
    if it.kind == "function":
        return _function(it, value, hidden)
    return _numeric(it, value)


def grading() -> bool:
    """True when the hidden cases should run (the grader, or nbgrader with SCD_LAB_GRADING=1)."""
    return os.environ.get("SCD_LAB_GRADING") == "1"


def check(item_id: str, value=MISSING) -> None:
    """Check an answer in a notebook; without ``value`` it is read from the calling notebook's
    names. Prints the block when it passes; raises :class:`CheckFailed` when it does not.
    Returns nothing, so that a notebook shows no value (and nbgrader reads none as a score)."""
    it = get_item(item_id)
    if it.kind == "written":
        print(f"{it.id} · {it.title}: a written answer, graded by hand")
        return
    if value is MISSING:
        value = sys._getframe(1).f_globals.get(it.name, MISSING)
    result = evaluate(it, value, hidden=grading())
    if not result.passed:
        raise CheckFailed(result.block())
    print(result.block(hidden=grading()))


def hint(item_id: str) -> None:
    """The next hint for an item: first the concept, then the formula, then where to read."""
    it = get_item(item_id)
    n = _asked.get(item_id, 0)
    _asked[item_id] = n + 1
    if n < len(it.hints):
        more = " (ask again for the next)" if n + 1 < len(it.hints) else ""
        print(textwrap.fill(f"hint {n + 1}/{len(it.hints)} for {it.id}{more}: {it.hints[n]}", 96))
    else:
        print(f"no more hints for {it.id}: reread the text above the exercise and "
              "docs/method.md, or ask your instructor")
