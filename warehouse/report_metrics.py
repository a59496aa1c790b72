"""The figures of the education team's report, one query per table (read-only).

Every figure is for a period [start, end) and is computed as the warehouse stood at
`end`: scores, case events, reports, answers and re-checks recorded later are ignored,
so the report for a past week comes out the same whenever it is run again.

Definitions (docs/schema.md, "The education report", says the same for readers):
- a post belongs to the period when it was first seen in it; "flagged" is the newest
  verdict of the classifier on it, "confirmed" / "dismissed" the latest review decision
  on any of its cases; precision = confirmed / reviewed, among flagged posts;
- platform outcomes are for cases first reported in the period, at 48 h and 7 d after
  that first report ("not yet due" while the horizon lies beyond `end`);
- a time span counts in the period whose end event falls in it;
- mismatch: cases the platform said it removed (answer in the period) that a re-check
  later found online; "no violation" answers whose post later went offline;
- still online: confirmed posts not verified offline at `end` (by age since first seen);
- schools: submissions received in the period; time from a school's (first) report of a
  post to its verification offline, for verifications in the period; schools waiting on a
  platform: schools with a case reported, unanswered, escalated, or found online after
  "removed" at `end`;
- tags are grouped by the watched tag they match (radar.match), never shown as spelt;
- incidents: the period's posts with the same content (review/incidents.py: the same text,
  linked URL or video, or near-duplicate text, on any platform) counted once: posts whose cases
  (opened before `end`) share an incident are one incident; a post without one is its own.

Nothing here selects a handle, a URL or an author pseudonym.
"""
from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from warehouse.queries import dict_rows
from warehouse.resurfacing import watch_index

OTHER_TAGS = "(not on the watchlist)"
HORIZONS = (("48 h", "INTERVAL 48 HOUR"), ("7 d", "INTERVAL 7 DAY"))
AGE_BUCKETS = ("under 48 h", "48 h to 7 d", "7 to 30 d", "over 30 d")
REQUIRED_TABLES = ("posts", "scores", "cases", "case_events", "reports", "platform_answers",
                   "rechecks", "labels", "watchlist", "watchlist_synonyms", "intake_submissions",
                   "case_incidents")

# The newest classifier verdict per post first seen in the period, as of $end (only the
# period's posts are aggregated, not every score ever written).
_VERDICT = """
    SELECT platform, post_id, arg_max(label, scored_at) AS flagged,
           arg_max(model_version, scored_at) AS model_version
    FROM scores SEMI JOIN (SELECT platform, post_id FROM posts
                           WHERE first_seen_at >= $start AND first_seen_at < $end) USING (platform, post_id)
    WHERE scored_at < $end GROUP BY ALL
"""
# The latest review decision per post over all its cases, as of $end (a decision undone
# by then does not count).
_DECISION = """
    SELECT c.platform, c.post_id, arg_max(e.to_state, e.event_id) AS decision
    FROM case_events e JOIN cases c USING (case_id)
    WHERE e.to_state IN ('CONFIRMED', 'DISMISSED') AND e.occurred_at < $end
      AND e.event_id NOT IN (SELECT event_id FROM undone_events WHERE undone_at < $end) GROUP BY ALL
"""
# Reports as of $end: one withdrawn by then (its decision undone) was never sent.
REPORTS = "(SELECT * FROM reports WHERE withdrawn_at IS NULL OR withdrawn_at >= $end)"
_PERIOD_POSTS = f"""
    SELECT p.platform, p.post_id, p.hashtags, coalesce(v.flagged, FALSE) AS flagged,
           v.model_version, d.decision
    FROM posts p LEFT JOIN ({_VERDICT}) v USING (platform, post_id)
    LEFT JOIN ({_DECISION}) d USING (platform, post_id)
    WHERE p.first_seen_at >= $start AND p.first_seen_at < $end
"""
PERIOD = "report_period_posts"   # _PERIOD_POSTS of the period figures() is computing
PERIOD_TAGS = "report_period_tags"   # their watched tags, one row per (post, spelling)
_PERIOD_TAGS = f"""
    SELECT pp.platform, pp.post_id, pp.flagged, pp.decision, pp.tag AS spelling, m.watched, m.status, m.method
    FROM (SELECT platform, post_id, flagged, decision, unnest(hashtags) AS tag FROM {PERIOD}) pp
    JOIN report_tag_map m ON m.tag = pp.tag
    WHERE m.watched IS NOT NULL
"""
_COUNTS = """
    count(*) AS posts,
    count(*) FILTER (flagged) AS flagged,
    count(*) FILTER (decision = 'CONFIRMED') AS confirmed,
    count(*) FILTER (flagged AND decision IS NOT NULL) AS flags_reviewed,
    count(*) FILTER (flagged AND decision = 'CONFIRMED') AS flags_confirmed,
    count(*) FILTER (flagged AND decision = 'CONFIRMED')::DOUBLE
        / nullif(count(*) FILTER (flagged AND decision IS NOT NULL), 0) AS precision
"""


def _run(con, sql: str, params: dict):
    """Execute with the named parameters that `sql` uses (DuckDB refuses unused ones)."""
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def missing_tables(con) -> list[str]:
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    return [t for t in REQUIRED_TABLES if t not in present]


def figures(con, start: datetime, end: datetime) -> dict:
    """Every table of the report for [start, end)."""
    p = {"start": start, "end": end}
    _register_tag_map(con, start - (end - start), end)
    try:
        # The period's posts with their verdict and decision, read once: six tables count them.
        con.register(PERIOD, con.sql(_PERIOD_POSTS, params=p).to_arrow_table())
        con.register(PERIOD_TAGS, con.sql(_PERIOD_TAGS).to_arrow_table())
        return {
            "start": start, "end": end,
            "totals": dict_rows(_run(con, f"SELECT {_COUNTS} FROM {PERIOD}", p))[0],
            "incidents": incidents(con, p),
            "by_platform": dict_rows(_run(con,
                f"SELECT platform, {_COUNTS} FROM {PERIOD} GROUP BY platform "
                "ORDER BY flagged DESC, platform", p)),
            "by_tag": by_tag(con, p),
            "reports": reports_sent(con, p),
            "outcomes": outcomes(con, p),
            "durations": durations(con, p),
            "mismatch": mismatch(con, p),
            "still_online": still_online(con, p),
            "resurfacing": resurfacing(con, p),
            "models": models(con, p),
            "schools": schools(con, p),
            "by_platform_decisions": platform_decisions(con, p),
        }
    finally:
        con.unregister("report_tag_map")
        con.unregister(PERIOD)
        con.unregister(PERIOD_TAGS)


def _register_tag_map(con, since: datetime, end: datetime) -> None:
    """Every tag seen on posts of the two periods -> the watched tag it matches (and its
    status), matched in memory so a read-only connection always sees the current watchlist."""
    index, status, _ = watch_index(con)
    seen = [r[0] for r in con.execute(
        "SELECT DISTINCT unnest(hashtags) FROM posts WHERE first_seen_at >= ? AND first_seen_at < ?",
        [since, end]).fetchall() if r[0]]
    found = [index.match(t) for t in seen]
    con.register("report_tag_map", pa.table({
        "tag": pa.array(seen, pa.string()),
        "watched": pa.array([m.tag for m in found], pa.string()),
        "status": pa.array([status.get(m.tag) if m.tag else None for m in found], pa.string()),
        "method": pa.array([m.method or None for m in found], pa.string()),
    }))


def by_tag(con, p: dict) -> list[dict]:
    """Per watched tag (variants folded in); a post under two watched tags counts under each."""
    return dict_rows(_run(con, f"""
        WITH pp AS (FROM {PERIOD}),
        watched AS (
            SELECT DISTINCT platform, post_id, flagged, decision, watched AS tag FROM {PERIOD_TAGS}),
        tagged AS (
            SELECT * FROM watched
            UNION ALL
            SELECT platform, post_id, flagged, decision, '{OTHER_TAGS}' FROM pp
            ANTI JOIN watched USING (platform, post_id))
        SELECT tag, {_COUNTS} FROM tagged GROUP BY tag
        ORDER BY tag = '{OTHER_TAGS}', flagged DESC, tag""", p))


def incidents(con, p: dict) -> dict:
    """The period's posts counted by incident: flagged, confirmed, and flagged incidents whose
    cases (opened before the end) span more than one platform."""
    return dict_rows(_run(con, f"""
        WITH known AS (
            SELECT c.platform, c.post_id, i.incident_id
            FROM cases c JOIN case_incidents i USING (case_id) WHERE c.opened_at < $end),
        spread AS (SELECT incident_id, count(DISTINCT platform) AS platforms FROM known GROUP BY ALL),
        per_post AS (SELECT platform, post_id, min(incident_id) AS incident_id FROM known GROUP BY ALL),
        pp AS (
            SELECT pp.flagged, pp.decision, coalesce(s.platforms, 1) AS platforms,
                   coalesce(i.incident_id::VARCHAR, pp.platform || ' ' || pp.post_id) AS incident
            FROM (FROM {PERIOD} WHERE flagged OR decision = 'CONFIRMED') pp    -- all that is counted
            LEFT JOIN per_post i USING (platform, post_id)
            LEFT JOIN spread s USING (incident_id))
        SELECT count(DISTINCT incident) FILTER (flagged) AS flagged,
               count(DISTINCT incident) FILTER (decision = 'CONFIRMED') AS confirmed,
               count(DISTINCT incident) FILTER (flagged AND platforms > 1) AS cross_platform
        FROM pp""", p))[0]


def reports_sent(con, p: dict) -> dict:
    return dict_rows(_run(con, f"""
        SELECT count(*) AS reports,
               count(DISTINCT case_id) AS cases,
               count(DISTINCT case_id) FILTER (case_id IN (
                   SELECT case_id FROM {REPORTS} GROUP BY case_id HAVING min(sent_at) >= $start))
                   AS first_reports
        FROM {REPORTS} WHERE sent_at >= $start AND sent_at < $end""", p))[0]


def outcomes(con, p: dict) -> list[dict]:
    """Cases first reported in the period, by what the platform had done at 48 h and 7 d."""
    horizons = " UNION ALL ".join(f"SELECT '{name}' AS horizon, {span} AS span" for name, span in HORIZONS)
    rows = dict_rows(_run(con, f"""
        WITH cohort AS (
            SELECT case_id, min(sent_at) AS sent_at FROM {REPORTS} reports WHERE sent_at < $end
            GROUP BY case_id HAVING min(sent_at) >= $start),
        answers AS (SELECT case_id, outcome, answered_at FROM platform_answers WHERE answered_at < $end),
        judged AS (
            SELECT h.horizon, c.case_id,
                   (SELECT arg_min(a.outcome, a.answered_at) FROM answers a WHERE a.case_id = c.case_id
                      AND a.outcome <> 'other' AND a.answered_at <= c.sent_at + h.span) AS decisive,
                   EXISTS (SELECT 1 FROM answers a WHERE a.case_id = c.case_id
                      AND a.outcome = 'other' AND a.answered_at <= c.sent_at + h.span) AS other,
                   c.sent_at + h.span > $end AS open
            FROM cohort c, ({horizons}) h)
        SELECT horizon,
               count(*) FILTER (decisive = 'removed') AS removed,
               count(*) FILTER (decisive = 'no_violation') AS no_violation,
               count(*) FILTER (decisive IS NULL AND other) AS other_answer,
               count(*) FILTER (decisive IS NULL AND NOT other AND NOT open) AS no_answer,
               count(*) FILTER (decisive IS NULL AND NOT other AND open) AS not_yet_due,
               count(*) AS cases
        FROM judged GROUP BY horizon""", p))
    by_name = {r["horizon"]: r for r in rows}
    empty = {"removed": 0, "no_violation": 0, "other_answer": 0, "no_answer": 0, "not_yet_due": 0,
             "cases": 0}
    return [by_name.get(name, {"horizon": name, **empty}) for name, _ in HORIZONS]


SPANS = ("first seen -> reported", "reported -> platform answer", "reported -> verified offline")


def durations(con, p: dict) -> list[dict]:
    """Median and p90 (linear interpolation) in hours of each span that ended in the period."""
    rows = dict_rows(_run(con, f"""
        WITH first_report AS (SELECT case_id, min(sent_at) AS at FROM {REPORTS} reports GROUP BY case_id),
        spans AS (
            SELECT '{SPANS[0]}' AS span, r.at AS ended, r.at - p.first_seen_at AS d
            FROM first_report r JOIN cases c USING (case_id) JOIN posts p USING (platform, post_id)
            UNION ALL
            SELECT '{SPANS[1]}', min(a.answered_at), min(a.answered_at) - any_value(r.at)
            FROM first_report r JOIN platform_answers a USING (case_id)
            WHERE a.answered_at >= r.at GROUP BY r.case_id
            UNION ALL
            SELECT '{SPANS[2]}', min(e.occurred_at), min(e.occurred_at) - any_value(r.at)
            FROM first_report r JOIN case_events e USING (case_id)
            WHERE e.to_state = 'OFFLINE_VERIFIED' AND e.occurred_at >= r.at GROUP BY r.case_id)
        SELECT span, count(*) AS cases,
               median(epoch(d)) / 3600 AS median_hours,
               quantile_cont(epoch(d), 0.9) / 3600 AS p90_hours
        FROM spans WHERE ended >= $start AND ended < $end GROUP BY span""", p))
    by_span = {r["span"]: r for r in rows}
    return [by_span.get(s, {"span": s, "cases": 0, "median_hours": None, "p90_hours": None})
            for s in SPANS]


def mismatch(con, p: dict) -> dict:
    """'Removed' claims found online afterwards, and 'no violation' posts that went offline."""
    cases = dict_rows(_run(con, f"""
        WITH claims AS (
            SELECT case_id, outcome, min(answered_at) AS answered_at FROM platform_answers
            WHERE outcome IN ('removed', 'no_violation') AND answered_at >= $start AND answered_at < $end
            GROUP BY ALL),
        found AS (
            SELECT cl.case_id, cl.outcome, cl.answered_at,
                   (SELECT min(e.occurred_at) FROM case_events e WHERE e.case_id = cl.case_id
                      AND e.occurred_at >= cl.answered_at AND e.occurred_at < $end
                      AND e.to_state = CASE cl.outcome WHEN 'removed' THEN 'MISMATCH'
                                                       ELSE 'OFFLINE_VERIFIED' END) AS found_at
            FROM claims cl)
        SELECT f.case_id, c.platform, f.outcome AS platform_said, f.answered_at, f.found_at,
               (SELECT arg_max(r.reference, r.report_id) FROM {REPORTS} r
                 WHERE r.case_id = f.case_id AND r.sent_at <= f.answered_at) AS reference
        FROM found f JOIN cases c USING (case_id)
        ORDER BY f.outcome DESC, f.case_id""", p))
    removed = [c for c in cases if c["platform_said"] == "removed"]
    rejected = [c for c in cases if c["platform_said"] == "no_violation"]
    listed = [c for c in cases if c["found_at"] is not None]
    count = sum(1 for c in removed if c["found_at"] is not None)
    later = sum(1 for c in rejected if c["found_at"] is not None)
    return {
        "removed_claims": len(removed), "still_online": count,
        "rate": count / len(removed) if removed else None,
        "no_violation_answers": len(rejected), "later_offline": later,
        "later_offline_rate": later / len(rejected) if rejected else None,
        "cases": listed,
    }


def still_online(con, p: dict) -> list[dict]:
    """Confirmed posts not verified offline at $end, by age since first seen."""
    rows = dict_rows(_run(con, f"""
        WITH state_at AS (
            SELECT case_id, arg_max(to_state, event_id) AS state FROM case_events
            WHERE occurred_at < $end GROUP BY case_id),
        confirmed AS (SELECT DISTINCT case_id FROM case_events
                      WHERE to_state = 'CONFIRMED' AND occurred_at < $end),
        last_check AS (SELECT case_id, arg_max(outcome, checked_at) AS outcome FROM rechecks
                       WHERE checked_at < $end GROUP BY case_id),
        online AS (
            SELECT DISTINCT c.platform, c.post_id, $end - p.first_seen_at AS age
            FROM cases c JOIN confirmed USING (case_id) JOIN state_at s USING (case_id)
            JOIN posts p USING (platform, post_id) LEFT JOIN last_check l USING (case_id)
            WHERE s.state NOT IN ('OFFLINE_VERIFIED', 'CLOSED', 'DISMISSED')
              AND coalesce(l.outcome, 'online') IN ('online', 'error'))
        SELECT CASE WHEN age < INTERVAL 48 HOUR THEN '{AGE_BUCKETS[0]}'
                    WHEN age < INTERVAL 7 DAY THEN '{AGE_BUCKETS[1]}'
                    WHEN age < INTERVAL 30 DAY THEN '{AGE_BUCKETS[2]}'
                    ELSE '{AGE_BUCKETS[3]}' END AS age, count(*) AS posts
        FROM online GROUP BY ALL""", p))
    counts = {r["age"]: r["posts"] for r in rows}
    return [{"age": a, "posts": counts.get(a, 0)} for a in AGE_BUCKETS]


def resurfacing(con, p: dict) -> dict:
    """Banned tags seen again (any spelling) on posts first seen in the period."""
    tags = dict_rows(_run(con, f"""
        WITH hits AS (
            SELECT DISTINCT watched AS tag, spelling, method, platform, post_id, flagged
            FROM {PERIOD_TAGS} WHERE status = 'banned')
        SELECT h.tag, count(DISTINCT (h.platform, h.post_id)) AS posts,
               count(DISTINCT (h.platform, h.post_id)) FILTER (h.flagged) AS flagged,
               count(DISTINCT h.spelling) FILTER (h.spelling <> h.tag) AS variant_spellings,
               string_agg(DISTINCT h.platform, ', ' ORDER BY h.platform) AS platforms,
               string_agg(DISTINCT h.method, ', ' ORDER BY h.method)
                   FILTER (h.spelling <> h.tag) AS matched_by
        FROM hits h
        GROUP BY h.tag ORDER BY posts DESC, h.tag""", p))
    cases = _run(con,
        "SELECT count(DISTINCT case_id) FROM case_events WHERE to_state = 'RESURFACED' "
        "AND occurred_at >= $start AND occurred_at < $end", p).fetchall()[0][0]
    return {"tags": tags, "removed_posts_back": cases}


def models(con, p: dict) -> dict:
    """Per model version: its flags in the period and how often reviewers overturned them."""
    rows = dict_rows(_run(con, f"""
        SELECT model_version, count(*) AS flagged,
               count(*) FILTER (decision IS NOT NULL) AS reviewed,
               count(*) FILTER (decision = 'DISMISSED') AS overturned,
               count(*) FILTER (decision = 'DISMISSED')::DOUBLE
                   / nullif(count(*) FILTER (decision IS NOT NULL), 0) AS overturn_rate
        FROM {PERIOD} WHERE flagged GROUP BY model_version ORDER BY model_version""", p))
    newest = _run(con, "SELECT arg_max(model_version, scored_at) FROM scores WHERE scored_at < $end",
                         p).fetchall()[0][0]
    labels = _run(con, "SELECT count(*) FROM labels WHERE source = 'review' AND added_at >= $start "
                         "AND added_at < $end AND (withdrawn_at IS NULL OR withdrawn_at >= $end)",
                  p).fetchall()[0][0]
    return {"current": newest, "by_version": rows, "labels_from_review": labels}


# Restrictions that count as a takedown (review.dsa.RESTRICTIONS but NO_ACTION); kept here
# as plain data: the warehouse floor does not import review.
RESTRICTING = ("DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED",
               "DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED",
               "DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
               "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
               "DECISION_VISIBILITY_CONTENT_LABELLED", "DECISION_VISIBILITY_OTHER")


def platform_decisions(con, p: dict) -> list[dict]:
    """Per platform: of the cases first reported in the period, how many were removed within
    48 h and how many the platform took down or restricted by the end (the takedown rate);
    the median hours from the first report to verified offline (spans ending in the period);
    the mismatch rate of its "removed" answers in the period; and what its answers in the
    period stated in the DSA fields (ground, automated decision)."""
    restricting = ", ".join(f"'{r}'" for r in RESTRICTING)
    return dict_rows(_run(con, f"""
        WITH first_report AS (SELECT case_id, min(sent_at) AS sent_at FROM {REPORTS} reports GROUP BY case_id),
        answers AS (SELECT * FROM platform_answers WHERE answered_at < $end),
        cohort AS (
            SELECT c.platform, r.case_id, r.sent_at,
                   (SELECT arg_min(a.outcome, a.answered_at) FROM answers a WHERE a.case_id = r.case_id
                      AND a.outcome <> 'other' AND a.answered_at <= r.sent_at + INTERVAL 48 HOUR)
                      AS decisive_48h,
                   EXISTS (SELECT 1 FROM answers a WHERE a.case_id = r.case_id
                      AND (a.outcome = 'removed' OR a.restriction IN ({restricting})))
                   OR EXISTS (SELECT 1 FROM rechecks k WHERE k.case_id = r.case_id
                      AND k.outcome = 'removed_by_platform' AND k.checked_at < $end) AS taken_down
            FROM first_report r JOIN cases c USING (case_id)
            WHERE r.sent_at >= $start AND r.sent_at < $end),
        offline AS (
            SELECT c.platform, min(e.occurred_at) AS offline_at, epoch(min(e.occurred_at) - any_value(r.sent_at)) AS s
            FROM first_report r JOIN case_events e USING (case_id) JOIN cases c USING (case_id)
            WHERE e.to_state = 'OFFLINE_VERIFIED' AND e.occurred_at >= r.sent_at GROUP BY c.platform, r.case_id),
        claims AS (
            SELECT c.platform, a.case_id, min(a.answered_at) AS claimed_at FROM answers a JOIN cases c USING (case_id)
            WHERE a.outcome = 'removed' AND a.answered_at >= $start GROUP BY ALL),
        found AS (
            SELECT cl.platform, cl.case_id, EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = cl.case_id
                AND e.to_state = 'MISMATCH' AND e.occurred_at >= cl.claimed_at AND e.occurred_at < $end) AS online
            FROM claims cl),
        stated AS (
            SELECT c.platform, a.* FROM answers a JOIN cases c USING (case_id) WHERE a.answered_at >= $start),
        platforms AS (SELECT platform FROM cohort UNION SELECT platform FROM offline WHERE offline_at >= $start
                      AND offline_at < $end UNION SELECT platform FROM claims UNION SELECT platform FROM stated)
        SELECT pl.platform,
               (SELECT count(*) FROM cohort k WHERE k.platform = pl.platform) AS reported,
               (SELECT count(*) FILTER (decisive_48h = 'removed') FROM cohort k
                 WHERE k.platform = pl.platform) AS removed_48h,
               (SELECT count(*) FILTER (taken_down) FROM cohort k WHERE k.platform = pl.platform) AS taken_down,
               (SELECT count(*) FILTER (taken_down)::DOUBLE / nullif(count(*), 0) FROM cohort k
                 WHERE k.platform = pl.platform) AS takedown_rate,
               (SELECT median(s) / 3600 FROM offline o WHERE o.platform = pl.platform AND o.offline_at >= $start
                 AND o.offline_at < $end) AS median_hours_offline,
               (SELECT count(*) FROM claims cl WHERE cl.platform = pl.platform) AS removed_claims,
               (SELECT count(*) FILTER (online)::DOUBLE / nullif(count(*), 0) FROM found f
                 WHERE f.platform = pl.platform) AS mismatch_rate,
               (SELECT count(*) FILTER (decision_ground = 'DECISION_GROUND_ILLEGAL_CONTENT') FROM stated t
                 WHERE t.platform = pl.platform) AS ground_illegal,
               (SELECT count(*) FILTER (decision_ground = 'DECISION_GROUND_INCOMPATIBLE_CONTENT')
                 FROM stated t WHERE t.platform = pl.platform) AS ground_terms,
               (SELECT count(*) FILTER (automated_decision IN ('AUTOMATED_DECISION_FULLY',
                 'AUTOMATED_DECISION_PARTIALLY')) FROM stated t WHERE t.platform = pl.platform)
                 AS automated_decisions
        FROM platforms pl ORDER BY reported DESC, pl.platform""", p))


# A school's case waits on a platform in these states (review.states.WAITING_ON_PLATFORM).
_WAITING = ("REPORTED", "NO_RESPONSE", "ESCALATED", "MISMATCH", "RESURFACED")


def schools(con, p: dict) -> dict:
    """Reports received from schools, time from a school's report to verified removal, and
    how many schools wait on a platform at the end of the period."""
    received = dict_rows(_run(con, """
        SELECT count(*) AS submissions, count(DISTINCT school) AS schools,
               count(DISTINCT case_id) AS cases, count(*) FILTER (case_id IS NULL) AS not_fetched
        FROM intake_submissions WHERE submitted_at >= $start AND submitted_at < $end""", p))[0]
    removal = dict_rows(_run(con, """
        WITH asked AS (SELECT case_id, school, min(submitted_at) AS asked_at FROM intake_submissions
                       WHERE case_id IS NOT NULL AND submitted_at < $end GROUP BY ALL),
        removed AS (SELECT a.case_id, a.school, min(e.occurred_at) AS removed_at, min(e.occurred_at) - any_value(a.asked_at) AS d
                    FROM asked a JOIN case_events e USING (case_id)
                    WHERE e.to_state = 'OFFLINE_VERIFIED' AND e.occurred_at >= a.asked_at AND e.occurred_at < $end
                    GROUP BY a.case_id, a.school)
        SELECT count(*) AS reports, median(epoch(d)) / 3600 AS median_hours,
               quantile_cont(epoch(d), 0.9) / 3600 AS p90_hours
        FROM removed WHERE removed_at >= $start""", p))[0]
    waiting = _run(con, f"""
        WITH state_at_end AS (SELECT case_id, arg_max(to_state, event_id) AS state FROM case_events
                              WHERE occurred_at < $end GROUP BY case_id)
        SELECT count(DISTINCT i.school) FROM intake_submissions i JOIN state_at_end s USING (case_id)
        WHERE i.submitted_at < $end AND s.state IN ({', '.join(repr(x) for x in _WAITING)})""", p).fetchall()[0][0]
    return {**received, "verified_removed": removal["reports"], "median_hours": removal["median_hours"],
            "p90_hours": removal["p90_hours"], "schools_waiting": waiting}
