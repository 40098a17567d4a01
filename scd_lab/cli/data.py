"""``scd-lab data ...``: build ImageNet-100, generate and cache the synthetic dataset.

    scd-lab data in100 --imagenet-root /data/imagenet --out /data/in100 [--mode copy] [--resize 112]
    scd-lab data synthetic [--split default] [--set clutter=8] [--gallery g.png] [--knobs k.png]
"""
from __future__ import annotations

import argparse
import ast

from ..errors import DataError
from ..data.imagenet100 import build_in100
from ..data.synthetic import default_cache_dir, load_synthetic, resolve_spec
from ..viz.gallery import gallery, knob_gallery


def _parse_override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def _run_in100(args: argparse.Namespace) -> int:

    rep = build_in100(args.imagenet_root, args.out, mode=args.mode, resize=args.resize,
                      num_workers=args.workers)
    print(rep)
    return 0 if rep.ok else 1


def _run_synthetic(args: argparse.Namespace) -> int:

    try:
        spec = resolve_spec(args.split, **dict(args.set or []))
    except KeyError as exc:  # an unknown split or knob: the message lists the known ones
        raise DataError(str(exc.args[0])) from None
    train, test = load_synthetic(spec, cache_dir=args.cache_dir)
    print(f"synthetic '{args.split}' {spec}\n  train {len(train)}, test {len(test)} images, "
          f"{train.num_classes} classes, cached in {default_cache_dir(args.cache_dir) / 'synthetic'}")
    if args.gallery or args.knobs:
        import matplotlib

        matplotlib.use("Agg")
    if args.gallery:
        gallery(spec, n=32).savefig(args.gallery, dpi=120)
        print(f"  gallery -> {args.gallery}")
    if args.knobs:
        knob_gallery(spec).savefig(args.knobs, dpi=120)
        print(f"  knob gallery -> {args.knobs}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``data`` command (subcommands ``in100``, ``synthetic``) to a CLI.

    Each leaf parser sets ``fn``, as every verb of ``scd-lab`` does: call ``args.fn(args)``;
    it returns an exit code.
    """
    data = subparsers.add_parser("data", help="prepare datasets",
                                 description="Prepare ImageNet-100 or the synthetic dataset.")
    sub = data.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser("in100", help="build ImageNet-100 from an ImageNet-1K folder")
    p.add_argument("--imagenet-root", required=True,
                   help="ImageNet-1K folder with train/<wnid>/ and val/<wnid>/")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--mode", choices=("symlink", "copy"), default="symlink")
    p.add_argument("--resize", type=int, default=None, metavar="N",
                   help="also write compact uint8 train_N.pt / val_N.pt (e.g. 64, 96, 112, 128)")
    p.add_argument("--workers", type=int, default=0, help="decoding workers for --resize")
    p.set_defaults(fn=_run_in100)
    s = sub.add_parser("synthetic", help="generate and cache the synthetic dataset")
    s.add_argument("--split", default="default", help="default | camouflage | easy")
    s.add_argument("--set", action="append", type=_parse_override, metavar="KEY=VALUE",
                   help="override a SyntheticSpec field, e.g. --set clutter=8 (repeatable)")
    s.add_argument("--cache-dir", default=None, help="default: $SCD_LAB_CACHE or the user cache")
    s.add_argument("--gallery", default=None, metavar="PNG", help="save a gallery of 32 images")
    s.add_argument("--knobs", default=None, metavar="PNG", help="save a gallery of each knob")
    s.set_defaults(fn=_run_synthetic)
    return data
