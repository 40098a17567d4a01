"""``scd-lab demo``: BYOL, SCD-BYOL and LEWEL-BYOL on the embedded dataset (``studies.demo``)."""
from __future__ import annotations

import argparse
from ..studies.demo import run_demo
from ..config import METHOD_DEFAULTS

def cmd_demo(args) -> int:
    run_demo(out=args.out, epochs=args.epochs, budget_min=args.budget_min,
             methods=[m for m in args.methods.split(",") if m], overrides=args.set or [])
    return 0


def _method_list(text: str) -> str:
    bad = [m for m in text.split(",") if m and m not in METHOD_DEFAULTS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown method {bad[0]!r}; choose from "
                                         f"{', '.join(METHOD_DEFAULTS)}")
    return text


def register(sub) -> None:
    d = sub.add_parser("demo", help="the main job: BYOL, SCD-BYOL and LEWEL-BYOL on the "
                                    "embedded dataset, with a figure and a results table")
    d.add_argument("--out", default=None, help="folder of the runs, the figure and the table "
                                               "(default runs/demo at the repository root)")
    d.add_argument("--epochs", type=int, default=None,
                   help="epochs per method (default: the cpu preset's 6)")
    d.add_argument("--budget-min", type=float, default=None,
                   help="fewer epochs if the time estimate exceeds this many minutes")
    d.add_argument("--methods", default="byol,scd-byol,lewel-byol", type=_method_list,
                   help="comma-separated methods to train (default byol,scd-byol,lewel-byol)")
    d.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a field of the cpu preset for every method (repeatable)")
    d.set_defaults(fn=cmd_demo)
