"""The ``scd-lab`` command: train, demo, eval, data, presets, methods.

Every mistake in the input (an unknown key, a missing run, a bad folder) prints one line that
names the problem and the fix, and exits with status 2; nothing already written is lost.
"""
from __future__ import annotations

import argparse
import sys

from .config import PRESETS, apply_overrides, get_preset, load_yaml
from .errors import UserError


def _config_from_args(args):
    cfg = get_preset(args.preset)
    if args.config:
        cfg = load_yaml(args.config, base=cfg)
    overrides = ([f"method.name={args.method}"] if args.method else []) + (args.set or [])
    return apply_overrides(cfg, overrides)


def cmd_train(args) -> int:
    from .run import build_run, runs_root
    from .train import format_summary
    if args.resume:
        trainer = build_run(None, args.resume, resume=True)
    else:
        cfg = _config_from_args(args)
        out = args.out or runs_root() / f"{cfg.preset}-{cfg.method.name}"
        trainer = build_run(cfg, out)
    if trainer.is_main:
        c = trainer.config
        start = f" from step {trainer.start_step}" if trainer.start_step else ""
        print(f"[scd-lab] {c.method.name} on {c.data.dataset} ({len(trainer.data)} train "
              f"images), {c.backbone.arch}, {trainer.total_steps} steps of batch "
              f"{c.train.batch_size}{start} on {trainer.device} x{trainer.world}; run dir: "
              f"{trainer.rundir.path}", flush=True)
    try:
        summary = trainer.fit()
    except KeyboardInterrupt:
        print(f"\n[scd-lab] interrupted; continue with `scd-lab train --resume "
              f"{trainer.rundir.path}` (from its last checkpoint)", file=sys.stderr)
        return 130
    if trainer.is_main:
        print(format_summary(summary))
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo
    run_demo(out=args.out, epochs=args.epochs, budget_min=args.budget_min,
             methods=[m for m in args.methods.split(",") if m], overrides=args.set or [])
    return 0


def cmd_presets(args) -> int:
    for name in PRESETS:
        c = get_preset(name)
        print(f"{name:22s} {c.method.name:11s} {c.backbone.arch:12s} {c.data.dataset:10s} "
              f"crop {c.data.crop_size:3d}  batch {c.train.batch_size:4d}  epochs {c.train.epochs}")
    return 0


def cmd_methods(args) -> int:
    from .methods import available_methods
    print("\n".join(available_methods()))
    return 0


def _method_list(text: str) -> str:
    from .config import METHOD_DEFAULTS
    bad = [m for m in text.split(",") if m and m not in METHOD_DEFAULTS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown method {bad[0]!r}; choose from "
                                         f"{', '.join(METHOD_DEFAULTS)}")
    return text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scd-lab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one method and write a run directory")
    t.add_argument("--preset", default="cpu", help=f"one of: {', '.join(PRESETS)} (default cpu)")
    t.add_argument("--config", help="YAML file applied on top of the preset")
    t.add_argument("--method", help="shortcut for --set method.name=NAME")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field, e.g. --set method.alpha=0.5 (repeatable)")
    t.add_argument("--out", help="run directory (default runs/PRESET-METHOD at the repository "
                                 "root, or $SCD_LAB_RUNS)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run from its last "
                                                       "checkpoint (its own config is used)")
    t.set_defaults(fn=cmd_train)

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

    from .eval.cli import register as register_eval
    register_eval(sub)

    sub.add_parser("presets", help="list the config presets").set_defaults(fn=cmd_presets)
    sub.add_parser("methods", help="list the methods").set_defaults(fn=cmd_methods)
    from .data.cli import register
    register(sub)
    from .bench import register as register_bench
    register_bench(sub)
    from .study import register as register_study
    register_study(sub)
    from .sweep import register as register_sweep
    register_sweep(sub)
    from .challenge import register as register_challenge
    register_challenge(sub)
    from .viz.tensorboard import register as register_export_tb
    register_export_tb(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the real command line: high malloc thresholds (SCD_LAB_MALLOC=0: off)
        from ._malloc import tune_malloc
        tune_malloc()
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except UserError as exc:
        print(f"scd-lab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
