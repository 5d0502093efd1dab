"""``nova-dpo`` / ``python -m nova_dpo``: the command line of the pipeline.

Each area of the project has its commands in a module of :mod:`nova_dpo.commands` that exposes
``add_commands(subparsers)``; every command handler takes the parsed arguments and returns an exit code.
Airflow tasks call the same functions the handlers call.

Building the parser imports every ``commands`` module, so those import nothing heavy at the top (argparse, and
the constants their options show): a handler imports what it runs (torch, rouge_score, pandas, ...) when it is
called, so ``nova-dpo --help`` and each command start without paying for every other command's libraries.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules that contribute sub-commands, in the order they are listed in ``--help``.
COMMAND_MODULES = (
    "nova_dpo.demo",
    "nova_dpo.commands.data",
    "nova_dpo.commands.recipes",
    "nova_dpo.commands.iam",
    "nova_dpo.commands.plan",
    "nova_dpo.commands.evaluation",
    "nova_dpo.commands.local",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nova-dpo", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        logging.getLogger("nova_dpo").error("%s", err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
