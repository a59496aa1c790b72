"""`tagwatch resurfacing`: the union staff's morning view of the radar.

Banned tags seen again (one alert per tag, however many platforms and spellings), the
top proposed new tags, and volume spikes. Refreshes the radar first.
"""
from __future__ import annotations

import json
import sys

from common.csvout import SafeDictWriter
from tagwatch import argtypes
from tagwatch.console import UserError, cell

CSV_COLUMNS = ("section", "tag", "variant", "method", "platform", "first_seen", "posts",
               "share_flagged", "support", "lift", "previous_posts", "day", "baseline", "ratio")


def register(sub, common) -> None:
    p = sub.add_parser("resurfacing", parents=[common],
                       help="banned tags seen again, proposed new tags, spikes")
    p.add_argument("--since", default="7d", help="seen within this period: 30m, 12h, 1d, 2w, all")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--limit", type=argtypes.limit, default=20, help="proposals and spikes shown (default 20)")
    p.add_argument("--network", metavar="OUT.png",
                   help="also draw the network of tags around the watched ones into this PNG file")
    p.add_argument("--network-links", type=argtypes.count, default=None, metavar="N",
                   help="links drawn at most, the strongest first (default 40)")
    p.set_defaults(func=cmd_resurfacing)


def flat_rows(view: dict) -> list[dict]:
    rows = []
    for alert in view["resurfaced"]:
        for v in alert["variants"]:
            rows.append({"section": "resurfaced", "tag": alert["tag"], **v})
    rows += [{"section": "proposal", **p} for p in view["proposals"]]
    rows += [{"section": "spike", **s} for s in view["spikes"]]
    return rows


def cmd_resurfacing(args) -> int:
    from tagwatch.console import settings_from
    from warehouse import queries
    from warehouse.db import session
    from radar.network import MAX_EDGES
    from warehouse.resurfacing import refresh, resurfacing_view, tag_network

    since = queries.parse_since(args.since)
    if args.network:
        png_target(args.network)  # refused before anything is read or written
    with session(settings_from(args).db_path) as con:
        refresh(con)
        view = resurfacing_view(con, since, limit=args.limit)
        network = tag_network(con, since, args.network_links or MAX_EDGES) if args.network else None
    if network is not None:
        write_network(network, args.network, args.since)
    if args.format == "json":
        print(json.dumps(view, default=str, indent=1, ensure_ascii=False))
    elif args.format == "csv":
        writer = SafeDictWriter(sys.stdout, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(flat_rows(view))
    else:
        print_table(view, args.since)
    return 0


def png_target(path: str):
    """Where --network writes: a .png file in a folder that exists."""
    from pathlib import Path

    target = Path(path)
    if target.suffix.lower() != ".png":
        raise UserError(f"--network writes a PNG: give a file name ending in .png, not {cell(path, 100)!r}")
    if not target.parent.is_dir():
        raise UserError(f"--network: the folder {cell(str(target.parent), 100)!r} does not exist")
    return target


def write_network(network, path: str, since_text: str) -> None:
    """The network as a PNG at `path` (written whole, then moved into place); says so on
    standard error, so that standard output stays the table, CSV or JSON asked for."""
    from radar.network import draw, title
    from tagwatch.console import err

    target = png_target(path)
    image = draw(network, title(network, since_text))
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(image)
    partial.replace(target)
    proposed = ", ".join("#" + cell(n.label, 40) for n in network.proposed) or "none"
    err(f"network of {len(network.nodes)} tags and {len(network.edges)} links "
        f"(proposed: {proposed}): {cell(str(target), 200)}")


def _pct(share) -> str:
    return "-" if share is None else f"{share:.0%}"


def _section(title: str, rows: list, lines) -> None:
    """A titled list, "none" when empty; `lines(row)` gives each row's printed lines."""
    print(title)
    if not rows:
        print("  none")
    for row in rows:
        for line in lines(row):
            print(line)


def print_table(view: dict, since_text: str) -> None:
    def resurfaced(a):
        yield (f"  #{cell(a['tag'], 60)}  {a['posts']} post(s), {_pct(a['share_flagged'])} flagged, "
               f"first seen {a['first_seen']:%Y-%m-%d %H:%M}, on {', '.join(a['platforms'])}")
        for v in a["variants"]:
            yield (f"      {cell('#' + v['variant'], 40):42} {cell(v['method'], 30):30} {v['platform']:10} "
                   f"{v['posts']:5} post(s)  {_pct(v['share_flagged'])} flagged  first {v['first_seen']:%Y-%m-%d}")

    _section(f"Banned tags seen again (since {cell(since_text, 20)}):", view["resurfaced"], resurfaced)
    _section("\nProposed new tags (accept: tagwatch tags accept TAG; reject: tagwatch tags reject TAG):",
             view["proposals"], lambda p: [
                 f"  #{cell(p['spelling'], 40):42} lift {p['lift']:5.1f}  {p['support']}/{p['posts']} "
                 f"focus posts  (week before: {p['previous_posts']})"])
    _section("\nSpikes (posts a day against the 14 days before):", view["spikes"], lambda s: [
        f"  #{cell(s['tag'], 40):42} {s['platform']:10} {s['day']}  {s['posts']} post(s), "
        f"{s['ratio']}x the usual {s['baseline']}"])
