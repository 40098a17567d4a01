"""``train.compile``: the method under ``torch.compile``, and back to eager when that fails.

``torch.compile`` compiles lazily, at the first call, and can fail there (no C++ compiler for
the CPU backend, no Triton for the GPU one, an operation the compiler does not support). A run
should not die of it: ``CompiledModel`` tries the compiled model and, on the first failure,
prints one line saying why and runs the eager model from then on (the step is re-run from the
same seed, so the run is the one the eager model would have trained).

``train.compile_mode`` is ``torch.compile``'s ``mode``: ``default``, ``reduce-overhead`` (CUDA
graphs: the step's launches replayed as one graph; needs fixed shapes, which the kit's step
has, see ``scd_lab.data.augment``) or ``max-autotune``. docs/cost.md says where it was measured
and what it gave.
"""
from __future__ import annotations

import sys
from typing import Callable

import torch
from torch import nn

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def _torch_compile(model: nn.Module, mode: str):
    """``torch.compile`` (a module attribute, so a test can make it fail)."""
    return torch.compile(model, mode=None if mode == "default" else mode)


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, with its type (for the fallback's note)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


class CompiledModel:
    """Calls ``torch.compile(model)``; if that raises, says so in one line and calls ``model``.

    Args:
        model: the module (the method, or its DistributedDataParallel wrapper).
        mode: a ``COMPILE_MODES`` entry.
        before_retry: called before the eager re-run of a failed call (the trainer re-seeds
            the step's randomness there).
        say: where the line goes (default: standard error).

    Attributes:
        eager: ``model``. error: ``None``, or the one-line reason compilation was given up.
    """

    def __init__(self, model: nn.Module, mode: str = "default",
                 before_retry: Callable[[], None] | None = None,
                 say: Callable[[str], None] | None = None):
        self.eager, self.mode, self.error = model, mode, None
        self.before_retry = before_retry
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self.compiled = _torch_compile(model, mode)

    def __call__(self, *args, **kwargs):
        if self.error is None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any compiler failure: run eagerly
                self.error = one_line(exc)
                self.say(f"train.compile: torch.compile failed ({self.error}); training "
                         "continues without it (set train.compile=false to skip the attempt)")
                if self.before_retry is not None:
                    self.before_retry()
        return self.eager(*args, **kwargs)

    @property
    def active(self) -> bool:
        """Whether the compiled model is in use (no failure so far)."""
        return self.error is None
