"""What a graded item of the course is (the registry of them all is ``registry.py``).

An :class:`Item` is one of three kinds:

- ``function``: the student writes a function (``name``); it is run on visible cases (the ones
  ``check`` shows in the notebook) and on hidden cases (only the grader runs them) against a
  reference; ``mistakes`` are wrong implementations whose output, when the student's matches
  it, names the mistake; ``forbidden`` are the library's own names for the same job, which the
  answer may not call.
- ``numeric``: the student sets a variable (``name``) to a number read from a run, a table or a
  figure; ``expected`` reads the right value (from the shipped reference runs or a table), and
  ``tol`` is the tolerance.
- ``written``: a short answer in a Markdown cell, graded by hand with ``model_answer`` and
  ``rubric``.

``hints`` go from the concept to the formula (in words and symbols, never code).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

KINDS = ("function", "numeric", "written")


@dataclass(frozen=True)
class Case:
    """One input of a function item. ``args()`` builds fresh arguments each call (a function
    may change them in place); ``output(fn, args)`` is what is compared (by default the return
    value; the EMA item compares the updated target)."""
    label: str
    args: Callable[[], tuple]
    output: Callable[[Callable, tuple], Any] = lambda fn, args: fn(*args)


@dataclass(frozen=True)
class Mistake:
    """A wrong implementation a student is likely to write, and what to tell them."""
    says: str
    fn: Callable


@dataclass(frozen=True)
class Item:
    id: str
    notebook: str          # "00" ... "09"
    kind: str              # one of KINDS
    points: int
    title: str
    name: str = ""         # the function or variable the student defines (not for written)
    hints: tuple[str, ...] = ()
    reference: Callable | None = None          # function items: the right answer
    visible: tuple[Case, ...] = ()
    hidden: tuple[Case, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    forbidden: tuple[str, ...] = ()            # library names the answer may not call
    atol: float = 1e-5
    expected: Callable[[], float] | None = None  # numeric items
    tol: float = 0.0
    source: str = ""       # numeric items: where the number is read
    model_answer: str = ""
    rubric: tuple[str, ...] = field(default_factory=tuple)
