"""The ``scd-lab`` command: train, demo, eval, data, presets, methods."""
from __future__ import annotations

import argparse
import json
import sys

from .config import PRESETS, ConfigError, apply_overrides, get_preset, load_yaml


def _config_from_args(args):
    cfg = get_preset(args.preset)
    if args.config:
        cfg = load_yaml(args.config, base=cfg)
    if args.method:
        cfg.method.name = args.method
    return apply_overrides(cfg, args.set or [])


def cmd_train(args) -> int:
    from .train import Trainer, format_summary
    if args.resume:
        trainer = Trainer(None, args.resume, resume=True)
    else:
        cfg = _config_from_args(args)
        out = args.out or f"runs/{cfg.preset}-{cfg.method.name}"
        trainer = Trainer(cfg, out)
    if trainer.is_main:
        c = trainer.cfg
        print(f"[scd-lab] {c.method.name} on {c.data.dataset} ({len(trainer.train_data)} train "
              f"images), {c.backbone.arch}, {trainer.total_steps} steps of batch "
              f"{c.train.batch_size} on {trainer.device} x{trainer.world}; run dir: "
              f"{trainer.rundir.path}", flush=True)
    summary = trainer.fit()
    if trainer.is_main:
        print(format_summary(summary))
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo
    run_demo(out=args.out, budget_min=args.budget_min, methods=args.methods.split(","),
             overrides=args.set or [])
    return 0


def cmd_eval(args) -> int:
    from .eval.run_eval import evaluate_run
    print(json.dumps(evaluate_run(args.run_dir), indent=2))
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scd-lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one method and write a run directory")
    t.add_argument("--preset", default="cpu", help=f"one of: {', '.join(PRESETS)}")
    t.add_argument("--config", help="YAML file applied on top of the preset")
    t.add_argument("--method", help="shortcut for --set method.name=NAME")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field, e.g. --set method.alpha=0.5 (repeatable)")
    t.add_argument("--out", help="run directory (default runs/PRESET-METHOD)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run")
    t.set_defaults(fn=cmd_train)

    d = sub.add_parser("demo", help="the main job: BYOL, SCD-BYOL and LEWEL-BYOL on the "
                                    "embedded dataset, with a figure and a results table")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--budget-min", type=float, default=10.0,
                   help="total training budget in minutes (default 10); shorter runs fewer "
                        "epochs")
    d.add_argument("--methods", default="byol,scd-byol,lewel-byol")
    d.add_argument("--set", action="append", metavar="KEY=VALUE")
    d.set_defaults(fn=cmd_demo)

    e = sub.add_parser("eval", help="kNN and saliency metrics of a run's last checkpoint")
    e.add_argument("run_dir")
    e.set_defaults(fn=cmd_eval)

    sub.add_parser("presets", help="list the config presets").set_defaults(fn=cmd_presets)
    sub.add_parser("methods", help="list the methods").set_defaults(fn=cmd_methods)
    try:
        from .data.cli import register
        register(sub)
    except ImportError:  # pragma: no cover - data CLI not available
        pass
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as exc:
        print(f"scd-lab: config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
