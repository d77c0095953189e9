"""`gridbot` command line. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module name -> nothing else: each module has `register(subparsers)` that adds its parser and
# sets `func`. Listed here, not discovered, so `gridbot --help` stays fast and predictable.
SUBCOMMAND_MODULES = (
    "parse_cmd",
    "db_cmd",
    "roster_cmd",
    "simulate_cmd",
    "serve_cmd",
    "user_cmd",
    "export_cmd",
)

DESCRIPTION = """GridBot 微网格治理群机器人 — chat-ops for community micro-grid governance.

子命令 / subcommands:"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridbot",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name in SUBCOMMAND_MODULES:
        module = importlib.import_module(f"bot.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return result


def run() -> int:
    """The `gridbot` program: the SQLite library set up for the process first (before any
    connection opens, see storage/sqlite_library.py), then `main`. Tests call `main` itself."""
    from storage import sqlite_library

    sqlite_library.tune()
    return main()


if __name__ == "__main__":
    sys.exit(run())
