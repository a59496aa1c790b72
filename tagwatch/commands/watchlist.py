"""`tagwatch watchlist` and `tagwatch sources`: which tags are watched, and where from."""
from __future__ import annotations

from collectors import platforms
from tagwatch.console import UserError, cell, out, settings_from, table
from warehouse import queries
from warehouse.db import session, transaction


def register(sub, common) -> None:
    p = sub.add_parser("watchlist", parents=[common], help="the hashtags to watch")
    wl = p.add_subparsers(dest="action", required=True)
    a = wl.add_parser("add", parents=[common], help="watch one or more tags")
    a.add_argument("tags", nargs="+", metavar="TAG")
    a.add_argument("--status", choices=queries.WATCH_STATUSES, default="watch")
    a.add_argument("--note")
    a.add_argument("--synonym", action="extend", nargs="+", default=[], metavar="WORD",
                   help="an analyst synonym of the tag(s), matched like the tag itself; repeatable")
    r = wl.add_parser("remove", parents=[common], help="stop watching tags")
    r.add_argument("tags", nargs="+", metavar="TAG")
    ls = wl.add_parser("list", parents=[common], help="show the watchlist")
    ls.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_watchlist)

    p = sub.add_parser("sources", parents=[common], help="where to collect from (e.g. Mastodon instances)")
    so = p.add_subparsers(dest="action", required=True)
    for name, text in (("add", "add a source"), ("remove", "remove a source")):
        s = so.add_parser(name, parents=[common], help=text)
        s.add_argument("--platform", default="mastodon")
        s.add_argument("--base-url", required=True)
    ls = so.add_parser("list", parents=[common], help="show the sources")
    ls.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_sources)


def cmd_watchlist(args) -> int:
    settings = settings_from(args)
    if args.action == "add":
        from warehouse.resurfacing import synonyms_add

        words = [queries.normalise_tag(w) for w in args.synonym]  # refuse bad words before writing
        with session(settings.db_path) as con, transaction(con):
            added = []
            for tag in args.tags:
                tag = queries.watchlist_add(con, tag, args.status, args.note)
                synonyms_add(con, tag, words)
                added.append(tag)
        for tag in added:
            also = f", synonyms {', '.join('#' + w for w in words)}" if words else ""
            out(cell(f"watching #{tag} ({args.status}{also})", 200))
        radar_again(settings)
    elif args.action == "remove":
        with session(settings.db_path) as con:
            for tag in args.tags:
                if not queries.watchlist_remove(con, tag):
                    raise UserError(f"#{queries.normalise_tag(tag)} is not on the watchlist")
                out(f"removed #{queries.normalise_tag(tag)}")
        radar_again(settings)
    else:
        from warehouse.resurfacing import synonyms

        with session(settings.db_path) as con:
            rows = queries.watchlist(con)
            words = synonyms(con)
        for r in rows:
            r["synonyms"] = " ".join(words.get(r["tag"], []))
        table(rows, ["tag", "status", "note", "added_at", "synonyms"], args.format)
    return 0


def radar_again(settings) -> None:
    """A changed watchlist changes how every seen tag groups: match the tags and count the
    radar's days again now, so the day's `tagwatch resurfacing` does not (it reads all posts
    once: seconds at millions of posts)."""
    from tagwatch import pipeline

    done = pipeline.refresh_radar(settings)
    out(f"radar: {done['matched']} tag(s) matched again, {done['proposals']} proposal(s)")


def cmd_sources(args) -> int:
    settings = settings_from(args)
    if args.action == "add":
        check_platform(args.platform)
        with session(settings.db_path) as con:
            url = queries.source_add(con, args.platform, args.base_url)
        out(f"collecting {args.platform} from {url}")
    elif args.action == "remove":
        with session(settings.db_path) as con:
            if not queries.source_remove(con, args.platform, args.base_url):
                raise UserError(f"no {args.platform} source {args.base_url}")
        out(f"removed {args.base_url}")
    else:
        with session(settings.db_path) as con:
            rows = queries.sources(con)
        table(rows, ["platform", "base_url", "enabled", "added_at"], args.format)
    return 0


def check_platform(platform: str) -> None:
    if platform not in platforms.PLATFORMS:
        raise UserError(f"unknown platform {platform!r}; platforms: {', '.join(platforms.names())}")
