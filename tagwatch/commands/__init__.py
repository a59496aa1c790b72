"""Command groups of the `tagwatch` CLI, one module each (see tagwatch.cli.COMMAND_MODULES).

Each module defines `register(sub, common)`: `sub` is the top-level subparsers object,
`common` the parent parser carrying --db. Handlers raise tagwatch.console.UserError (or
WarehouseError / ValueError) for anything the user can fix; cli.main prints it.
"""
