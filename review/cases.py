"""Cases: opening, reviewing, reporting, platform answers, the 48 h deadline.

Every function takes an open warehouse connection and does its writes in one
transaction, so bad input or a refused move leaves the warehouse as it was.
`now` is injectable everywhere so tests can move the clock.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

from review import dsa
from review import incidents
from review import states as st
from warehouse import queue_keys
from warehouse.db import WarehouseError, cached, transaction
from warehouse.queries import MIN_SAME_TEXT, NORMALISED_TEXT, STAFF_AIMED, dict_rows

AUTOMATION = "tagwatch"  # the actor of automated events
CATEGORIES = ("allegation", "sexual", "threat", "insult", "doxxing", "impersonation", "other")
# The categories the classifier scores (`doxxing` covers harassment campaigns): the only ones
# a confirmed case's default category is chosen from. Other keys found in stored
# `categories` (staff_target, in scores written before migration 011) are not categories.
SCORED_CATEGORIES = ("allegation", "sexual", "threat", "insult", "doxxing")
TARGET_ROLES = ("teacher", "head_teacher", "teaching_assistant", "support_staff", "school", "other")
SEVERITIES = ("low", "medium", "high")
CHANNELS = ("in-app", "form", "helpline")
OUTCOMES = {"removed": st.PLATFORM_ACTIONED, "no_violation": st.PLATFORM_REJECTED, "other": None}
ANSWER_DEADLINE = timedelta(hours=48)
# Moves a person makes with `case move` (the others carry data: review, report, answer).
PLAIN_MOVES = (st.IN_REVIEW, st.ESCALATED, st.CLOSED)


class CaseError(WarehouseError):
    """A case operation that cannot be done; the message says why."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- reading ------------------------------------------------------------------------------

def state_of(con, case_id: int) -> str:
    row = con.execute("SELECT state FROM case_state WHERE case_id = ?", [parse_case_id(case_id)]).fetchone()
    if row is None:
        raise CaseError(f"no case {case_id}")
    return row[0]


# Latest score per post (the newest model that scored it), with its explanation.
_LATEST_SCORE = """
    SELECT platform, post_id, arg_max(score, scored_at) AS score,
           arg_max(model_version, scored_at) AS model_version,
           arg_max(explanation, scored_at) AS explanation,
           arg_max(categories, scored_at) AS categories,
           arg_max(staff_target, scored_at) AS staff_target
    FROM scores GROUP BY platform, post_id
"""


# Human reports first: a case a person reported (school intake, `case open`, or a flagged post a
# school also reported) ranks as if its score were HUMAN_REPORT_BAND higher than a case only the
# classifier flagged: "similar score" means within 0.10 (a school report at 0.75 comes before a
# classifier-only case at 0.84, after one at 0.86).
HUMAN_REPORT_BAND = 0.1
HUMAN_ORIGINS = ("member_report", "school_report")
ORIGINS = ("flagged", "member_report", "school_report", "resurfaced")
# What `case list --origin` and the queue's filter accept: an origin, or human / classifier.
ORIGIN_FILTERS = ("human", "classifier", *ORIGINS)
_HUMAN = (f"(c.origin IN {HUMAN_ORIGINS!r} OR EXISTS (SELECT 1 FROM intake_submissions i "
          f"WHERE i.case_id = c.case_id))")


def list_cases(con, states: tuple[str, ...] | None = None, limit: int | None = None, *,
               assigned_to: str | None = None, author: str | None = None,
               tag: str | None = None, origins: tuple[str, ...] | None = None,
               incident: int | None = None, recompute: bool = False) -> list[dict]:
    """Cases with their state, post, latest score and incident, worst first; only those assigned
    to `assigned_to`, by the author `author` (the pseudonym), carrying the hashtag `tag`, of
    these `origins` (ORIGIN_FILTERS) or of the incident `incident`.

    Worst: aimed at school staff (staff_target >= STAFF_AIMED) before the rest, then by score
    (abusive, to anyone; human reports HUMAN_REPORT_BAND higher), then by reach. The cases of
    one incident follow each other, where its worst one stands.

    The score and reach come from the keys kept per case (warehouse.queue_keys), and posts are
    read for the listed rows only; `recompute=True` (and a narrowing by author or tag, which
    reads posts anyway) computes them from posts and scores instead: the same rows.
    """
    conditions, params = [], []
    if states:
        unknown = set(states) - set(st.STATES)
        if unknown:
            raise CaseError(f"unknown state(s) {sorted(unknown)}; states: {', '.join(st.STATES)}")
        conditions.append(f"s.state IN ({', '.join('?' * len(states))})")
        params += list(states)
    if assigned_to:
        conditions.append("c.case_id IN (SELECT case_id FROM case_assignee WHERE assignee = ?)")
        params.append(assigned_to)
    if author or tag:
        conditions.append("EXISTS (SELECT 1 FROM posts f WHERE f.platform = c.platform AND f.post_id = c.post_id"
                          + (" AND f.author_key = ?" if author else "")
                          + (" AND list_contains(list_transform(f.hashtags, lambda x: lower(x)), lower(?))"
                             if tag else "") + ")")
        params += [v for v in (author, tag) if v]
    if origins:
        conditions.append(_origin_condition(origins))
        params += [o for o in ORIGINS if o in origins]
    if incident is not None:
        conditions.append("c.case_id IN (SELECT case_id FROM case_incidents WHERE incident_id = ?)")
        params.append(int(incident))
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    # Read again and again (every queue page), changed only by a commit: computed once per change.
    full = recompute or bool(author or tag)
    return cached(con, ("list_cases", where, tuple(params), limit, full),
                  lambda: _list_cases(con, where, params, limit) if full or queue_keys.missing(con)
                  else _list_ranked(con, where, params, limit))


def _origin_condition(origins: tuple[str, ...]) -> str:
    unknown = set(origins) - set(ORIGIN_FILTERS)
    if unknown:
        raise CaseError(f"unknown origin(s) {sorted(unknown)}; origins: {', '.join(ORIGIN_FILTERS)}")
    stored = [o for o in ORIGINS if o in origins]
    wanted = [f"c.origin IN ({', '.join('?' * len(stored))})"] if stored else []
    wanted += [_HUMAN] if "human" in origins else []
    wanted += [f"NOT {_HUMAN} AND c.origin = 'flagged'"] if "classifier" in origins else []
    return "(" + " OR ".join(wanted) + ")"


_SELECTED = f"""sel AS (
            SELECT c.case_id, s.state, s.state_since, c.platform, c.post_id, c.origin, c.opened_at,
                   {_HUMAN} AS human_report
            FROM cases c JOIN case_state s USING (case_id) {{where}})"""
# The incidents of the chosen cases, with how many cases each has (open or not).
_INCIDENTS = """inc AS (SELECT i.case_id, i.incident_id, count(*) OVER (PARTITION BY i.incident_id) AS incident_cases
                FROM case_incidents i WHERE i.incident_id IN (
                    SELECT incident_id FROM case_incidents SEMI JOIN sel USING (case_id)))"""
_REQUESTERS = "(SELECT case_id, count(*) AS requesters FROM case_requesters GROUP BY case_id)"
_WORST_ORDER = f"""coalesce(staff_target, 0) >= {STAFF_AIMED} DESC,
    score + CASE WHEN human_report THEN {HUMAN_REPORT_BAND} ELSE 0 END DESC NULLS LAST,
    reach DESC, case_id"""
# Worst first (list_cases), the cases of one incident where its worst one stands.
_WORST_FIRST = f"""
        SELECT * EXCLUDE (rank, group_rank) FROM (
            SELECT *, min(rank) OVER (PARTITION BY coalesce(incident_id, -case_id)) AS group_rank
            FROM (SELECT *, row_number() OVER (ORDER BY {_WORST_ORDER}) AS rank FROM ranked))
        ORDER BY group_rank, rank"""
# The same order from the kept keys, sorting the chosen cases' ids and keys alone (sorting whole
# rows of every open case cost twice as much, as did joining them back); the listed ones are
# then read by their ids.
_RANKED_IDS = f"""
        WITH {_SELECTED},
        keys AS (SELECT c.case_id, c.human_report, k.score, k.reach, k.staff_target, i.incident_id
                 FROM sel c JOIN queue_keys k USING (case_id) LEFT JOIN case_incidents i USING (case_id)),
        r AS (SELECT case_id, human_report, score, reach, staff_target, incident_id,
                     coalesce(incident_id, -case_id) AS grp,
                     row_number() OVER (ORDER BY {_WORST_ORDER}) AS rank FROM keys)
        SELECT case_id, human_report, score, reach, staff_target, incident_id
        FROM r JOIN (SELECT grp, min(rank) AS group_rank FROM r GROUP BY grp) USING (grp)
        ORDER BY group_rank, rank"""
# The first N (`{limit}`) of that order without sorting every open case: the first N cases by
# their own keys (a top-N) hold the best case of every incident that has a case among the
# first N rows, and those incidents have N cases at least; so only their cases are ranked.
_FIRST_IDS = _RANKED_IDS.replace(
    "        r AS (SELECT", """        first AS (SELECT DISTINCT coalesce(incident_id, -case_id) AS grp FROM (
            SELECT case_id, incident_id FROM keys ORDER BY {_WORST_ORDER} LIMIT {limit})),
        r AS (SELECT""".replace("{_WORST_ORDER}", _WORST_ORDER)).replace(
    "rank FROM keys)", "rank FROM keys WHERE coalesce(incident_id, -case_id) IN (SELECT grp FROM first))"
) + " LIMIT {limit}"
# The listed cases (`{{ids}}`: their ids, `{{incidents}}`: their incidents, written out), what
# the page shows of them read for them only.
_LISTED_BY_ID = f"""
        SELECT c.case_id, s.state, s.state_since, c.platform, c.post_id, c.origin, c.opened_at,
               {", ".join(f"k.{c}" for c in queue_keys.SHOWN)}, coalesce(rq.requesters, 0) AS requesters,
               asg.assignee, coalesce(n.incident_cases, 1) AS incident_cases
        FROM cases c
        JOIN (SELECT case_id, arg_max(to_state, event_id) AS state, max(occurred_at) AS state_since
              FROM case_events WHERE case_id IN ({{ids}}) GROUP BY case_id) s USING (case_id)
        JOIN queue_keys k USING (case_id)
        LEFT JOIN case_assignee asg USING (case_id)
        LEFT JOIN {_REQUESTERS} rq USING (case_id)
        LEFT JOIN case_incidents i USING (case_id)
        LEFT JOIN (SELECT incident_id, count(*) AS incident_cases FROM case_incidents
                   WHERE incident_id IN ({{incidents}}) GROUP BY incident_id) n USING (incident_id)
        WHERE c.case_id IN ({{ids}})"""
# The columns of a listed case, in this order.
LISTED = ("case_id", "state", "state_since", "platform", "post_id", "url", "score", "reach", "text",
          "hashtags", "model_version", "explanation", "categories", "staff_target", "origin",
          "opened_at", "created_at", "first_seen_at", "requesters", "author_key", "assignee",
          "human_report", "incident_id", "incident_cases")


def _list_cases(con, where: str, params: list, limit: int | None) -> list[dict]:
    """list_cases computed from posts and scores."""
    # The chosen cases first; posts and scores are then read for those posts only (the
    # latest-score aggregate runs over the queue's posts, not over every score ever written).
    sql = f"""
        WITH {_SELECTED.format(where=where)},
        p AS (SELECT * FROM posts SEMI JOIN sel USING (platform, post_id)),
        sc AS ({_LATEST_SCORE.replace("FROM scores", "FROM scores SEMI JOIN sel USING (platform, post_id)")}),
        {_INCIDENTS},
        ranked AS (
            SELECT c.case_id, c.state, c.state_since, c.platform, c.post_id, p.url, sc.score,
                   coalesce(p.reply_count, 0) + coalesce(p.share_count, 0) + coalesce(p.like_count, 0)
                       + coalesce(p.view_count, 0) AS reach,
                   p.text, p.hashtags, sc.model_version, sc.explanation, sc.categories, sc.staff_target,
                   c.origin, c.opened_at, p.created_at, p.first_seen_at,
                   coalesce(rq.requesters, 0) AS requesters, p.author_key, asg.assignee, c.human_report,
                   inc.incident_id, coalesce(inc.incident_cases, 1) AS incident_cases
            FROM sel c
            LEFT JOIN case_assignee asg USING (case_id)
            LEFT JOIN {_REQUESTERS} rq USING (case_id)
            LEFT JOIN p USING (platform, post_id)
            LEFT JOIN sc USING (platform, post_id)
            LEFT JOIN inc USING (case_id))
        {_WORST_FIRST}
    """
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = dict_rows(con.execute(sql, params))
    for r in rows:
        r["explanation"] = _json(r["explanation"])
        r["categories"] = _json(r["categories"])
    return rows


def _list_ranked(con, where: str, params: list, limit: int | None) -> list[dict]:
    """list_cases from the keys kept per case (warehouse.queue_keys): the chosen cases ranked
    on their keys alone, then the listed ones read by id (no posts, no scores)."""
    sql = _FIRST_IDS.format(where=where, limit=int(limit)) if limit else _RANKED_IDS.format(where=where)
    ranked = dict_rows(con.execute(sql, params))
    if not ranked:
        return []
    written = {"ids": ", ".join(str(int(r["case_id"])) for r in ranked),
               "incidents": ", ".join(str(int(r["incident_id"])) for r in ranked
                                      if r["incident_id"] is not None) or "NULL"}
    rows = {r["case_id"]: r for r in dict_rows(con.execute(_LISTED_BY_ID.format(**written)))}
    listed = []
    for r in ranked:
        r.update(rows[r["case_id"]])
        r["explanation"] = _json(r["explanation"])
        r["categories"] = _json(r["categories"])
        listed.append({k: r[k] for k in LISTED})
    return listed


def show(con, case_id: int) -> dict:
    """Everything about one case: state, post, evidence, events, reports, answers, re-checks."""
    case_id = parse_case_id(case_id)
    found = [r for r in dict_rows(con.execute(
        "SELECT c.*, s.state, s.state_since FROM cases c JOIN case_state s USING (case_id) "
        "WHERE case_id = ?", [case_id]))]
    if not found:
        raise CaseError(f"no case {case_id}")
    case = found[0]
    post = dict_rows(con.execute("SELECT * FROM posts WHERE platform = ? AND post_id = ?",
                              [case["platform"], case["post_id"]]))
    score = dict_rows(con.execute(f"SELECT * FROM ({_LATEST_SCORE}) WHERE platform = ? AND post_id = ?",
                               [case["platform"], case["post_id"]]))
    evidence = dict_rows(con.execute("SELECT * FROM evidence WHERE case_id = ?", [case_id]))
    if score:
        score[0]["explanation"] = _json(score[0]["explanation"])
        score[0]["categories"] = _json(score[0]["categories"])
    return {
        **case,
        "post": post[0] if post else None,
        "score": score[0] if score else None,
        "evidence": evidence[0] if evidence else None,
        "events": dict_rows(con.execute(
            "SELECT event_id, from_state, to_state, actor, occurred_at, automated, note FROM case_events "
            "WHERE case_id = ? ORDER BY event_id", [case_id])),
        "reports": dict_rows(con.execute(
            "SELECT report_id, channel, reference, sent_at, recorded_by, withdrawn_at FROM reports "
            "WHERE case_id = ? ORDER BY report_id", [case_id])),
        "answers": dict_rows(con.execute(
            "SELECT answer_id, report_id, outcome, text, answered_at, recorded_by, "
            f"{', '.join(dsa.FIELDS)} FROM platform_answers "
            "WHERE case_id = ? ORDER BY answer_id", [case_id])),
        "rechecks": dict_rows(con.execute(
            "SELECT recheck_id, checked_at, url, http_status, outcome, detail FROM rechecks "
            "WHERE case_id = ? ORDER BY recheck_id", [case_id])),
        "school_requests": dict_rows(con.execute(
            "SELECT submission_id, school, submitted_by, submitted_at, affected_role, description "
            "FROM intake_submissions WHERE case_id = ? ORDER BY submission_id", [case_id])),
        "allowed_moves": st.allowed_from(case["state"], st.HUMAN),
        "children": [r[0] for r in con.execute(
            "SELECT case_id FROM cases WHERE parent_case_id = ? ORDER BY case_id", [case_id]).fetchall()],
        "incident": incidents.of_case(con, case_id),
    }


def post_and_score(con, case_id: int) -> dict:
    """A case's post and latest score (what a decision needs of it), without its history."""
    found = con.execute("SELECT platform, post_id FROM cases WHERE case_id = ?", [case_id]).fetchone()
    if found is None:
        raise CaseError(f"no case {case_id}")
    post = dict_rows(con.execute("SELECT * FROM posts WHERE platform = ? AND post_id = ?", list(found)))
    score = dict_rows(con.execute(
        _LATEST_SCORE.replace("FROM scores", "FROM scores WHERE platform = ? AND post_id = ?"), list(found)))
    if score:
        score[0]["explanation"] = _json(score[0]["explanation"])
        score[0]["categories"] = _json(score[0]["categories"])
    return {"post": post[0] if post else None, "score": score[0] if score else None}


# --- opening ------------------------------------------------------------------------------

def open_flagged(con, now: datetime | None = None) -> int:
    """Open a DETECTED case for every flagged post that has none (bulk); returns how many.

    Posts that repeat the content of a case verified offline open RESURFACED child cases
    first (open_resurfaced), so they are not mistaken for new, unrelated posts."""
    now = now or utcnow()
    open_resurfaced(con, now)
    with transaction(con):
        opened = con.execute(
            """
            INSERT INTO cases (platform, post_id, origin, opened_at, opened_by)
            SELECT DISTINCT s.platform, s.post_id, 'flagged', ?, ? FROM scores s
            ANTI JOIN cases c USING (platform, post_id)
            WHERE s.label
            RETURNING case_id
            """, [now, AUTOMATION]).fetchall()
        _open_events(con, now, "flagged by the classifier")
        queue_keys.fill(con)
    incidents.assign(con, now)
    return len(opened)


def open_post(con, platform: str, post_id: str, actor: str, origin: str = "member_report",
              now: datetime | None = None) -> int:
    """Open a case for one stored post (e.g. one a member reported); returns its id."""
    now = now or utcnow()
    if con.execute("SELECT 1 FROM posts WHERE platform = ? AND post_id = ?",
                   [platform, post_id]).fetchone() is None:
        raise CaseError(f"no {platform} post {post_id!r} in the warehouse; "
                        "open it by URL (tagwatch case open --url URL) to fetch it first")
    existing = con.execute("SELECT case_id FROM cases WHERE platform = ? AND post_id = ? "
                           "ORDER BY case_id LIMIT 1", [platform, post_id]).fetchone()
    if existing:
        raise CaseError(f"the post already has case {existing[0]}")
    with transaction(con):
        case_id = con.execute(
            "INSERT INTO cases (platform, post_id, origin, opened_at, opened_by) "
            "VALUES (?, ?, ?, ?, ?) RETURNING case_id", [platform, post_id, origin, now, actor]
        ).fetchone()[0]
        _open_events(con, now, "reported by a member" if origin == "member_report" else origin)
        queue_keys.fill(con)
        incidents.assign(con, now)
    return case_id


# Text compared for resurfacing (and incidents): warehouse.queries.NORMALISED_TEXT.
MIN_RESURFACING_TEXT = MIN_SAME_TEXT


def open_resurfaced(con, now: datetime | None = None) -> list[int]:
    """Open a RESURFACED child case for every stored post that has no case and carries the
    same text (normalised, by SHA-256) as the evidence of a case verified offline; the
    child links its parent (parent_case_id), and its evidence is frozen from the new post
    with the parent's category, target and severity. Returns the new case ids."""
    now = now or utcnow()
    st.check_opening(st.RESURFACED, st.AUTOMATED)
    if not con.execute("SELECT 1 FROM case_events e JOIN evidence USING (case_id) WHERE e.to_state = ? "
                       "LIMIT 1", [st.OFFLINE_VERIFIED]).fetchone():
        return []  # nothing was ever verified offline: no post to hash
    norm_post, norm_evidence = (NORMALISED_TEXT.format(col=c) for c in ("p.text", "e.text"))
    found = con.execute(
        f"""
        WITH parents AS (
            SELECT e.case_id, e.platform, e.post_id, sha256({norm_evidence}) AS text_hash,
                   v.offline_at
            FROM evidence e
            JOIN (SELECT case_id, min(occurred_at) AS offline_at FROM case_events
                  WHERE to_state = ? GROUP BY case_id) v USING (case_id)
            WHERE length({norm_evidence}) >= ?
        )
        SELECT p.platform, p.post_id, min(pa.case_id) AS parent, any_value(pa.text_hash) AS text_hash,
               min(pa.offline_at) AS offline_at
        FROM posts p JOIN parents pa ON sha256({norm_post}) = pa.text_hash
        ANTI JOIN cases c ON c.platform = p.platform AND c.post_id = p.post_id
        WHERE length({norm_post}) >= ? AND NOT (p.platform = pa.platform AND p.post_id = pa.post_id)
        GROUP BY p.platform, p.post_id ORDER BY parent, p.platform, p.post_id
        """, [st.OFFLINE_VERIFIED, MIN_RESURFACING_TEXT, MIN_RESURFACING_TEXT]).fetchall()
    opened = []
    with transaction(con):
        for platform, post_id, parent, text_hash, offline_at in found:
            case_id = con.execute(
                "INSERT INTO cases (platform, post_id, origin, parent_case_id, opened_at, opened_by) "
                "VALUES (?, ?, 'resurfaced', ?, ?, ?) RETURNING case_id",
                [platform, post_id, parent, now, AUTOMATION]).fetchone()[0]
            con.execute(
                "INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note) "
                "VALUES (?, NULL, ?, ?, ?, TRUE, ?)",
                [case_id, st.RESURFACED, AUTOMATION, now,
                 f"the content of case {parent} (verified offline {offline_at:%Y-%m-%d %H:%M} UTC) "
                 f"seen again as a new post (text sha256 {text_hash[:16]}…)"])
            info = show(con, case_id)
            parent_evidence = dict_rows(con.execute(
                "SELECT category, target_role, severity FROM evidence WHERE case_id = ?", [parent]))[0]
            freeze_evidence(con, case_id, info["post"], info["score"], parent_evidence["category"],
                             parent_evidence["target_role"], parent_evidence["severity"], AUTOMATION, now)
            opened.append(case_id)
        queue_keys.fill(con)
        incidents.assign(con, now)
    return opened


def _open_events(con, now: datetime, note: str) -> None:
    """The DETECTED event of every case that has no event yet."""
    con.execute(
        """
        INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note)
        SELECT c.case_id, NULL, ?, ?, ?, TRUE, ? FROM cases c ANTI JOIN case_events e USING (case_id)
        """, [st.DETECTED, AUTOMATION, now, note])


# --- moves --------------------------------------------------------------------------------

def append_move(con, case_id: int, target: str, actor: str, by: str, note: str | None,
                at: datetime) -> str:
    """Check and append one move (inside the caller's transaction); returns the old state."""
    current = state_of(con, case_id)
    st.check_move(current, target, by)
    con.execute(
        "INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", [case_id, current, target, actor, at, by == st.AUTOMATED, note])
    return current


def move(con, case_id: int, target: str, actor: str, note: str | None = None,
         now: datetime | None = None) -> str:
    """A person's move that carries no data of its own (reopen, escalate, close)."""
    if target not in PLAIN_MOVES:
        raise CaseError(f"use review / report / answer to move a case to {target}; "
                        f"this moves only to {', '.join(PLAIN_MOVES)}")
    case_id = parse_case_id(case_id)
    reason = st.NEEDS_REASON.get((state_of(con, case_id), target))
    if reason and not (note or "").strip():
        raise CaseError(f"case {case_id}: {reason}")
    with transaction(con):
        return append_move(con, case_id, target, _actor(actor), st.HUMAN, note, now or utcnow())


def review(con, case_id: int, decision: str, actor: str, category: str | None = None,
           target_role: str | None = None, severity: str | None = None, note: str | None = None,
           now: datetime | None = None) -> dict:
    """Confirm (freezing the evidence) or dismiss; either way a training label from review."""
    case_id, actor, now = parse_case_id(case_id), _actor(actor), now or utcnow()
    if decision not in ("confirm", "dismiss"):
        raise CaseError(f"decision must be confirm or dismiss, not {decision!r}")
    _choice("category", category, CATEGORIES)
    _choice("target role", target_role, TARGET_ROLES)
    _choice("severity", severity, SEVERITIES)
    info = post_and_score(con, case_id)  # not show(): a bulk decision reads this per case
    post = info["post"]
    if post is None:
        raise CaseError(f"case {case_id}: its post is not in the warehouse")
    target = st.CONFIRMED if decision == "confirm" else st.DISMISSED
    with transaction(con):
        append_move(con, case_id, target, actor, st.HUMAN, note, now)
        if decision == "confirm":
            category = category or strongest_category(info["score"]) or "other"
            if not freeze_evidence(con, case_id, post, info["score"], category, target_role,
                                    severity, actor, now):
                # Frozen earlier (a school's report freezes it at intake): the captured content
                # and its hash stay as they are; the reviewer's classification is recorded.
                con.execute("UPDATE evidence SET category = ?, target_role = coalesce(?, target_role), "
                            "severity = coalesce(?, severity) WHERE case_id = ?",
                            [category, target_role, severity, case_id])
        con.execute(
            "INSERT INTO labels (text, label, category, platform, post_id, source, added_by, added_at) "
            "VALUES (?, ?, ?, ?, ?, 'review', ?, ?)",
            [post["text"] or "", 1 if decision == "confirm" else 0,
             category if decision == "confirm" else None, post["platform"], post["post_id"], actor, now])
    return {"case_id": case_id, "state": target, "category": category}


def strongest_category(score: dict | None) -> str | None:
    """The scored category with the highest probability, or None when none scored above 0."""
    cats = (score or {}).get("categories") or {}
    scored = [(value, name) for name, value in cats.items()
              if name in SCORED_CATEGORIES and isinstance(value, (int, float)) and value > 0]
    return max(scored)[1] if scored else None


def captured_content(post: dict) -> str:
    """The captured content as canonical JSON (sorted keys, ISO times): what the hash covers."""
    keys = ("platform", "post_id", "url", "text", "hashtags", "reply_count", "share_count",
            "like_count", "view_count", "created_at", "first_seen_at", "last_seen_at")
    return json.dumps({k: _plain(post.get(k)) for k in keys}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))


def freeze_evidence(con, case_id, post, score, category, target_role, severity, actor, now):
    """Freeze the post as it is now; False when the case's evidence was frozen already."""
    if con.execute("SELECT 1 FROM evidence WHERE case_id = ?", [case_id]).fetchone():
        return False  # the content is frozen once (at intake, or at the first confirmation)
    content = captured_content(post)
    con.execute(
        """
        INSERT INTO evidence (case_id, platform, post_id, url, text, hashtags, reply_count,
            share_count, like_count, view_count, created_at, first_seen_at, last_seen_at,
            content_json, content_sha256, model_version, score, category, target_role, severity,
            frozen_at, frozen_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [case_id, post["platform"], post["post_id"], post["url"], post["text"], post["hashtags"],
         post["reply_count"], post["share_count"], post["like_count"], post["view_count"],
         post["created_at"], post["first_seen_at"], post["last_seen_at"], content,
         hashlib.sha256(content.encode("utf-8")).hexdigest(),
         (score or {}).get("model_version"), (score or {}).get("score"), category, target_role,
         severity, now, actor])
    return True


def report(con, case_id: int, channel: str, reference: str, actor: str,
           sent_at: datetime | None = None, now: datetime | None = None) -> int:
    """Record a report sent to the platform; the case becomes REPORTED. Returns the report id."""
    case_id, actor, now = parse_case_id(case_id), _actor(actor), now or utcnow()
    _choice("channel", channel, CHANNELS, required=True)
    reference = (reference or "").strip()
    if not reference:
        raise CaseError("a report needs the platform's reference (--reference)")
    sent_at = sent_at or now
    if sent_at > now + timedelta(minutes=5):
        raise CaseError("a report cannot have been sent in the future")
    seen = con.execute("SELECT p.first_seen_at FROM cases c JOIN posts p USING (platform, post_id) "
                       "WHERE c.case_id = ?", [case_id]).fetchone()
    if seen and seen[0] is not None and sent_at < seen[0]:
        raise CaseError(f"case {case_id}: a report cannot have been sent "
                        f"({sent_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC) before the post was "
                        f"first seen ({seen[0].astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC)")
    with transaction(con):
        append_move(con, case_id, st.REPORTED, actor, st.HUMAN, f"{channel}: {reference}", now)
        return con.execute(
            "INSERT INTO reports (case_id, channel, reference, sent_at, recorded_by) "
            "VALUES (?, ?, ?, ?, ?) RETURNING report_id",
            [case_id, channel, reference, sent_at, actor]).fetchone()[0]


def answer(con, case_id: int, outcome: str, text: str, actor: str,
           answered_at: datetime | None = None, now: datetime | None = None,
           statement: dict | None = None) -> str:
    """Record the platform's answer verbatim; returns the case's state afterwards.

    "removed" -> PLATFORM_ACTIONED, "no_violation" -> PLATFORM_REJECTED; "other" is
    kept (it stops the 48 h clock) without changing the state. `statement`: the fields of
    the DSA statement of reasons the platform gave (review.dsa.FIELDS), each optional.
    """
    case_id, actor, now = parse_case_id(case_id), _actor(actor), now or utcnow()
    _choice("outcome", outcome, tuple(OUTCOMES), required=True)
    if not (text or "").strip():
        raise CaseError("record the platform's answer text (--text), verbatim")
    sor = dsa.statement(statement, (now + timedelta(days=1)).date())
    dsa.check_against_outcome(outcome, sor["restriction"])
    latest = con.execute("SELECT report_id, sent_at FROM reports WHERE case_id = ? AND withdrawn_at IS NULL "
                         "ORDER BY report_id DESC LIMIT 1", [case_id]).fetchone()
    current = state_of(con, case_id)
    if latest is None:
        raise CaseError(f"case {case_id} has no report yet: record the report first (case report)")
    answered_at = answered_at or now
    if answered_at < latest[1]:
        raise CaseError("the answer cannot have come before the report was sent")
    target = OUTCOMES[outcome]
    with transaction(con):
        if target is not None:
            append_move(con, case_id, target, actor, st.HUMAN, f"platform answered {outcome}", now)
        elif current not in (st.REPORTED, st.NO_RESPONSE, st.ESCALATED):
            raise CaseError(f"a case in {current} is not waiting for a platform answer")
        con.execute(
            "INSERT INTO platform_answers (case_id, report_id, outcome, text, answered_at, recorded_by, "
            f"{', '.join(dsa.FIELDS)}) VALUES (?, ?, ?, ?, ?, ?{', ?' * len(dsa.FIELDS)})",
            [case_id, latest[0], outcome, text, answered_at, actor, *(sor[f] for f in dsa.FIELDS)])
    return target or current


def apply_deadlines(con, now: datetime | None = None) -> list[int]:
    """REPORTED cases whose latest report got no answer within 48 h -> NO_RESPONSE (bulk)."""
    now = now or utcnow()
    st.check_move(st.REPORTED, st.NO_RESPONSE, st.AUTOMATED)
    with transaction(con):
        moved = con.execute(
            """
            INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note)
            SELECT s.case_id, s.state, ?, ?, ?, TRUE,
                   'no answer within 48 h of the report sent ' || strftime(r.sent_at, '%Y-%m-%d %H:%M %Z')
            FROM case_state s
            JOIN (SELECT case_id, arg_max(report_id, report_id) AS report_id, arg_max(sent_at, report_id) AS sent_at
                  FROM reports WHERE withdrawn_at IS NULL GROUP BY case_id) r USING (case_id)
            WHERE s.state = ? AND r.sent_at <= ?
              AND NOT EXISTS (SELECT 1 FROM platform_answers a WHERE a.report_id = r.report_id)
            RETURNING case_id
            """, [st.NO_RESPONSE, AUTOMATION, now, st.REPORTED, now - ANSWER_DEADLINE]).fetchall()
    return sorted(r[0] for r in moved)


# --- helpers ------------------------------------------------------------------------------

def parse_case_id(value) -> int:
    """A case id as a person types it ('12', '#12') -> 12; CaseError when it cannot be one."""
    try:
        case_id = int(str(value).strip().lstrip("#"))
    except ValueError:
        raise CaseError(f"not a case id: {str(value)[:40]!r} (case ids are numbers)") from None
    if not 1 <= case_id <= 2**31 - 1:  # the column is an INTEGER; ids start at 1
        raise CaseError(f"no case {case_id}: case ids are whole numbers from 1")
    return case_id


def _actor(actor: str) -> str:
    if not (actor or "").strip():
        raise CaseError("every change needs an actor (a user name)")
    return actor.strip()


def _choice(what: str, value, allowed, required: bool = False) -> None:
    if value is None and not required:
        return
    if value not in allowed:
        raise CaseError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def _plain(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return list(value) if isinstance(value, tuple) else value


def _json(value):
    if value is None or isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None
