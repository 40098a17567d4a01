"""What the verbs' parsers share: a sub-command whose ``--help`` shows its module's docstring
as it is written (examples and line breaks kept), and the check of a file a verb will write."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def verb_parser(subparsers, name: str, help: str, doc: str | None) -> argparse.ArgumentParser:
    """``subparsers.add_parser(name)`` with ``doc`` as its description, not re-wrapped."""
    return subparsers.add_parser(name, help=help, description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def check_output_file(path: str | Path | None) -> None:
    """Refuse, before any work, a file to write whose folder does not exist or that is a
    folder itself (``None`` or empty: no file asked for)."""
    if not path:
        return
    if Path(path).is_dir():
        raise UserError(f"{str(path)!r} is a folder: give the file to write, e.g. "
                        f"{str(Path(path) / 'out')!r} plus its extension")
    if not Path(path).resolve().parent.is_dir():
        raise UserError(f"the folder of {str(path)!r} does not exist; create it first")
