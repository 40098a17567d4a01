"""What the verbs' parsers share: a sub-command whose ``--help`` shows its module's docstring
as it is written (examples and line breaks kept)."""
from __future__ import annotations

import argparse


def verb_parser(subparsers, name: str, help: str, doc: str | None) -> argparse.ArgumentParser:
    """``subparsers.add_parser(name)`` with ``doc`` as its description, not re-wrapped."""
    return subparsers.add_parser(name, help=help, description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
