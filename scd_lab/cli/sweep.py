"""``scd-lab sweep``: a grid of runs over seeds, with a mean ± se table (``studies.sweep``)."""
from __future__ import annotations

import json
from pathlib import Path

from ..studies import sweep
from ..studies.sweep import GRIDS, base_config, run_grid, summarise, summary_markdown, within_noise
from ..errors import UserError
from ..viz.plots import plot_sweep
from ._parsers import check_output_file, verb_parser


def cmd_sweep(args) -> int:
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds {args.seeds!r}: give integers separated by commas, "
                        "e.g. --seeds 0,1,2") from None
    if not seeds:
        raise UserError("--seeds is empty; give seeds like --seeds 0,1,2")
    cells = None
    if args.cells:
        cells = [c.strip() for c in args.cells.split(",")]
        known = [label for g in args.grid for label, _ in GRIDS[g]]
        bad = [c for c in cells if c not in known]
        if bad:
            raise UserError(f"--cells {bad[0]!r} is not a cell of {' '.join(args.grid)}; "
                            f"one of {known}")
    for path in (args.json, args.plot):
        check_output_file(path)
    rows, summaries = [], {}
    for grid in args.grid:
        grid_rows = run_grid(grid, seeds, args.out, base_config(args.set), cells,
                             log=None if args.quiet else print)
        rows += grid_rows
        summaries[grid] = summarise(grid_rows)
        print(f"\n{grid}\n" + summary_markdown(summaries[grid]), end="")
        for said in within_noise(summaries[grid]):
            print(f"  beyond 2 se: {said}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summaries}, indent=1))
    if args.plot:
        plot_sweep({g: s for g, s in summaries.items() if s}).savefig(args.plot, dpi=120)
        print(f"figure: {args.plot}")
    return 0


def register(subparsers) -> None:
    p = verb_parser(subparsers, "sweep", "SCD's α, λ and term ablation as a resumable grid",
                    sweep.__doc__)
    p.add_argument("grid", nargs="+", choices=sorted(GRIDS), help="which grids, in order")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--cells", default=None, help="comma-separated cell labels (default all)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override the tier's config (repeatable), e.g. --set train.epochs=1")
    p.add_argument("--out", default=None, help="root folder (default runs/sweep)")
    p.add_argument("--json", default=None, help="also write rows and summary to this file")
    p.add_argument("--plot", default=None, help="also draw the grids into this image file")
    p.add_argument("--quiet", action="store_true", help="no per-run lines")
    p.set_defaults(fn=cmd_sweep)
