"""Errors of the command-line face (their own module: `python -m tagwatch.cli` runs cli.py as
__main__, and a class defined there would be a second, different UserError)."""


class UserError(Exception):
    """Something the user can fix; printed without a traceback."""
