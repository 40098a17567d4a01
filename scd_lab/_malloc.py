"""High glibc malloc thresholds for the kit's own commands (CPU training speed).

With glibc's defaults every large tensor of a CPU training step comes from a fresh ``mmap`` and
goes back with ``munmap`` (or a heap trim), so each step pays page faults to zero-fill the same
memory again, and CPU training is markedly slower (the side-by-side measurement, with its
machine, is in docs/cost.md and benchmarks/results/). High mmap and trim thresholds keep that
memory in the heap, where it is reused.

``tune_malloc()`` applies them in the running process (``mallopt``, which is what the
``MALLOC_*_`` environment variables do at start-up, effective for every later allocation) and
exports the variables so that child processes (spawned DataLoader workers, torchrun workers,
subprocesses) start with them. It changes nothing when:

* ``SCD_LAB_MALLOC`` is ``0``/``off``/``false``/``no`` (the opt-out);
* any ``MALLOC_*`` variable is already set (the user chose; respected as is);
* the C library is not glibc (macOS, musl, Windows).

    from scd_lab._malloc import tune_malloc
    tune_malloc()          # first line of scd_lab.cli:main
"""
from __future__ import annotations

import ctypes
import os
import sys

OPT_OUT = "SCD_LAB_MALLOC"

#: variable -> (mallopt parameter, value). mallopt takes an int, hence the 1 GiB ceiling.
SETTINGS = {
    "MALLOC_MMAP_THRESHOLD_": (-3, 256 << 20),  # M_MMAP_THRESHOLD: below 256 MiB from the heap
    "MALLOC_TRIM_THRESHOLD_": (-1, 1 << 30),  # M_TRIM_THRESHOLD: keep freed memory (1 GiB)
    "MALLOC_TOP_PAD_": (-2, 64 << 20),  # M_TOP_PAD: grow the heap 64 MiB at a time
}


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version  # only glibc has it
        version.restype = ctypes.c_char_p
        version()
        return libc
    except (OSError, AttributeError):
        return None


def tune_malloc(environ=None) -> dict[str, int]:
    """Apply high malloc thresholds unless opted out; returns {variable: value} applied
    (empty when nothing was changed). Safe to call more than once."""
    env = os.environ if environ is None else environ
    if env.get(OPT_OUT, "1").strip().lower() in ("0", "off", "false", "no"):
        return {}
    if any(k.startswith("MALLOC_") for k in env):
        return {}  # the user's own settings (or ours, already applied at start-up)
    libc = _glibc()
    if libc is None:
        return {}
    applied = {}
    for name, (param, value) in SETTINGS.items():
        if libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1:
            applied[name] = value
    for name, value in applied.items():
        env[name] = str(value)  # for child processes
    return applied
