"""The numbers the education team asks for, from the case history (one query each)."""
from __future__ import annotations

from datetime import datetime

from review import states as st
from warehouse.queries import dict_rows

# Cases that a reviewer confirmed (or dismissed) at some point, whatever happened after,
# unless that decision was undone (review.decisions).
_LIVE = "event_id NOT IN (SELECT event_id FROM undone_events)"
_CONFIRMED = f"SELECT DISTINCT case_id FROM case_events WHERE to_state = 'CONFIRMED' AND {_LIVE}"
_DISMISSED = f"SELECT DISTINCT case_id FROM case_events WHERE to_state = 'DISMISSED' AND {_LIVE}"


def dashboard(con, now: datetime) -> dict:
    return {
        "by_platform": dict_rows(con.execute(f"""
            SELECT c.platform, count(*) AS flagged,
                   count(*) FILTER (WHERE c.case_id IN ({_CONFIRMED})) AS confirmed,
                   count(*) FILTER (WHERE c.case_id IN ({_DISMISSED})) AS dismissed
            FROM cases c GROUP BY c.platform ORDER BY c.platform""")),
        # Spellings grouped under the watched tag they match (as the report does), via the
        # radar's tag_matches; a tag that matches nothing stays as it is.
        "by_hashtag": dict_rows(con.execute(f"""
            SELECT tag, count(*) AS flagged,
                   count(*) FILTER (WHERE case_id IN ({_CONFIRMED})) AS confirmed,
                   count(*) FILTER (WHERE case_id IN ({_DISMISSED})) AS dismissed
            FROM (SELECT DISTINCT c.case_id, coalesce(m.matched_tag, t.tag) AS tag
                  FROM cases c JOIN posts p USING (platform, post_id), unnest(p.hashtags) AS t(tag)
                  LEFT JOIN tag_matches m ON m.tag = t.tag)
            GROUP BY tag ORDER BY flagged DESC, tag LIMIT 30""")),
        "durations": _durations(con),
        "outcomes": dict_rows(con.execute("""
            SELECT outcome, count(DISTINCT case_id) AS cases FROM platform_answers GROUP BY outcome
            UNION ALL
            SELECT 'no response at 48 h', count(DISTINCT case_id) FROM case_events WHERE to_state = 'NO_RESPONSE'
            ORDER BY outcome""")),
        "mismatch": dict_rows(con.execute("""
            SELECT count(DISTINCT a.case_id) AS removed_claims,
                   count(DISTINCT m.case_id) AS still_online,
                   round(100.0 * count(DISTINCT m.case_id) / nullif(count(DISTINCT a.case_id), 0), 1) AS rate_pct
            FROM platform_answers a
            LEFT JOIN (SELECT case_id FROM case_events WHERE to_state = 'MISMATCH') m USING (case_id)
            WHERE a.outcome = 'removed'"""))[0],
        "still_online": dict_rows(con.execute(f"""
            SELECT CASE WHEN age < INTERVAL 1 DAY THEN 'under a day'
                        WHEN age < INTERVAL 7 DAY THEN '1 to 7 days'
                        WHEN age < INTERVAL 30 DAY THEN '7 to 30 days'
                        ELSE 'over 30 days' END AS age, count(*) AS cases,
                   min(age) AS youngest
            FROM (SELECT c.case_id, ? - p.first_seen_at AS age
                  FROM cases c JOIN case_state s USING (case_id) JOIN posts p USING (platform, post_id)
                  WHERE c.case_id IN ({_CONFIRMED})
                    AND s.state NOT IN ('{st.OFFLINE_VERIFIED}', '{st.CLOSED}'))
            GROUP BY 1 ORDER BY youngest""", [now])),
        "labels_from_review": con.execute(
            "SELECT count(*) FROM labels WHERE source = 'review' AND withdrawn_at IS NULL").fetchone()[0],
    }


def _durations(con) -> list[dict]:
    """Median and p90 hours: first seen -> reported, reported -> answer, reported -> offline."""
    return dict_rows(con.execute("""
        WITH first_report AS (SELECT case_id, min(sent_at) AS at FROM reports WHERE withdrawn_at IS NULL
                              GROUP BY case_id),
        spans AS (
            SELECT 'first seen -> reported' AS span, r.at - p.first_seen_at AS d
            FROM first_report r JOIN cases c USING (case_id) JOIN posts p USING (platform, post_id)
            UNION ALL
            SELECT 'reported -> platform answer', min(a.answered_at) - min(r.at)
            FROM first_report r JOIN platform_answers a USING (case_id) GROUP BY r.case_id
            UNION ALL
            SELECT 'reported -> verified offline', min(e.occurred_at) - min(r.at)
            FROM first_report r JOIN case_events e USING (case_id)
            WHERE e.to_state = 'OFFLINE_VERIFIED' GROUP BY r.case_id)
        SELECT span, count(*) AS cases,
               round(median(epoch(d)) / 3600, 1) AS median_hours,
               round(quantile_cont(epoch(d), 0.9) / 3600, 1) AS p90_hours
        FROM spans GROUP BY span ORDER BY span"""))
