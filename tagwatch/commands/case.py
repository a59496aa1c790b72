"""`tagwatch case ...`: review and takedown tracking from the command line.

Every action of the review app is here too, so bulk work and scripts need no browser.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import timedelta
from functools import partial

from review import cases as cs
from review import decisions
from review import dsa
from review import states as st
from tagwatch import argtypes
from tagwatch.console import cell
from warehouse.db import session

LIST_COLUMNS = ["case_id", "state", "platform", "post_id", "url", "score", "reach", "text", "origin",
                "incident_id", "incident_cases"]


def register(sub, common) -> None:
    p = sub.add_parser("case", parents=[common], help="review and takedown cases")
    cases = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument("--actor", default=None,
                       help="who is doing this, for the event history (default: your OS user name)")

    a = cases.add_parser("open", parents=[common, actor], help="open a case for one post; prints its id")
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("--url", help="a post a member reported (a Mastodon, Bluesky or TikTok post "
                       "address): fetched through the platform's configured API, stored and scored")
    which.add_argument("--post-id", help="a post already in the warehouse (with --platform)")
    a.add_argument("--platform", default="mastodon")
    a.set_defaults(func=cmd_open)

    a = cases.add_parser("list", parents=[common], help="list cases, worst first")
    a.add_argument("--state", choices=st.STATES, action="append", help="repeatable")
    a.add_argument("--origin", choices=cs.ORIGIN_FILTERS, action="append",
                   help="repeatable: human (school intake, case open, or a school joined), classifier "
                        "(flagged, no human report), or an origin as stored")
    a.add_argument("--format", choices=["table", "csv", "json"], default="table")
    a.add_argument("--limit", type=argtypes.limit)
    a.set_defaults(func=cmd_list)

    _register_incidents(cases, common)

    a = cases.add_parser("show", parents=[common], help="state, evidence, events and re-checks of a case")
    a.add_argument("case", type=argtypes.case_id)
    a.add_argument("--format", choices=["text", "json"], default="text")
    a.set_defaults(func=cmd_show)

    a = cases.add_parser("review", parents=[common, actor], help="confirm or dismiss cases (one or several)")
    a.add_argument("case", nargs="+", type=argtypes.case_id,
                   help="one or more case ids: one decision, each case its own events and evidence")
    a.add_argument("--decision", choices=["confirm", "dismiss"], required=True)
    a.add_argument("--category", choices=cs.CATEGORIES,
                   help="abuse category (default: the classifier's strongest, else other)")
    a.add_argument("--target-role", choices=cs.TARGET_ROLES, help="who is targeted, as a role")
    a.add_argument("--severity", choices=cs.SEVERITIES)
    a.add_argument("--note")
    a.set_defaults(func=cmd_review)

    a = cases.add_parser("report", parents=[common, actor],
                         help="record a report sent to the platform (one case or several)")
    a.add_argument("case", nargs="+", type=argtypes.case_id,
                   help="one or more case ids, reported together under one reference")
    a.add_argument("--channel", choices=cs.CHANNELS, required=True)
    a.add_argument("--reference", required=True, help="the platform's reference for the report")
    a.add_argument("--sent-at", type=_when, help="when it was sent (ISO 8601; default now)")
    a.set_defaults(func=cmd_report)

    a = cases.add_parser("answer", parents=[common, actor], help="record the platform's answer verbatim")
    a.add_argument("case", type=argtypes.case_id)
    a.add_argument("--outcome", choices=tuple(cs.OUTCOMES), required=True)
    a.add_argument("--text", required=True)
    a.add_argument("--answered-at", type=_when, help="when it came (ISO 8601; default now)")
    add_statement_args(a)
    a.set_defaults(func=cmd_answer)

    a = cases.add_parser("move", parents=[common, actor],
                         help=f"move a case to {', '.join(cs.PLAIN_MOVES)}")
    a.add_argument("case", type=argtypes.case_id)
    a.add_argument("--to", choices=cs.PLAIN_MOVES, required=True)
    a.add_argument("--note")
    a.set_defaults(func=cmd_move)

    _register_undo_assign(cases, common, actor)

    a = cases.add_parser("recheck", parents=[common],
                         help="apply the 48 h deadline and run the due re-checks")
    a.add_argument("case", nargs="?", type=argtypes.case_id, help="only this case")
    a.add_argument("--now", action="store_true", help="re-check at once, due or not")
    a.set_defaults(func=cmd_recheck)

    a = cases.add_parser("escalation-pack", parents=[common],
                         help="PDF + JSON for the helpline / Report Harmful Content")
    a.add_argument("case", type=argtypes.case_id)
    a.add_argument("--out", required=True, help="folder to write into")
    a.set_defaults(func=cmd_escalation_pack)


def _register_undo_assign(cases, common, actor) -> None:
    a = cases.add_parser("undo", parents=[common, actor],
                         help="undo your last decision (confirm, dismiss, report) within "
                              "TAGWATCH_UNDO_MINUTES (5): a compensating event, nothing deleted")
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("case", nargs="*", type=argtypes.case_id, default=[],
                       help="the cases whose last decision to undo")
    which.add_argument("--last", action="store_true", help="your last decision, all its cases")
    a.set_defaults(func=cmd_undo)

    a = cases.add_parser("assign", parents=[common, actor], help="assign cases to an analyst")
    a.add_argument("case", nargs="+", type=argtypes.case_id)
    who = a.add_mutually_exclusive_group(required=True)
    who.add_argument("--to", metavar="USER", help="the analyst (a user name)")
    who.add_argument("--nobody", action="store_true", help="unassign")
    a.set_defaults(func=cmd_assign)


def add_statement_args(a) -> None:
    """`case answer`'s flags for the platform's DSA statement of reasons."""
    sor = a.add_argument_group(
        "the platform's decision, when it gives one (fields of the EU DSA statement-of-reasons "
        "database; short forms or the database's constants, e.g. DECISION_GROUND_ILLEGAL_CONTENT)")
    sor.add_argument("--decision-ground", metavar="GROUND", help=" | ".join(dsa.SHORT["decision_ground"]))
    sor.add_argument("--category", metavar="CATEGORY",
                     help="the DSA category, e.g. illegal_or_harmful_speech, cyber_violence, "
                          "data_protection_and_privacy_violations")
    sor.add_argument("--automated-detection", metavar="yes|no", help="was the post found by automated means")
    sor.add_argument("--automated-decision", metavar="HOW", help=" | ".join(dsa.SHORT["automated_decision"]))
    sor.add_argument("--decision-date", metavar="YYYY-MM-DD",
                     help="the day the decision applies from (the database's application_date)")
    sor.add_argument("--restriction", metavar="WHAT", help=" | ".join(dsa.SHORT["restriction"]))


def _register_incidents(cases, common) -> None:
    a = cases.add_parser("incidents", parents=[common],
                         help="incidents of more than one case (the same content on several posts)")
    a.add_argument("--backfill", action="store_true",
                   help="first give every case that has none its incident (cases opened before migration 017)")
    a.add_argument("--format", choices=["table", "csv", "json"], default="table")
    a.add_argument("--limit", type=argtypes.limit)
    a.set_defaults(func=cmd_incidents)


def settings_from(args):
    from tagwatch.config import Settings

    return Settings.from_env(db_path=args.db)


def _actor(args) -> str:
    return args.actor or getpass.getuser()


def _when(text: str):
    from collectors.staging import parse_time

    when = parse_time(text)
    if when is None:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}")
    return when


def cmd_open(args) -> int:
    settings = settings_from(args)
    if args.url:
        from review.intake import open_url
        from tagwatch.pipeline import collect_options, score_if_trained

        case_id = open_url(settings, args.url, _actor(args), score=partial(score_if_trained, settings),
                           options=collect_options(settings))
    else:
        from collectors import platforms
        from tagwatch.console import UserError

        if args.platform not in platforms.PLATFORMS:
            raise UserError(f"unknown platform {args.platform!r}; platforms: {', '.join(platforms.names())}")
        with session(settings.db_path) as con:
            case_id = cs.open_post(con, args.platform, args.post_id, _actor(args))
    print(case_id)
    return 0


def cmd_list(args) -> int:
    with session(settings_from(args).db_path) as con:
        rows = cs.list_cases(con, tuple(args.state) if args.state else None, args.limit,
                             origins=tuple(args.origin) if args.origin else None)
    from tagwatch.console import table

    for r in rows:
        r["score"] = None if r["score"] is None else round(r["score"], 4)
    table(rows, LIST_COLUMNS, args.format)
    return 0


def cmd_incidents(args) -> int:
    from review import incidents
    from tagwatch.console import table

    with session(settings_from(args).db_path) as con:
        if args.backfill:
            print(f"{incidents.assign(con)} case(s) given an incident", file=sys.stderr)
        rows = incidents.listing(con, args.limit or 500)
    table(rows, ["incident_id", "cases", "platforms", "platform_names", "case_ids", "matched_by"], args.format)
    return 0


def cmd_show(args) -> int:
    with session(settings_from(args).db_path) as con:
        info = cs.show(con, args.case)
    if args.format == "json":
        print(json.dumps(info, default=str, indent=1, ensure_ascii=False))
        return 0
    post, ev = info["post"] or {}, info["evidence"]
    lines = [f"case {info['case_id']}: {info['state']} since {info['state_since']:%Y-%m-%d %H:%M}",
             f"  {info['platform']} {info['post_id']}", f"  url: {cell(post.get('url'), 200)}",
             f"  text: {cell(post.get('text'), 400)}"]
    if info["score"]:
        lines.append(f"  score {info['score']['score']:.3f} (model {info['score']['model_version']})")
    if ev:
        lines.append(f"  evidence frozen {ev['frozen_at']:%Y-%m-%d %H:%M} by {ev['frozen_by']}: "
                     f"category {ev['category']}, sha256 {ev['content_sha256']}")
    if info["incident"]:
        i = info["incident"]
        lines.append(f"  incident {i['incident_id']}: {i['cases']} case(s) on {i['platforms']} platform(s); "
                     + ("its first case" if i["reason"] == "first" else f"joined by {i['reason']}"
                        + (f" {i['similarity']:.2f}" if i["similarity"] is not None else "")
                        + f" with case {i['matched_case']}"))
        lines += [f"    sibling case {s['case_id']}: {s['platform']} {s['state']} ({s['reason']})"
                  for s in i["siblings"]]
    lines.append("events:")
    lines += [f"  {e['occurred_at']:%Y-%m-%d %H:%M} {e['from_state'] or '-'} -> {e['to_state']} "
              f"by {e['actor']}{' (automated)' if e['automated'] else ''}"
              f"{': ' + cell(e['note'], 200) if e['note'] else ''}" for e in info["events"]]
    for r in info["reports"]:
        lines.append(f"report {r['report_id']}: {r['channel']} ref {cell(r['reference'])} "
                     f"sent {r['sent_at']:%Y-%m-%d %H:%M}"
                     + (" (withdrawn: the decision was undone)" if r.get("withdrawn_at") else ""))
    for a in info["answers"]:
        lines.append(f"answer {a['answered_at']:%Y-%m-%d %H:%M}: {a['outcome']}: {cell(a['text'], 300)}")
        stated = dsa.describe(a)
        if stated:
            lines.append(f"  statement of reasons: {stated}")
    for r in info["rechecks"]:
        lines.append(f"re-check {r['checked_at']:%Y-%m-%d %H:%M}: {r['outcome']} "
                     f"(HTTP {r['http_status'] or '-'})")
    print("\n".join(lines))
    return 0


def cmd_review(args) -> int:
    with session(settings_from(args).db_path) as con:
        made = decisions.review_cases(con, args.case, args.decision, _actor(args), args.category,
                                      args.target_role, args.severity, args.note)
    for done in made["cases"]:
        print(f"case {done['case_id']}: {done['state']}"
              + (f" ({done['category']}); evidence frozen" if args.decision == "confirm" else ""))
    return 0


def cmd_report(args) -> int:
    with session(settings_from(args).db_path) as con:
        made = decisions.report_cases(con, args.case, args.channel, args.reference, _actor(args),
                                      args.sent_at)
    for done in made["cases"]:
        print(f"case {done['case_id']}: REPORTED (report {done['report_id']})")
    return 0


def cmd_undo(args) -> int:
    settings = settings_from(args)
    window = timedelta(minutes=max(0.0, settings.undo_minutes))
    with session(settings.db_path) as con:
        if args.last:
            undone = decisions.undo_last(con, _actor(args), window=window)
        else:
            undone = decisions.undo(con, args.case, _actor(args), window=window)
    for done in undone["cases"]:
        print(f"case {done['case_id']}: {done['undid']} undone, back to {done['state']}")
    return 0


def cmd_assign(args) -> int:
    from review import assignments

    with session(settings_from(args).db_path) as con:
        ids = assignments.assign(con, args.case, None if args.nobody else args.to, _actor(args))
    for case_id in ids:
        print(f"case {case_id}: " + ("unassigned" if args.nobody else f"assigned to {args.to}"))
    return 0


def cmd_answer(args) -> int:
    with session(settings_from(args).db_path) as con:
        state = cs.answer(con, args.case, args.outcome, args.text, _actor(args), args.answered_at,
                          statement={"decision_ground": args.decision_ground, "category": args.category,
                                     "automated_detection": args.automated_detection,
                                     "automated_decision": args.automated_decision,
                                     "application_date": args.decision_date,
                                     "restriction": args.restriction})
    print(f"case {args.case}: {state}")
    return 0


def cmd_move(args) -> int:
    with session(settings_from(args).db_path) as con:
        cs.move(con, args.case, args.to, _actor(args), args.note)
    print(f"case {args.case}: {args.to}")
    return 0


def cmd_recheck(args) -> int:
    from review import rechecks
    from tagwatch.pipeline import collect_options

    settings = settings_from(args)
    if args.case is None and args.now:
        with session(settings.db_path) as con:
            ids = [r["case_id"] for r in cs.list_cases(con, st.WATCHED)]
    else:
        ids = [cs.parse_case_id(args.case)] if args.case else None
    with settings.http_client(interactive=True) as client:
        if ids is not None and not args.now:  # one case, only if it is due
            with session(settings.db_path) as con:
                ids = [i for i in rechecks.due(con, cs.utcnow()) if i in ids]
        result = rechecks.run(settings.db_path, client, ids, options=collect_options(settings))
    for case_id in result["no_response"]:
        print(f"case {case_id}: NO_RESPONSE (no answer within 48 h)")
    for r in result["rechecked"]:
        print(f"case {r['case_id']}: {r['outcome']} (HTTP {r['http_status'] or '-'})"
              + (f" -> {r['moved_to']}" if r["moved_to"] else ""))
    if not result["rechecked"]:
        print("no re-checks due" if not args.now else "nothing to re-check")
    return 1 if any(r["outcome"] == "error" for r in result["rechecked"]) else 0


def cmd_escalation_pack(args) -> int:
    from review.escalation import write_pack

    with session(settings_from(args).db_path) as con:
        paths = write_pack(con, args.case, args.out)
    for path in paths:
        print(path)
    return 0
