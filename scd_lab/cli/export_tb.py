"""``scd-lab export-tb``: a run's records as TensorBoard event files (``viz.tensorboard``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from ..viz.tensorboard import export_tensorboard
from ..paths import runs_root


def cmd_export_tb(args: argparse.Namespace) -> int:

    out = Path(args.out) if args.out else runs_root() / "tensorboard"
    try:
        written = export_tensorboard(args.runs, out)
    except ImportError as exc:
        raise UserError(f"export-tb needs the tensorboard package ({exc}); "
                        "pip install tensorboard (or pip install -e .[notebooks])") from None
    for label, logdir in written.items():
        print(f"{label}: {logdir}")
    print(f"view with: tensorboard --logdir {out} --samples_per_plugin images=1000")
    return 0


def register(subparsers) -> None:
    """Add the ``export-tb`` verb to ``scd-lab``'s sub-commands."""
    p = subparsers.add_parser("export-tb", help="write runs' metrics and saliency maps as "
                                                "TensorBoard event files")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder of the event files, one sub-folder per run (default "
                        "runs/tensorboard at the repository root, or $SCD_LAB_RUNS/tensorboard)")
    p.set_defaults(fn=cmd_export_tb)
