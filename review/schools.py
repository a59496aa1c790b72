"""School intake: a school contact submits post URLs; each URL opens a case or joins the
case its post already has (one post reported by ten schools is one case with ten
requesters); the post is fetched, loaded, scored and its evidence frozen at once.

Safety of the fetch: a URL is fetched only when its host (host or host:port) is one of
the platform hosts in configuration (TAGWATCH_INTAKE_HOSTS) and it is the address of
one post on a registered platform (collectors.platforms), and redirects are not
followed. A Mastodon post is asked of the instance its address names (which must answer
for its own post); a Bluesky (bsky.app) or TikTok (www.tiktok.com) post of that
platform's configured API, with the collection's credentials (the options the
application passes). Any other URL (another host, an internal, private, loopback or link-local
address, the cloud metadata address 169.254.169.254) is recorded with a note and never
fetched: no DNS lookup, no connection.

Schools see their own submissions only, with the state of each case in plain words
(review.states.PLAIN_WORDS). Digests: review.schools.send_digests, at most one email per
school per UTC day, through the same SMTP connection as the education report.
"""
from __future__ import annotations

import html
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Protocol
from urllib.parse import urlsplit

from collectors import platforms
from collectors.base import CollectOptions
from collectors.http import PoliteClient, SourceError, internal_host, plain
from collectors.platforms import PostAddress
from collectors.staging import StagingWriter, new_run_id, safe_run_id
from review import cases as cs
from review import incidents
from review import states as st
from review import users
from warehouse import queries
from warehouse import queue_keys
from warehouse.db import session, transaction
from warehouse.loader import load_manifests
from warehouse.queries import dict_rows

AFFECTED_ROLES = ("teacher", "head", "support_staff", "other")
# The evidence table records the target as one of review.cases.TARGET_ROLES.
_TARGET_ROLE = {"teacher": "teacher", "head": "head_teacher", "support_staff": "support_staff",
                "other": "other"}
MAX_URLS = 10
MAX_URL = 2048
MAX_DESCRIPTION = 1000
SCHOOL_REPORT_TAG = "school-report"  # the collection_runs "tag" of posts fetched by the intake


class IntakeSettings(Protocol):
    """What intake needs from its caller (the application's settings have it)."""

    db_path: Path
    staging_dir: Path
    user_agent: str
    http_backoff: float
    http_retries: int
    intake_hosts: tuple[str, ...]
    intake_hourly_limit: int

    @property
    def pseudonym_key(self) -> bytes: ...

    def http_client(self, **options) -> PoliteClient: ...


class IntakeError(cs.CaseError):
    """A submission that cannot be accepted; the message says why (nothing was recorded)."""


def reference(submission_id: int) -> str:
    return f"TW-{int(submission_id):06d}"


def parse_reference(text: str) -> int | None:
    text = (text or "").strip().upper()
    if text.startswith("TW-") and text[3:].isdigit():
        return int(text[3:])
    return None


# --- which URLs may be fetched ------------------------------------------------------------

def check_url(url: str, allowed_hosts) -> tuple[PostAddress | None, str | None]:
    """(the post's address, None) when the URL may be fetched, else (None, a note for the school).

    Decided from the text of the URL alone: nothing is resolved or contacted here. Its
    host must be one the operator allowed (TAGWATCH_INTAKE_HOSTS), and it must be the
    address of one post on a registered platform (collectors.platforms).
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, "not a valid web address: recorded, not fetched"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, "not a web address (http or https): recorded, not fetched"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None, "a web address with a user name in it: recorded, not fetched"
    host = parts.hostname.lower()
    hostport = host if port is None else f"{host}:{port}"
    allowed = {h.lower() for h in allowed_hosts or ()}
    if hostport not in allowed:
        if internal_host(host):
            return None, ("an internal or private network address: recorded for an analyst, "
                          "never fetched")
        return None, (f"{host} is not a platform tagwatch fetches from: recorded for an analyst "
                      "to look at, not fetched")
    try:
        return platforms.address_of(url), None
    except platforms.UnknownPlatform:
        return None, (f"not the address of a single post on {host} (expected "
                      f"https://{host}/@USER/NUMBER): recorded, not fetched")
    except ValueError as exc:
        return None, f"{exc}: recorded, not fetched"


# --- submitting ---------------------------------------------------------------------------

def split_urls(text: str) -> list[str]:
    """One submission a line (spaces inside a line do not split it: "not a url" is one
    line, recorded as one reference), blank lines and duplicates dropped, order kept."""
    seen: list[str] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line)
    return seen


def not_web_addresses(lines: list[str]) -> list[str]:
    """The lines that are not http(s) addresses at all (to tell the school which they were)."""
    def is_web_address(line: str) -> bool:
        try:
            parts = urlsplit(line)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in line
    return [line for line in lines if not is_web_address(line)]


def check_submission(con, user: str, urls: list[str], description: str, affected_role: str,
                     hourly_limit: int, now: datetime) -> tuple[int, str]:
    """Refuse what the form does not allow; returns the contact's (school id, school name)."""
    school_id = users.school_id_of(con, user)
    if users.role_of(con, user) != "school" or school_id is None:
        raise IntakeError("only school contacts submit reports here")
    if not urls:
        raise IntakeError("give at least one post address")
    if len(urls) > MAX_URLS:
        raise IntakeError(f"at most {MAX_URLS} addresses at a time")
    long = [u for u in urls if len(u) > MAX_URL]
    if long:
        raise IntakeError(f"an address is longer than {MAX_URL} characters")
    if len(description or "") > MAX_DESCRIPTION:
        raise IntakeError(f"the description is longer than {MAX_DESCRIPTION} characters")
    if affected_role not in AFFECTED_ROLES:
        raise IntakeError(f"who is affected must be one of {', '.join(AFFECTED_ROLES)}")
    recent = con.execute("SELECT count(*) FROM intake_submissions WHERE submitted_by = ? "
                         "AND submitted_at > ?", [user, now - timedelta(hours=1)]).fetchone()[0]
    if recent + len(urls) > hourly_limit:
        raise IntakeError(f"at most {hourly_limit} addresses an hour from one account; "
                          f"{max(hourly_limit - recent, 0)} more can be sent now. Try again later "
                          "or call the union's team.")
    return school_id, users.school_of(con, user)


# Counting a contact's last hour and recording the new submissions is one step: parallel
# submissions (threads of the web app) take turns here, so the hourly limit holds. Other
# processes cannot interleave: DuckDB lets one process at a time open the file to write.
_RESERVING = threading.Lock()
BEING_FETCHED = "received; being fetched"


def _reserve(settings: IntakeSettings, user: str, urls: list[str], description: str, affected_role: str,
             now: datetime) -> list[int]:
    """Check the submission and record one row per URL (not fetched yet); their ids."""
    with _RESERVING, session(settings.db_path) as con, transaction(con):
        school_id, school = check_submission(con, user, urls, description, affected_role,
                                             settings.intake_hourly_limit, now)
        return [con.execute(
            "INSERT INTO intake_submissions (submitted_by, school, school_id, url, description, "
            "affected_role, submitted_at, case_id, outcome, fetch_note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'not_fetched', ?) RETURNING submission_id",
            [user, school, school_id, url, description or None, affected_role, now, BEING_FETCHED]
        ).fetchone()[0] for url in urls]


def _fetch_all(settings: IntakeSettings, urls: list[str], now: datetime, client: PoliteClient | None,
               options: CollectOptions) -> tuple[dict[str, dict], dict[str, str]]:
    """Fetch the URLs on configured hosts (no warehouse connection open: the loader shares
    the file); returns ({url: staging post}, {url: why it was not fetched})."""
    with session(settings.db_path) as con:
        configured = [(s["platform"], s["base_url"]) for s in queries.sources(con)]
    fetched: dict[str, dict] = {}
    notes: dict[str, str] = {}
    own = client is None
    client = client or intake_client(settings, configured)
    try:
        for url in urls:
            address, note = check_url(url, settings.intake_hosts)
            if address is None:
                notes[url] = note
                continue
            try:
                fetched[url] = _own_post(platforms.fetch_post(
                    client, address, configured, settings.pseudonym_key, now.isoformat(), options), address)
            except SourceError as exc:
                notes[url] = ("the post could not be found (already deleted, or not public): recorded "
                              "for an analyst" if exc.status in (404, 410) else
                              "the platform could not be reached or did not answer for this post: "
                              "recorded for an analyst")
            except ValueError as exc:  # a missing credential, an id that cannot be asked for
                notes[url] = f"the platform could not be asked ({plain(str(exc))}): recorded for an analyst"
    finally:
        if own:
            client.close()
    return fetched, notes


def _own_post(post: dict, address: PostAddress) -> dict:
    """A server the address names (a Mastodon instance) answers only for its own posts: the
    post's id (its ActivityPub URI) must be on the host asked, so a host cannot pass another
    server's post (and join a school to its case). An API answers by exact id: nothing to check."""
    if address.source:
        own = (urlsplit(address.source).hostname or "").lower()
        uri = str(post.get("post_id") or "")
        if not uri.startswith(("http://", "https://")) or (urlsplit(uri).hostname or "").lower() != own:
            raise SourceError(f"{address.source} answered with a post from another server: not accepted")
    return post


def submit(settings: IntakeSettings, user: str, urls: list[str], description: str, affected_role: str,
           now: datetime | None = None, client: PoliteClient | None = None,
           score: Callable[[], object] | None = None,
           options: CollectOptions | None = None) -> list[dict]:
    """Record every URL (fetching only those on configured platform hosts); returns one
    {reference, url, outcome, note, case_id} per URL. `score()` scores what was loaded before
    the evidence is frozen (the application passes its scorer; None leaves it to the next run);
    `options` carry the platforms' credentials and state, as for collection."""
    now = now or cs.utcnow()
    description = (description or "").strip()
    urls = [u.strip() for u in urls if u.strip()]
    submission_ids = _reserve(settings, user, urls, description, affected_role, now)
    fetched, notes = _fetch_all(settings, urls, now, client, options or CollectOptions())
    manifests = _stage(settings, fetched)
    results = []
    with session(settings.db_path) as con:
        if manifests:
            load_manifests(con, manifests)
        with transaction(con):
            for url, submission_id in zip(urls, submission_ids):
                post = fetched.get(url)
                case_id, outcome = (None, "not_fetched") if post is None else \
                    _open_or_join(con, post["platform"], post["post_id"], user, now)
                con.execute("UPDATE intake_submissions SET case_id = ?, outcome = ?, fetch_note = ? "
                            "WHERE submission_id = ?", [case_id, outcome, notes.get(url), submission_id])
                results.append({"reference": reference(submission_id), "url": url, "outcome": outcome,
                                "note": notes.get(url), "case_id": case_id})
            queue_keys.fill(con)
            incidents.assign(con, now)
    if fetched:
        if score is not None:
            score()
        with session(settings.db_path) as con, transaction(con):
            for r in results:
                if r["case_id"] is not None:
                    _freeze(con, r["case_id"], affected_role, user, now)
    return results


# A school waits on the page for these fetches: every size and wait is bounded.
INTAKE_MAX_BODY = 1024 * 1024     # a status is a few KB; a 60 MB answer is refused unread
INTAKE_MAX_WAIT = 5.0             # seconds of Retry-After / back-off per URL, at most


def intake_client(settings: IntakeSettings, configured: list[tuple[str, str]] = ()) -> PoliteClient:
    """The client intake fetches with: bounded sizes and waits, configured hosts only."""
    return PoliteClient(settings.user_agent, connect_timeout=5.0, read_timeout=15.0,
                        backoff_base=settings.http_backoff, max_retries=min(settings.http_retries, 2),
                        max_retry_after=INTAKE_MAX_WAIT, max_total_wait=INTAKE_MAX_WAIT,
                        max_body=INTAKE_MAX_BODY, max_redirects=0,
                        configured=(*settings.intake_hosts, *(url for _, url in configured)))


def _stage(settings: IntakeSettings, fetched: dict[str, dict]) -> list:
    if not fetched:
        return []
    run_id = safe_run_id(new_run_id())
    by_source: dict[tuple[str, str], list[dict]] = {}
    for post in fetched.values():
        by_source.setdefault((post["platform"], post["source"]), []).append(post)
    manifests = []
    for (platform, source), posts in by_source.items():
        with StagingWriter(settings.staging_dir, run_id, platform, source, SCHOOL_REPORT_TAG,
                           asked={"urls": len(posts)}) as writer:
            writer.write_posts(posts)
            manifests.append(writer.close("ok"))
    return manifests


def _open_or_join(con, platform: str, post_id: str, user: str, now: datetime) -> tuple[int, str]:
    existing = con.execute("SELECT case_id FROM cases WHERE platform = ? AND post_id = ? "
                           "ORDER BY case_id LIMIT 1", [platform, post_id]).fetchone()
    if existing:
        return existing[0], "joined"
    case_id = con.execute(
        "INSERT INTO cases (platform, post_id, origin, opened_at, opened_by) "
        "VALUES (?, ?, 'school_report', ?, ?) RETURNING case_id",
        [platform, post_id, now, user]).fetchone()[0]
    con.execute(
        "INSERT INTO case_events (case_id, from_state, to_state, actor, occurred_at, automated, note) "
        "VALUES (?, NULL, ?, ?, ?, TRUE, 'reported by a school')", [case_id, st.DETECTED, cs.AUTOMATION, now])
    return case_id, "opened"


def _freeze(con, case_id: int, affected_role: str, user: str, now: datetime) -> None:
    info = cs.show(con, case_id)
    if info["evidence"] is not None or info["post"] is None:
        return
    category = cs.strongest_category(info["score"]) or "other"
    cs.freeze_evidence(con, case_id, info["post"], info["score"], category,
                        _TARGET_ROLE[affected_role], None, user, now)


# --- what a school sees -------------------------------------------------------------------

def my_reports(con, school_id: int) -> list[dict]:
    """The school's submissions (by the school's id), newest first, each with its case's state in plain words
    and the plain-words history (dates only: no notes, no other school's details)."""
    rows = dict_rows(con.execute(
        """
        SELECT i.submission_id, i.url, i.description, i.affected_role, i.submitted_at, i.case_id,
               i.outcome, i.fetch_note, s.state, s.state_since,
               (SELECT arg_max(a.outcome, a.answer_id) FROM platform_answers a
                WHERE a.case_id = i.case_id) AS answer
        FROM intake_submissions i LEFT JOIN case_state s USING (case_id)
        WHERE i.school_id = ? ORDER BY i.submission_id DESC
        """, [school_id]))
    case_ids = sorted({r["case_id"] for r in rows if r["case_id"] is not None})
    events: dict[int, list[dict]] = {}
    if case_ids:
        for e in dict_rows(con.execute(
                f"SELECT e.case_id, e.to_state, e.occurred_at, "
                f"(SELECT arg_max(a.outcome, a.answer_id) FROM platform_answers a WHERE a.case_id = e.case_id "
                f" AND a.answered_at <= e.occurred_at) AS answer "
                f"FROM case_events e WHERE e.case_id IN ({', '.join('?' * len(case_ids))}) "
                f"ORDER BY e.event_id", case_ids)):
            events.setdefault(e["case_id"], []).append(e)
    for r in rows:
        r["reference"] = reference(r["submission_id"])
        if r["case_id"] is None:
            r["plain_state"] = "received (not fetched)"
            r["history"] = [{"when": r["submitted_at"], "words": "received"}]
            continue
        r["plain_state"] = st.plain_words(r["state"], r["answer"])
        history = [{"when": r["submitted_at"], "words": "received"}]
        for e in events.get(r["case_id"], []):
            if e["occurred_at"] < r["submitted_at"]:
                continue  # before this school reported it: the school's story starts at its report
            words = st.plain_words(e["to_state"], e["answer"])
            if words != history[-1]["words"]:
                history.append({"when": e["occurred_at"], "words": words})
        r["history"] = history
    return rows


def requesters(con, case_ids: list[int]) -> dict[int, int]:
    """How many schools asked about each case."""
    if not case_ids:
        return {}
    return dict(con.execute(
        f"SELECT case_id, count(*) FROM case_requesters WHERE case_id IN ({', '.join('?' * len(case_ids))}) "
        "GROUP BY case_id", [int(i) for i in case_ids]).fetchall())


def unfetched(con, limit: int = 500) -> list[dict]:
    """Submissions that were recorded without a post (for analysts)."""
    rows = dict_rows(con.execute(
        "SELECT submission_id, school, submitted_by, url, description, affected_role, submitted_at, fetch_note "
        "FROM intake_submissions WHERE case_id IS NULL ORDER BY submission_id DESC LIMIT ?", [int(limit)]))
    for r in rows:
        r["reference"] = reference(r["submission_id"])
    return rows


# --- digests ------------------------------------------------------------------------------

def pending_digests(con, now: datetime) -> list[dict]:
    """Per school with no digest yet today (UTC): the state changes of its cases since its
    last digest (after the school reported each case), and its contacts' addresses."""
    today = now.astimezone(timezone.utc).date()
    rows = dict_rows(con.execute(
        """
        WITH last AS (SELECT school_id, max(last_event_id) AS last_event_id, max(sent_on) AS last_sent_on
                      FROM school_digests GROUP BY school_id)
        SELECT r.school_id, r.school, e.event_id, e.case_id, e.to_state, e.occurred_at,
               (SELECT arg_max(a.outcome, a.answer_id) FROM platform_answers a WHERE a.case_id = e.case_id
                AND a.answered_at <= e.occurred_at) AS answer,
               (SELECT list(i.submission_id ORDER BY i.submission_id) FROM intake_submissions i
                WHERE i.case_id = e.case_id AND i.school_id = r.school_id) AS submissions,
               (SELECT min(i.url) FROM intake_submissions i
                WHERE i.case_id = e.case_id AND i.school_id = r.school_id) AS url
        FROM case_events e JOIN case_requesters r USING (case_id) LEFT JOIN last l USING (school_id)
        WHERE e.from_state IS NOT NULL AND e.occurred_at >= r.first_reported_at AND e.occurred_at <= ?
          AND e.event_id > coalesce(l.last_event_id, 0)
          AND (l.last_sent_on IS NULL OR l.last_sent_on < ?)
        ORDER BY r.school_id, e.event_id
        """, [now, today]))
    emails = {}
    for school_id, email in con.execute("SELECT school_id, email FROM users WHERE role = 'school' "
                                        "AND email IS NOT NULL ORDER BY email").fetchall():
        emails.setdefault(school_id, []).append(email)
    digests: dict[int, dict] = {}
    for r in rows:
        d = digests.setdefault(r["school_id"], {"school": r["school"], "school_id": r["school_id"],
                                                "to": emails.get(r["school_id"], []),
                                                "changes": [], "last_event_id": 0})
        d["changes"].append({"references": [reference(i) for i in r["submissions"]], "url": r["url"],
                             "words": st.plain_words(r["to_state"], r["answer"]), "when": r["occurred_at"]})
        d["last_event_id"] = max(d["last_event_id"], r["event_id"])
    return list(digests.values())


def digest_message(d: dict) -> tuple[str, str]:
    """(subject, HTML body) of one school's digest; everything escaped."""
    n = len(d["changes"])
    subject = f"tagwatch: {n} update{'s' if n != 1 else ''} on reports from {d['school']}"
    items = "".join(
        f"<li>{html.escape(', '.join(c['references']))} ({html.escape(c['url'] or '')}): "
        f"<strong>{html.escape(c['words'])}</strong> on {c['when']:%Y-%m-%d %H:%M} UTC</li>"
        for c in d["changes"])
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(subject)}</title></head>"
            f"<body><p>What has happened to the posts {html.escape(d['school'])} reported:</p><ul>{items}</ul>"
            "<p>Log in to the tagwatch portal and open “My reports” for the full history.</p>"
            "<p>At most one of these emails is sent a day.</p></body></html>")
    return subject, body


def send_digests(db_path, now: datetime | None = None, sender: str | None = None, send=None) -> list[dict]:
    """Send each school's pending digest (one email per school, at most one a day) and record
    it; returns {school, to, changes, sent|skipped}. The network is used with no warehouse
    connection open."""
    from reports import send as rs

    now = now or cs.utcnow()
    send = send or rs.send_message
    with session(db_path) as con:
        pending = pending_digests(con, now)
    done = []
    for d in pending:
        if not d["to"]:
            done.append({"school": d["school"], "to": [], "changes": len(d["changes"]),
                         "skipped": "no email address for this school's contacts"})
            continue
        subject, body = digest_message(d)
        send(d["to"], subject, body, sender)
        with session(db_path) as con:
            con.execute("INSERT INTO school_digests (school, school_id, sent_on, sent_at, recipients, "
                        "last_event_id, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [d["school"], d["school_id"], now.astimezone(timezone.utc).date(), now, d["to"], d["last_event_id"],
                         len(d["changes"])])
        done.append({"school": d["school"], "to": d["to"], "changes": len(d["changes"]), "sent": subject})
    return done
