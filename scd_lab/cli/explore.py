"""``scd-lab explore --html OUT.html RUN...``: the saliency explorer as one self-contained HTML
file (no kernel, no network): the epoch slider, image and map pickers, the overlay with the
mask outline, polarity flip, the AUROC-over-epochs curves and the feature space (t-SNE of the
probe set and nearest neighbours), runs side by side.

    scd-lab explore --html runs/explorer.html runs/demo/byol runs/demo/scd-byol runs/demo/lewel-byol
    scd-lab explore --html demo.html --reference demo     # the shipped demo runs

Runs shown together must share their probe images (same dataset, data.seed, train.probe_size).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RunError, UserError
from ..viz.explorer import ExplorerModel, reference_runs
from ..viz.explorer.export import export_html
from ._parsers import verb_parser


def cmd_explore(args: argparse.Namespace) -> int:
    if Path(args.html).is_dir():
        raise UserError(f"--html {args.html} is a folder: give the file to write, e.g. "
                        f"--html {Path(args.html) / 'explorer.html'}")
    runs: dict = {}
    if args.reference:
        runs.update(reference_runs(args.reference))
        if not runs:
            raise UserError(f"no shipped reference runs in group {args.reference!r}; try "
                            "--reference demo, distinct or gpu64")
    for path in args.runs:
        if not Path(path).is_dir():
            raise UserError(f"{path!r} is not a run folder; pass run directories (e.g. "
                            "runs/demo/scd-byol) or --reference demo")
        runs[Path(path).name if Path(path).name not in runs else str(path)] = Path(path)
    if not runs:
        raise UserError("no runs given: scd-lab explore --html OUT.html RUN [RUN ...] "
                        "(or --reference demo)")
    try:
        model = ExplorerModel(runs, images=args.images, display=args.display)
        out = export_html(model, args.html)
    except RunError as exc:
        raise UserError(str(exc)) from None
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): open it in a browser; it needs "
          "no kernel and no network")
    return 0


def register(subparsers) -> None:
    """Add the ``explore`` verb to ``scd-lab``'s sub-commands."""
    p = verb_parser(subparsers, "explore", "write the saliency explorer of runs as one "
                    "self-contained HTML file", __doc__)
    p.add_argument("runs", nargs="*", metavar="RUN", help="run directories, shown side by side")
    p.add_argument("--html", required=True, metavar="OUT.html", help="the file to write")
    p.add_argument("--reference", default=None, metavar="GROUP",
                   help="add the shipped reference runs of a group (demo, distinct, gpu64)")
    p.add_argument("--images", type=int, default=None, metavar="N",
                   help="offer the first N probe images (default: all)")
    p.add_argument("--display", type=int, default=128, metavar="PX",
                   help="side of the overlays in pixels (default 128)")
    p.set_defaults(fn=cmd_explore)
