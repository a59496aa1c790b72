"""`tagwatch`: the one command-line face of the pipeline.

Every subcommand takes --db (else TAGWATCH_DB, else data/tagwatch.duckdb).
Exit status: 0 done, 1 the work failed (message on stderr), 2 wrong usage.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from common.private import private_umask
from tagwatch.console import err, one_line
from tagwatch.errors import UserError
from warehouse.db import WarehouseError


# Command groups that live in modules of their own; each has register(sub, common),
# adding its subparsers with set_defaults(func=...). Add a module here to add commands.
COMMAND_MODULES: tuple[str, ...] = (
    "tagwatch.commands.watchlist",
    "tagwatch.commands.runs",
    "tagwatch.commands.classifier",
    "tagwatch.commands.flagged",
    "tagwatch.commands.demo",
    "tagwatch.commands.imports",
    "tagwatch.commands.tags",
    "tagwatch.commands.resurfacing",
    "tagwatch.commands.case",
    "tagwatch.commands.intake",
    "tagwatch.commands.user",
    "tagwatch.commands.serve",
    "tagwatch.commands.report",
    "tagwatch.commands.labels",
    "tagwatch.commands.models",
    "tagwatch.commands.evaluate",
    "tagwatch.commands.staging",
    "tagwatch.commands.airflow",
    "tagwatch.commands.settings",
    "tagwatch.commands.maintenance",
    "tagwatch.commands.minimise",
    "tagwatch.commands.doctor",
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="warehouse file (default: $TAGWATCH_DB or data/tagwatch.duckdb)")
    parser = argparse.ArgumentParser(
        prog="tagwatch", description="Hashtag monitoring that protects school staff from online abuse.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    private_umask()  # the data tagwatch writes (warehouse, staging, models, lists) is private
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return status
    except KeyboardInterrupt:
        err("tagwatch: interrupted")
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:
        if args.verbose:
            raise
        err(f"tagwatch: error: {one_line(exc)}" if _is_user_error(exc) else
            f"tagwatch: unexpected error ({type(exc).__name__}): {one_line(exc)}; "
            "nothing more was done (run again with -v for the details)")
        return 1


def _closed_pipe() -> int:
    """The reader went away (`tagwatch flagged | head`): stop quietly, like other tools.

    Standard output is pointed at /dev/null so that the final flush at exit cannot
    raise again; 141 is what a shell reports for a process ended by SIGPIPE.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def _is_user_error(exc: Exception) -> bool:
    """Errors whose message tells the user what to fix (no traceback needed)."""
    # Light modules (no scikit-learn): a refused argument answers in about a second.
    from classifiers.corpora import CorpusError
    from classifiers.errors import ModelIntegrityError

    return isinstance(exc, (UserError, WarehouseError, CorpusError, ModelIntegrityError,
                            ValueError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
