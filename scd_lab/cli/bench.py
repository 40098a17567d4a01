"""``scd-lab bench``: time a training step of each method on this device (``studies.bench``)."""
from __future__ import annotations

import argparse
import json
import sys

from ..studies.bench import DEFAULT_METHODS, SYMMETRIC_BYOL, format_markdown, run_bench
from ..config import METHOD_DEFAULTS
from ..train.device import resolve_device


def _method_list(text: str) -> list[str]:
    names = [m for m in text.split(",") if m]
    base = lambda m: m.removesuffix("+compile")  # noqa: E731 - NAME+compile: NAME compiled
    bad = [m for m in names if base(m) not in METHOD_DEFAULTS and base(m) != SYMMETRIC_BYOL]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown method {bad[0]!r}; choose from "
                                         f"{', '.join([*METHOD_DEFAULTS, SYMMETRIC_BYOL])} "
                                         "(each may end in +compile)")
    return names


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--methods", type=_method_list, default=list(DEFAULT_METHODS),
                   help=f"comma-separated (default {','.join(DEFAULT_METHODS)}; "
                        f"{SYMMETRIC_BYOL}, symmetric BYOL, is added with lewel-byol; "
                        "NAME+compile adds NAME under torch.compile, timed against NAME)")
    p.add_argument("--preset", default="cpu", help="config preset (default cpu)")
    p.add_argument("--size", type=int, default=32, help="view side in pixels (default 32)")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--rounds", type=int, default=20, help="measured rounds (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up rounds (default 2)")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every method (repeatable)")
    p.add_argument("--memory", choices=("auto", "process", "off"), default="auto",
                   help="CPU: auto = a subprocess per method for its resident-set peak")
    p.add_argument("--decode", action="store_true",
                   help="also measure the streaming path's decode headroom (writes JPEGs to "
                        "a temporary folder)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the result here")
    p.add_argument("--quiet", action="store_true", help="no per-round progress")
    return p


def cmd_bench(args) -> int:
    if args.device is not None:  # a GPU torch cannot see: one line before any work
        resolve_device(args.device, "--device")
    res = run_bench(args.methods, args.preset, args.size, args.batch, args.rounds,
                    args.warmup, args.device, args.set, memory=args.memory,
                    decode=args.decode,
                    progress=None if args.quiet else
                    (lambda line: print(line, file=sys.stderr, flush=True)))
    print(format_markdown(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Adds the ``bench`` verb to ``scd-lab`` (sets ``fn``, like every verb)."""
    p = subparsers.add_parser("bench", help="time a training step of each method on this "
                                            "device (interleaved; ratios to the base methods)")
    add_arguments(p)
    p.set_defaults(fn=cmd_bench)
    return p
