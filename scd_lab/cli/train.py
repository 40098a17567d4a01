"""``scd-lab train``: train one method from a preset, a YAML file and overrides, or resume a run."""
from __future__ import annotations

import sys

from ..config import PRESETS, apply_overrides, get_preset, load_yaml
from ..runs.build import build_run
from ..paths import runs_root
from ..train import format_summary


def _config_from_args(args):
    cfg = get_preset(args.preset)
    if args.config:
        cfg = load_yaml(args.config, base=cfg)
    overrides = ([f"method.name={args.method}"] if args.method else []) + (args.set or [])
    return apply_overrides(cfg, overrides)


def cmd_train(args) -> int:
    if args.resume:
        trainer = build_run(None, args.resume, resume=True)
    else:
        cfg = _config_from_args(args)
        out = args.out or runs_root() / f"{cfg.preset}-{cfg.method.name}"
        trainer = build_run(cfg, out)
    if trainer.is_main:
        c = trainer.run_config
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


def register(sub) -> None:
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
