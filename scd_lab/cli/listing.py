"""``scd-lab presets`` and ``scd-lab methods``: what the kit can build."""
from __future__ import annotations

from ..config import PRESETS, get_preset
from ..methods import available_methods


def cmd_presets(args) -> int:
    for name in PRESETS:
        c = get_preset(name)
        print(f"{name:22s} {c.method.name:11s} {c.backbone.arch:12s} {c.data.dataset:10s} "
              f"crop {c.data.crop_size:3d}  batch {c.train.batch_size:4d}  epochs {c.train.epochs}")
    return 0


def cmd_methods(args) -> int:
    print("\n".join(available_methods()))
    return 0


def register(sub) -> None:
    sub.add_parser("presets", help="list the config presets").set_defaults(fn=cmd_presets)
    sub.add_parser("methods", help="list the methods").set_defaults(fn=cmd_methods)
