"""The ``scd-lab`` command: train, demo, eval, data, bench, study, sweep, challenge,
export-tb, explore, presets, methods, grade, course.

Every mistake in the input (an unknown key, a missing run, a bad folder) prints one line that
names the problem and the fix, and exits with status 2; nothing already written is lost.
"""
from __future__ import annotations

import argparse
import sys

from .._malloc import tune_malloc
from ..errors import UserError
from . import (bench, challenge, course, data, demo, eval, explore, export_tb, grade, listing,
               study, sweep, train)

VERBS = (train, demo, eval, listing, data, bench, study, sweep, challenge, export_tb, explore,
         grade, course)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scd-lab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for verb in VERBS:  # one module per verb, each with register(subparsers)
        verb.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the real command line: high malloc thresholds (SCD_LAB_MALLOC=0: off)
        tune_malloc()
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except UserError as exc:
        print(f"scd-lab: error: {exc}", file=sys.stderr)
        return 2
