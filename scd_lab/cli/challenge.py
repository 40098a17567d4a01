"""``scd-lab challenge``: score runs against the notebook-09 challenge (``studies.challenge``)."""
from __future__ import annotations

from ..studies.challenge import leaderboard_markdown, score_run


def cmd_challenge(args) -> int:
    scores = [score_run(r, smoke=args.smoke, fresh=args.fresh) for r in args.runs]
    print(leaderboard_markdown(scores))
    return 0


def register(subparsers) -> None:
    ap = subparsers.add_parser("challenge", help="score challenge runs; print the leaderboard",
                               description="Score challenge runs (notebook 09) and print the "
                                           "leaderboard.")
    ap.add_argument("runs", nargs="+", help="run directories (with checkpoints/last.pt)")
    ap.add_argument("--smoke", action="store_true", help="the smoke tier (tiny runs)")
    ap.add_argument("--fresh", action="store_true",
                    help="score again instead of reading RUN/eval/challenge.json")
    ap.set_defaults(fn=cmd_challenge)
