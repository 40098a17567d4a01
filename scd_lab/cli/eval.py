"""``scd-lab eval ...``: the evaluation protocols of a run from the command line.

    scd-lab eval knn RUN                                   kNN k=20 and k=200 -> JSON
    scd-lab eval linear RUN [--features gap|fg] [--epochs N]
    scd-lab eval semi RUN --labels 1%|10% [--epochs N] [--seed S]
    scd-lab eval saliency RUN [--images DIR --masks DIR] [--out DIR]
    scd-lab eval maps --images DIR --masks DIR --maps DIR [--protocol NAME,...] [--json]
    scd-lab eval report RUN [RUN ...] [--out DIR]
    scd-lab eval report SCD_RUN BASE_RUN [...] --paired    differences, bootstrap intervals
    scd-lab eval export RUN --format torchvision|detectron2 [--out FILE]
    scd-lab eval faithfulness RUN [--steps N] [--images N] [--json]
    scd-lab eval RUN                                       as before: kNN + saliency monitors

How the old form keeps working: the ``eval`` parser takes the rest of the command line as
words (``argparse.REMAINDER``) and ``dispatch`` looks at the first one: a sub-verb name goes
to that sub-verb's parser, anything else is read as ``RUN_DIR`` of the old ``scd-lab eval
RUN_DIR`` (the monitors' kNN and saliency figures, nothing written). A run folder named like a
sub-verb is reached as ``./knn``.

Also ``python -m scd_lab.cli eval knn RUN``. Every mistake raises a
``UserError`` (one line, exit status 2).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import plugin
from ..eval.paired import RESAMPLES
from ..rundir import RunDir
from ..runs.export import export_run
from ..runs.faithfulness import faithfulness_eval
from ..runs.load import EvalError, as_run
from ..runs.map_folder import (MASK_SIZE, PROTOCOL_NAMES, evaluate_map_folder,
                               evaluate_snapshot_maps, parse_protocols)
from ..runs.protocols import evaluate_run, knn_eval, linear_eval, parse_fraction, semi_eval
from ..runs.report import (per_image_rows, plot_curves, report_table, saliency_figures,
                           saliency_rows, write_table)
from ..runs.report import paired_table
from ..runs.saliency import evaluate_saliency, json_ready, read_image_mask_folder
from ..tables import table_markdown

SUBVERBS = ("knn", "linear", "semi", "saliency", "maps", "report", "export", "faithfulness")


def _print_json(obj: dict) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _run_dir(path: str) -> str:
    p = Path(path)
    if not p.exists():
        raise EvalError(f"no run directory {path!r}; pass a folder written by `scd-lab train` "
                        "or the demo")
    return path


def cmd_legacy(args) -> int:
    _print_json(evaluate_run(_run_dir(args.run_dir)))
    return 0


def cmd_knn(args) -> int:
    _print_json(knn_eval(_run_dir(args.run), progress=True, save=True))
    return 0


def cmd_linear(args) -> int:
    name = RunDir(_run_dir(args.run)).config().method.name
    if args.features == "fg" and plugin(name) != "scd":  # before loading weights and data
        raise EvalError(f"--features fg needs an SCD run (scd-byol, scd-moco): the foreground "
                        f"feature pools F with SCD's saliency map, and {name!r} has none; use "
                        f"--features gap")
    s = as_run(args.run)
    res = linear_eval(s, args.features, epochs=args.epochs, lr=args.lr, seed=args.seed,
                      progress=True)
    _print_json(json_ready(res))
    print(f"[eval] wrote {s.rundir.eval_path(f'linear_{args.features}.json')}",
          file=sys.stderr)
    return 0


def cmd_semi(args) -> int:
    parse_fraction(args.labels)  # a bad value fails before the run is loaded
    s = as_run(_run_dir(args.run))
    _print_json(semi_eval(s, args.labels, epochs=args.epochs, lr=args.lr, seed=args.seed,
                          progress=True))
    return 0


def cmd_saliency(args) -> int:
    if (args.images is None) != (args.masks is None):
        raise EvalError("--images and --masks go together (a folder of images and a folder "
                        "of PNG masks with the same names)")
    if args.images is not None:  # check the folders before loading the run
        for flag, d in (("--images", args.images), ("--masks", args.masks)):
            if not Path(d).is_dir():
                raise EvalError(f"{flag} {d!r} is not a folder")
    s = as_run(_run_dir(args.run))
    names = skipped = None
    if args.images is not None:
        size = int(s.cfg.data.image_size)
        folder = read_image_mask_folder(args.images, args.masks, size, progress=True)
        images, masks, names, skipped = (folder["images"], folder["masks"], folder["names"],
                                         folder["skipped"])
        res = evaluate_saliency(s, images, masks, progress=True)
        res["skipped"] = len(skipped)
        res["images_dir"] = str(args.images)
    else:
        res = evaluate_saliency(s, progress=True)
        sets = s.monitor_sets()
        images, masks = sets["held"].images, sets["held"].masks
    out = args.out or s.rundir.eval_path("saliency" if args.images is None else
                                         f"saliency_{Path(args.images).name}")
    out = Path(out)
    md, _ = write_table(saliency_rows(res), out / "saliency")
    write_table(per_image_rows(res, names), out / "per_image")
    figs = saliency_figures(images, masks, res["maps"], out / "figures", names=names,
                            limit=args.figures, per_image=res["per_image_auroc"],
                            progress=True)
    res["out"] = str(out)
    res["figures"] = len(figs)
    _print_json(json_ready(res))
    print(f"[eval] {res['num_images']} images"
          + (f", {len(skipped)} skipped" if skipped is not None else "")
          + f"; table {md} (+ .csv), per-image table, {len(figs)} figures in {out / 'figures'}",
          file=sys.stderr)
    return 0


def cmd_maps(args) -> int:
    protocols = parse_protocols(args.protocol)  # a bad name fails before any file is read
    if args.size < 1:
        raise EvalError(f"--size {args.size}: give a positive side in pixels (default "
                        f"{MASK_SIZE})")
    folders = (args.images, args.masks, args.maps)
    if args.run is not None:
        if any(folders):
            raise EvalError("give either --run RUN or --images, --masks and --maps, not both")
        res = evaluate_snapshot_maps(_run_dir(args.run), protocols, size=args.size)
        if args.json:
            _print_json(res["maps"])
        else:
            print(table_markdown([{"map": n, **v} for n, v in res["maps"].items()]))
        print(f"[eval] the {res['num_images']} probe images of step {res['step']} at "
              f"{res['size']}x{res['size']}", file=sys.stderr)
        return 0
    if not all(folders):
        raise EvalError("give --images DIR, --masks DIR and --maps DIR (or --run RUN)")
    res = evaluate_map_folder(args.images, args.masks, args.maps, protocols, size=args.size)
    if args.json:
        _print_json(res["protocols"])
    else:
        print(table_markdown([{"protocol": k, "value": v} for k, v in res["protocols"].items()]))
    print(f"[eval] {res['num_images']} maps against their masks at {res['size']}x{res['size']} "
          f"(docs/evaluation.md, \"Map protocols\")", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    runs = [_run_dir(r) for r in args.runs]
    if args.paired:
        return _report_paired(args, runs)
    rows = report_table(runs, compute=not args.no_compute, progress=True)
    out = Path(args.out) if args.out else Path(runs[0]).parent / "report"
    md, cs = write_table(rows, out / "report")
    print(table_markdown(rows))
    try:
        png = plot_curves(runs, out / "report_curves.png")
        print(f"[eval] wrote {md}, {cs} and {png}", file=sys.stderr)
    except ImportError as e:
        print(f"[eval] wrote {md} and {cs}; no curves: {e} (pip install seaborn)",
              file=sys.stderr)
    return 0


def _report_paired(args, runs) -> int:
    """``report --paired``: each plug-in run minus its base run, with bootstrap intervals."""
    if args.resamples < 1:
        raise EvalError(f"--resamples must be at least 1, got {args.resamples}")
    rows = paired_table(runs, resamples=args.resamples, progress=True)
    out = Path(args.out) if args.out else Path(runs[0]).parent / "report"
    md, cs = write_table(rows, out / "paired")
    print(table_markdown(rows))
    print(f"[eval] wrote {md} and {cs}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    _print_json(export_run(_run_dir(args.run), args.format, args.out))
    return 0


def cmd_faithfulness(args) -> int:
    """``eval faithfulness``: areas under the deletion / insertion curves of every map."""
    if args.steps < 1 or args.images < 1:  # before the run is loaded
        raise EvalError(f"--steps and --images must be at least 1, got {args.steps} and "
                        f"{args.images}")
    res = faithfulness_eval(_run_dir(args.run), steps=args.steps, num_images=args.images,
                            progress=True)
    if args.json:
        _print_json({k: v for k, v in res.items() if k != "curves"})
        return 0
    rows = [{"map": name, "order": order, **{f"auc_{m}": round(v, 4) for m, v in a.items()}}
            for name, areas in res["areas"].items()
            for order, a in [*areas.items(), ("gap (bg - fg first)", res["gap"][name])]]
    print(table_markdown(rows))
    print(f"[eval] {res['num_images']} images; wrote {res['run_dir']}/eval/faithfulness.json",
          file=sys.stderr)
    return 0


def _faithfulness_parser(add) -> None:
    q = add("faithfulness", cmd_faithfulness, "delete or insert each map's most / least "
            "salient pixels in steps; areas under the cross-view cosine and kNN top-1 curves "
            "(RUN/eval/faithfulness.json)")
    q.add_argument("--steps", type=int, default=10, help="fractions 0, 1/N, ..., 1 (default 10)")
    q.add_argument("--images", type=int, default=64, metavar="N",
                   help="the first N held-out images (default 64)")
    q.add_argument("--json", action="store_true", help="the areas as JSON on stdout")


def build_eval_parser(prog: str = "scd-lab eval") -> argparse.ArgumentParser:
    """The parser of the words after ``eval`` (one sub-parser per sub-verb)."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="eval_command", required=True, metavar="{" +
                           ",".join(SUBVERBS) + "}")

    def add(name, fn, help, run=True):
        q = sub.add_parser(name, help=help, description=help)
        if run:
            q.add_argument("run", metavar="RUN", help="a run directory (config.yaml and "
                                                      "checkpoints/last.pt)")
        q.set_defaults(fn=fn)
        return q

    add("knn", cmd_knn, "weighted kNN top-1 (cosine, tau 0.07) with k=20 and k=200: bank = "
        "training images, queries = held-out images; JSON on stdout (and RUN/eval/knn.json)")
    q = add("linear", cmd_linear, "linear probe on cached frozen features; writes "
            "RUN/eval/linear_{gap|fg}.json and the probe's weights (.pt)")
    q.add_argument("--features", choices=("gap", "fg"), default="gap",
                   help="gap: GAP of the trunk; fg: SCD's foreground feature (SCD runs only)")
    q.add_argument("--epochs", type=int, default=100, help="passes over the features "
                                                           "(default 100)")
    q.add_argument("--lr", type=float, default=0.1, help="peak learning rate (default 0.1)")
    q.add_argument("--seed", type=int, default=0)
    q = add("semi", cmd_semi, "fine-tune the trunk and a linear head on 1%% or 10%% of the "
            "labels; writes RUN/eval/semi_{P}pct.json and the drawn indices")
    q.add_argument("--labels", required=True, metavar="P%", help="share of the training "
                   "labels per class, e.g. 1%% or 10%%")
    q.add_argument("--epochs", type=int, default=5, help="fine-tuning epochs (default 5)")
    q.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    q.add_argument("--seed", type=int, default=0, help="seed of the label draw and training")
    q = add("saliency", cmd_saliency, "every map, the centre prior and Grad-CAM against masks "
            "(AUROC pooled and per image, polarity, IoU@0.5, best IoU, pointing game)")
    q.add_argument("--images", metavar="DIR", help="a folder of images (default: the run's "
                                                   "held-out images)")
    q.add_argument("--masks", metavar="DIR", help="binary PNG masks named like the images")
    q.add_argument("--out", metavar="DIR", help="tables and figures (default RUN/eval/saliency"
                                                " or RUN/eval/saliency_<images folder>)")
    q.add_argument("--figures", type=int, default=32, metavar="N",
                   help="per-image figures to write (default 32)")
    q = add("maps", cmd_maps, "maps from anywhere scored as the papers do: PxAP, MaxBoxAccV2 "
            "(Choe et al. 2020), DINO's mass-threshold Jaccard, CorLoc", run=False)
    q.add_argument("--images", metavar="DIR", help="a folder of images")
    q.add_argument("--masks", metavar="DIR", help="binary PNG masks named like the images")
    q.add_argument("--maps", metavar="DIR", help="one map per image, a grey PNG or a 2-D .npy "
                   "named like the image, any size")
    q.add_argument("--run", metavar="RUN", help="instead of the three folders: every map of a "
                   "run's last snapshot against its probe masks (no checkpoint needed)")
    q.add_argument("--protocol", metavar="NAME,...", help="comma-separated, from "
                   + ", ".join(PROTOCOL_NAMES) + " (default: the first four)")
    q.add_argument("--json", action="store_true", help="print one JSON object "
                                                       "{protocol: value}")
    q.add_argument("--size", type=int, default=MASK_SIZE, help=f"side the masks are resized "
                   f"to, nearest-neighbour (default {MASK_SIZE}, as wsolevaluation)")
    q = add("report", cmd_report, "one table (Markdown and CSV) of several runs and their "
            "curves (seaborn PNG)", run=False)
    q.add_argument("runs", nargs="+", metavar="RUN")
    q.add_argument("--out", metavar="DIR", help="default: report/ beside the first run")
    q.add_argument("--no-compute", action="store_true", help="use only stored figures "
                   "(RUN/eval/*.json, metrics.jsonl); compute nothing")
    q.add_argument("--paired", action="store_true", help="pair each SCD run with its base run "
                   "(same config and seed but the method) and give the kNN and map-AUROC "
                   "differences with paired bootstrap 95%% intervals (OUT/paired.md, .csv)")
    q.add_argument("--resamples", type=int, default=RESAMPLES, metavar="B",
                   help=f"bootstrap resamples of --paired (default {RESAMPLES})")
    q = add("export", cmd_export, "the trunk for torchvision or Detectron2 (resnet18 / "
            "resnet50 trunks only)")
    q.add_argument("--format", choices=("torchvision", "detectron2"), required=True)
    q.add_argument("--out", metavar="FILE", help="default RUN/export/<arch>_<method>.pth|.pkl")
    _faithfulness_parser(add)
    return p


def _legacy_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="kNN and saliency metrics of a run's "
                                "last checkpoint (the monitors' figures); writes nothing")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(fn=cmd_legacy)
    return p


def dispatch(words: list[str], prog: str = "scd-lab eval") -> int:
    """Run the words after ``eval``: a sub-verb, or the old ``RUN_DIR`` form."""
    if not words:
        build_eval_parser(prog).error("give a sub-verb (" + ", ".join(SUBVERBS) + ") or a "
                                      "run directory")
    if words[0] in SUBVERBS or words[0].startswith("-"):
        args = build_eval_parser(prog).parse_args(words)
    else:
        args = _legacy_parser(prog).parse_args(words)
    return args.fn(args)


def _cmd_eval(args) -> int:
    return dispatch(args.eval_words)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``eval`` command to a CLI (``scd_lab.cli.build_parser``).

    The parser keeps the rest of the command line as ``eval_words`` and sets ``fn``; calling
    ``args.fn(args)`` dispatches to the sub-verb (see module docstring) and returns an exit
    code; a ``UserError`` propagates to the caller's handler.
    """
    e = subparsers.add_parser(
        "eval", help="evaluate runs: knn, linear, semi, saliency, maps, report, export, "
                     "faithfulness (or "
                     "`eval RUN_DIR`: kNN and saliency of the last checkpoint)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="scd-lab eval {" + ",".join(SUBVERBS) + "} ... | scd-lab eval RUN_DIR")
    e.add_argument("eval_words", nargs=argparse.REMAINDER, metavar="...",
                   help="a sub-verb and its arguments (`scd-lab eval knn -h`), or RUN_DIR: "
                        "a run directory written by `scd-lab train` or the demo (it needs "
                        "checkpoints/last.pt)")
    e.set_defaults(fn=_cmd_eval)
    return e
