"""`tagwatch settings`: every TAGWATCH_* setting, its value here and its default.

`--markdown` prints the table that docs/settings.md and README.md carry (generated from
tagwatch.config.SETTINGS; tests/test_settings.py checks they agree).
"""
from __future__ import annotations


def register(sub, common) -> None:
    p = sub.add_parser("settings", parents=[common],
                       help="the TAGWATCH_* environment variables: values here, defaults, meaning")
    p.add_argument("--markdown", action="store_true", help="the documentation table instead")
    p.set_defaults(func=cmd_settings)


def cmd_settings(args) -> int:
    from tagwatch.console import out, settings_from
    from tagwatch.config import SETTINGS, markdown_table
    from tagwatch.console import cell

    if args.markdown:
        out(markdown_table().rstrip("\n"))
        return 0
    settings = settings_from(args)
    for setting in SETTINGS:
        value = getattr(settings, setting.field)
        shown = ("set" if value else "unset") if setting.kind == "secret" else setting.write(value)
        out(f"{setting.env}={cell(shown or '', 200)}")
    return 0
