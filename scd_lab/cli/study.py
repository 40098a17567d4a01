"""``scd-lab study objective | trunks | table | figures``: the objective study
(``studies.objective``); ``scd-lab study conditions | ceiling | by-class | channel-sum``: the
conditions sweep, the supervised map ceiling, the per-class map report and the channel-sum
baseline (``studies.conditions``, ``studies.ceiling``, ``studies.by_class``,
``studies.channel_sum``)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..studies import objective
from ..studies.objective import (DATA, study_device, held_examples, objective_table, per_seed_table,
                                 read_cells, run_cell, trunk_report, trunks_markdown)
from ..paths import runs_root
from ..studies.by_class import map_by_class
from ..studies.ceiling import COLUMNS as CEILING_COLUMNS
from ..studies.ceiling import ceiling_row
from ..studies.channel_sum import channel_sum_baseline
from ..studies.conditions import run_conditions
from ..tables import table_markdown
from ..viz.plots import plot_oracle_losses, plot_study_maps
from ._parsers import check_output_file, verb_parser


def cmd_objective(args) -> int:
    heads = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        if key not in ("semantic_predictor", "semantic_bn"):
            raise UserError(f"--set {item!r}: only semantic_predictor=true|false and "
                            "semantic_bn=separate|joint change the heads")
        heads[key] = value.lower() == "true" if key == "semantic_predictor" else value
    try:
        oracle = args.oracle == "all" or (
            [int(s) for s in args.oracle.split(",") if s.strip()] if args.oracle else False)
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds {args.seeds!r} / --oracle {args.oracle!r}: give integers "
                        "separated by commas, e.g. --seeds 0,1,2 --oracle 0") from None
    device = study_device(args.device)
    own = "default" if args.trunk == "random" else "own"
    label = args.label or "-".join(
        [Path(args.trunk).name, args.data or own, args.method, f"a{args.alpha:g}"]
        + [f"{k}={v}" for k, v in heads.items()])
    out = Path(args.out) if args.out else runs_root() / "study"
    results = run_cell(args.trunk, out / label, args.data, args.method, args.alpha,
                       seeds, args.steps, args.batch, oracle, heads,
                       progress=not args.quiet, device=device)
    print(objective_table([results]), end="")
    return 0


def cmd_trunks(args) -> int:
    device = study_device(args.device)
    check_output_file(args.json)
    rows = []
    for item in args.trunks:
        trunk, _, data = item.partition(":")
        if data and data not in DATA:
            raise UserError(f"{item!r}: the data after ':' must be one of {sorted(DATA)}")
        rows.append(trunk_report(trunk, data or None, ceiling_steps=args.ceiling_steps,
                                 device=device))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(trunks_markdown(rows), end="")
    return 0


def _study_cells(folder: str | None) -> dict[str, list[dict]]:
    """The finished cells of the study in ``folder`` (default runs/study)."""
    root = Path(folder) if folder else runs_root() / "study"
    cells = read_cells(root)
    if not cells:
        raise UserError(f"no study cells in {str(root)!r}; run `scd-lab study objective` first")
    return cells


def cmd_table(args) -> int:
    cells = _study_cells(args.out)
    print((per_seed_table if args.per_seed else objective_table)(cells), end="")
    return 0


def cmd_figures(args) -> int:
    out = Path(args.out)
    if not out.is_dir():
        raise UserError(f"--out {args.out!r} is not a folder; create it first")
    cells = _study_cells(args.results)
    cells = {c: r for c, r in cells.items() if r[0].get("method", "scd") == "scd"}
    plot_oracle_losses(cells).savefig(out / "study-oracle.png", dpi=120)
    print(f"wrote {out / 'study-oracle.png'}")
    keep = [c for c in (args.cells.split(",") if args.cells else cells)
            if c in cells and "example_maps" in cells[c][0]]
    if not keep:
        print("no cell has seed 0's example maps (a result of an older kit): the maps figure "
              "is left out; delete the cell's seed0.json and run it again to make them")
        return 0
    examples = {c: held_examples(cells[c][0]["trunk"], cells[c][0]["data"]) for c in keep}
    plot_study_maps({c: cells[c] for c in keep}, examples).savefig(out / "study-maps.png",
                                                                  dpi=120)
    print(f"wrote {out / 'study-maps.png'}")
    return 0


def register(subparsers) -> None:
    p = verb_parser(subparsers, "study", "the study of what SCD's objective prefers",
                    objective.__doc__)
    sub = p.add_subparsers(dest="study_command", required=True)
    o = sub.add_parser("objective", help="train only the heads on a frozen trunk, seed by seed")
    o.add_argument("--trunk", required=True, help="'random' or a run directory")
    o.add_argument("--data", choices=sorted(DATA), default=None,
                   help="dataset (default: the run's own; 'default' for a random trunk)")
    o.add_argument("--method", choices=("scd", "lewel"), default="scd", help="heads to train")
    o.add_argument("--alpha", type=float, default=1.0, help="SCD's margin (default 1)")
    o.add_argument("--seeds", default="0,1,2", help="comma-separated head seeds (default 0,1,2)")
    o.add_argument("--steps", type=int, default=2000, help="head training steps (default 2000)")
    o.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    o.add_argument("--oracle", nargs="?", const="all", default=None, metavar="SEEDS",
                   help="also L_d with the map fixed to the mask and to its inverse (for every "
                        "seed, or only the comma-separated SEEDS given)")
    o.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="semantic_predictor=true or semantic_bn=joint (repeatable)")
    o.add_argument("--out", default=None,
                   help="results folder (default runs/study at the repository root)")
    o.add_argument("--label", default=None, help="cell name (default from the arguments)")
    o.add_argument("--quiet", action="store_true", help="no progress bars")
    o.add_argument("--device", default="cpu",
                   help="cpu (default), cuda or cuda:N: where the trunk and heads run")
    o.set_defaults(fn=cmd_objective)
    t = sub.add_parser("trunks", help="kNN, channel-sum map and map ceiling of frozen trunks")
    t.add_argument("trunks", nargs="+", metavar="TRUNK[:DATA]",
                   help="'random' or a run directory, optionally ':default' or ':distinct'")
    t.add_argument("--ceiling-steps", type=int, default=1500,
                   help="training steps of the supervised map ceiling (default 1500)")
    t.add_argument("--json", default=None, help="also write the rows to this file")
    t.add_argument("--device", default="cpu",
                   help="cpu (default), cuda or cuda:N: where the trunk and the ceiling run")
    t.set_defaults(fn=cmd_trunks)
    b = sub.add_parser("table", help="the table of every finished study cell")
    b.add_argument("--out", default=None, help="results folder (default runs/study)")
    b.add_argument("--per-seed", action="store_true", help="one row per seed")
    b.set_defaults(fn=cmd_table)
    f = sub.add_parser("figures", help="the study's figures: L_d of learned map vs mask vs "
                                       "inverse, and the learned maps")
    f.add_argument("--out", required=True, help="folder for study-oracle.png, study-maps.png")
    f.add_argument("--results", default=None, help="study folder (default runs/study)")
    f.add_argument("--cells", default=None, help="comma-separated cells for the maps figure")
    f.set_defaults(fn=cmd_figures)
    register_research(sub)


def cmd_conditions(args) -> int:
    print(run_conditions(args.out, args.preset, args.common, args.variant,
                         say=lambda line: print(line, flush=True)))
    print(json.dumps({"variants": args.variant, "common": args.common}))
    return 0


def cmd_ceiling(args) -> int:
    print(table_markdown([], CEILING_COLUMNS), end="", flush=True)  # then a row per run
    for run in args.runs:
        row = ceiling_row(run, args.n, args.steps, args.reference)
        print(table_markdown([row], CEILING_COLUMNS).splitlines()[-1], flush=True)
    return 0


def cmd_by_class(args) -> int:
    print(map_by_class(args.run_dir, args.map))
    return 0


def cmd_channel_sum(args) -> int:
    for line in channel_sum_baseline(args.splits, args.n, args.device, args.seed):
        print(line, flush=True)
    return 0


def register_research(sp) -> None:
    """The research studies that were scripts under benchmarks/: conditions, ceiling,
    by-class, channel-sum."""
    c = sp.add_parser("conditions", help="when does SCD's map find the object? train a preset "
                                         "under variants and tabulate map and kNN figures")
    c.add_argument("--out", default="runs/conditions", help="folder of the runs and results.md")
    c.add_argument("--preset", default="cpu")
    c.add_argument("--common", action="append", default=[], metavar="KEY=VALUE",
                   help="override applied to every variant (repeatable)")
    c.add_argument("--variant", action="append", metavar="LABEL:KEY=VALUE,...",
                   help="a variant (repeatable; default: base and reflect padding)")
    c.set_defaults(fn=cmd_conditions)
    s = sp.add_parser("ceiling", help="the supervised ceiling of a map of SCD's form on runs' "
                                      "frozen features")
    s.add_argument("runs", nargs="+", metavar="RUN")
    s.add_argument("--n", type=int, default=3000, help="training images for the probe")
    s.add_argument("--steps", type=int, default=1500)
    s.add_argument("--reference", default=None, help="write ceiling reference runs here")
    s.set_defaults(fn=cmd_ceiling)
    b = sp.add_parser("by-class", help="per-image AUROC of a run's map, by class")
    b.add_argument("run_dir", metavar="RUN")
    b.add_argument("--map", default=None, help="map name (default: the method's own map)")
    b.set_defaults(fn=cmd_by_class)
    h = sp.add_parser("channel-sum", help="how well an untrained ResNet-18's channel-sum map "
                                          "finds the object on the synthetic splits")
    h.add_argument("--splits", nargs="+", default=["default", "camouflage"],
                   help="any of default, camouflage, easy")
    h.add_argument("--n", type=int, default=400, help="test images per split (max 1000)")
    h.add_argument("--device", default="cpu")
    h.add_argument("--seed", type=int, default=0)
    h.set_defaults(fn=cmd_channel_sum)
