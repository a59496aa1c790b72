"""Bluesky collector: posts under one hashtag from app.bsky.feed.searchPosts -> staging.

* Search is `q=#tag`, `sort=latest` (the `tag` parameter does not filter in
  practice); search is loose, so each post's tag facets (and record tags and
  text hashtags) are checked and posts that do not carry the tag are dropped
  (counted in the manifest's `extra.not_tagged`).
* Incremental: `since` = the watermark (the newest post time loaded) minus
  OVERLAP, so posts indexed late are caught; repeats are dropped by URI here and
  by the loader. `--since DATE` backfills from that date.
* Cursor pagination. The service answers at most about 10,000 results per query
  and then stops giving a cursor: when a query ends after that many results while
  older posts may remain, the cap is recorded (`cap_hit`) and the walk continues
  with `until` = the oldest post seen, so nothing is lost. If that makes no
  progress the collection ends "capped".
* One login per run: the session (com.atproto.server.createSession) is kept in
  a private state file and reused by every tag and task; an expired access token
  is refreshed (refreshSession), and only if that fails is there a new login.
* A failure part-way leaves a checkpoint (the time intervals still to walk, and
  the newest post seen); the next attempt continues there instead of starting over.

Credentials: TAGWATCH_BLUESKY_IDENTIFIER and TAGWATCH_BLUESKY_APP_PASSWORD.
"""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.base import (CollectOptions, author_fields, collecting, hashtag, iso_z, locked_state,
                             require, start_of_collection, state_file)
from collectors.http import PoliteClient, SourceError
from collectors.staging import Manifest, parse_time, utcnow

PLATFORM = "bluesky"
DEFAULT_BASE_URL = "https://bsky.social"
PAGE_LIMIT = 100                     # the API's maximum
RESULT_CAP = 10_000                  # about what the service serves per query
OVERLAP = timedelta(minutes=15)      # re-ask this much before the watermark
IDENTIFIER_VAR = "TAGWATCH_BLUESKY_IDENTIFIER"
PASSWORD_VAR = "TAGWATCH_BLUESKY_APP_PASSWORD"
_TAG_FEATURE = "app.bsky.richtext.facet#tag"
_HASHTAG_IN_TEXT = re.compile(r"(?<![\w/])#(\w*[^\W\d_]\w*)")
_STALE_TOKEN = ("ExpiredToken", "InvalidToken", "AuthenticationRequired")
_TICK = timedelta(milliseconds=1)

log = logging.getLogger(__name__)


def collect_tag(base_url: str, tag: str, *, staging_dir: Path | str, run_id: str,
                pseudonym_key: bytes, user_agent: str, watermark: str | None = None,
                since=None, checkpoint: dict | None = None, max_pages: int = 10_000,
                result_cap: int = RESULT_CAP, client: PoliteClient | None = None,
                options: CollectOptions | None = None) -> Manifest:
    """Collect the posts tagged `tag` from the Bluesky service at `base_url` into staging."""
    options = options or CollectOptions()
    identifier = require(options.credentials, IDENTIFIER_VAR, PLATFORM)
    password = require(options.credentials, PASSWORD_VAR, PLATFORM)
    source = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
    tag = hashtag(tag)
    start = start_of_collection(since, parse_time(watermark), options, OVERLAP)
    own_client = client is None
    client = client or PoliteClient(user_agent)
    client.configure(source)  # the operator's source; anything else it points to is checked
    asked = {"service": source, "q": f"#{tag}", "sort": "latest", "limit": PAGE_LIMIT,
             "since": iso_z(start), "max_pages": max_pages}
    with collecting(client, own_client, staging_dir, run_id, PLATFORM, source, tag, asked=asked,
                    watermark_before=watermark, resume=True) as run:
        writer = run.writer
        resume_from = writer.resumed_from or (checkpoint if since is None else None)
        walk = _Walk(client, writer, source, tag, pseudonym_key, options, max_pages, result_cap,
                     _Session(client, source, identifier, password, options, writer.manifest))
        walk.plan(start, resume_from, parse_time(writer.manifest.watermark_after))
        try:
            run.status = walk.run()
            run.error = None if run.status == "ok" else (
                f"stopped at max_pages={max_pages}" if walk.stopped_by_pages
                else f"the search cap (~{result_cap} results) left posts before "
                     f"{walk.intervals[0][1] if walk.intervals else '?'} out of reach")
        except SourceError as exc:
            run.status, run.error = "failed", str(exc)
            writer.manifest.checkpoint = walk.checkpoint()
    return writer.manifest


class _Session:
    """One Bluesky session shared by every collection (and process) for an account."""

    def __init__(self, client: PoliteClient, source: str, identifier: str, password: str,
                 options: CollectOptions, manifest: Manifest):
        self.client, self.source = client, source
        self.identifier, self.password = identifier, password
        self.manifest = manifest
        ident = hashlib.sha256(f"{source}\x00{identifier}".encode()).hexdigest()[:16]
        self.path = state_file(options, f"bluesky-session-{ident}.json")
        self.access: str | None = None

    def headers(self) -> dict[str, str]:
        if self.access is None:
            with locked_state(self.path) as state:
                if not state.get("accessJwt"):
                    state.update(self._login())
                self.access = state["accessJwt"]
        return {"Authorization": f"Bearer {self.access}"}

    def renew(self) -> None:
        """The access token was refused: refresh it (or log in again if that fails)."""
        stale = self.access
        with locked_state(self.path) as state:
            if state.get("accessJwt") and state["accessJwt"] != stale:
                self.access = state["accessJwt"]  # another task already renewed it
                return
            try:
                fresh = self._post("com.atproto.server.refreshSession",
                                   headers={"Authorization": f"Bearer {state.get('refreshJwt')}"}) \
                    if state.get("refreshJwt") else None
            except SourceError as exc:
                log.info("refreshing the Bluesky session failed (%s); logging in again", exc)
                fresh = None
            state.clear()
            state.update(_tokens(fresh) if fresh else self._login())
            self.access = state["accessJwt"]

    def _login(self) -> dict[str, str]:
        try:
            body = self._post("com.atproto.server.createSession",
                              json_body={"identifier": self.identifier, "password": self.password})
        except SourceError as exc:
            if exc.status in (400, 401):
                raise SourceError(f"Bluesky refused the login of {IDENTIFIER_VAR}="
                                  f"{self.identifier!r} (check {PASSWORD_VAR}): {exc}",
                                  status=exc.status) from exc
            raise
        return _tokens(body)

    def _post(self, method: str, **kwargs) -> Any:
        body, _ = self.client.request_json("POST", f"{self.source}/xrpc/{method}",
                                           before_attempt=self._count, **kwargs)
        return body

    def _count(self) -> None:
        self.manifest.requests += 1


def _tokens(body: Any) -> dict[str, str]:
    if not isinstance(body, dict) or not body.get("accessJwt"):
        raise SourceError("the Bluesky session answer carries no accessJwt")
    return {"accessJwt": body["accessJwt"], "refreshJwt": body.get("refreshJwt") or ""}


class _Walk:
    """The time intervals still to search, newest first, and how far the walk has got."""

    def __init__(self, client, writer, source, tag, key, options, max_pages, result_cap, session):
        self.client, self.writer, self.source, self.tag = client, writer, source, tag
        self.key, self.options, self.session = key, options, session
        self.max_pages, self.result_cap = max_pages, result_cap
        self.manifest: Manifest = writer.manifest
        self.intervals: list[tuple[datetime, datetime | None]] = []
        self.top: datetime | None = None       # newest post time seen
        self.stopped_by_pages = False

    def plan(self, start: datetime, resume_from: dict | None, top: datetime | None) -> None:
        self.top = top
        if resume_from and resume_from.get("intervals"):
            self.intervals = [(parse_time(a), parse_time(b)) for a, b in resume_from["intervals"]]
            self.top = _later(self.top, parse_time(resume_from.get("top")))
            if self.top is not None and all(until is not None for _, until in self.intervals):
                # and what was posted after the interrupted walk began
                self.intervals.insert(0, (self.top - OVERLAP, None))
            self.manifest.asked["resumed_from"] = resume_from
        else:
            self.intervals = [(start, None)]

    def checkpoint(self) -> dict:
        return {"intervals": [[iso_z(a), iso_z(b) if b else None] for a, b in self.intervals],
                "top": iso_z(self.top) if self.top else None}

    def run(self) -> str:
        while self.intervals:
            since, until = self.intervals[0]
            served, oldest = self._search(since, until)
            if served is None:
                return "capped"  # max_pages
            self.intervals.pop(0)
            if served >= self.result_cap * 0.9 and oldest is not None and oldest > since:
                self.manifest.cap_hit = True
                next_until = oldest + _TICK  # `until` is exclusive: keep posts at that instant
                if until is not None and next_until >= until:
                    self.intervals.insert(0, (since, until))
                    return "capped"
                log.warning("bluesky #%s: search cap after %d results; continuing before %s",
                            self.tag, served, iso_z(oldest))
                self.intervals.insert(0, (since, next_until))
        self.manifest.watermark_after = iso_z(self.top) if self.top else self.manifest.watermark_before
        return "ok"

    def _search(self, since: datetime, until: datetime | None) -> tuple[int | None, datetime | None]:
        """Walk one query through its cursors; (results served, oldest post time)."""
        params: dict[str, Any] = {"q": f"#{self.tag}", "sort": "latest", "limit": PAGE_LIMIT,
                                  "since": iso_z(since)}
        if until is not None:
            params["until"] = iso_z(until)
        served, oldest, seen_cursors = 0, None, set()
        while True:
            body = self._get(params)
            posts = body.get("posts")
            if not isinstance(posts, list):
                raise SourceError(f"searchPosts for #{self.tag} answered without a list of posts")
            self.manifest.pages += 1
            served += len(posts)
            times = [t for t in (post_time(p) for p in posts) if t is not None]
            if times:
                oldest = min(times) if oldest is None else min(oldest, min(times))
                self.top = _later(self.top, max(times))
                # From here on, a failure only has to redo what is older than this page.
                self.intervals[0] = (since, oldest + _TICK)
            tagged = [p for p in posts if self.tag in post_tags(p)]
            self.manifest.extra["not_tagged"] = (self.manifest.extra.get("not_tagged", 0)
                                                 + len(posts) - len(tagged))
            collected_at = utcnow().isoformat()
            self.writer.write_posts(post_to_staging(p, self.source, self.key, collected_at,
                                                    self.options.store_handles) for p in tagged)
            cursor = body.get("cursor")
            if not posts or not cursor or cursor in seen_cursors:
                return served, oldest
            seen_cursors.add(cursor)
            if self.manifest.pages >= self.max_pages:
                self.stopped_by_pages = True
                return None, oldest
            params["cursor"] = cursor

    def _get(self, params: dict) -> dict:
        return _xrpc_get(self.client, self.session, f"{self.source}/xrpc/app.bsky.feed.searchPosts",
                         params, before_attempt=self.session._count)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


def post_time(post: dict) -> datetime | None:
    """The time search sorts by: the earlier of createdAt and indexedAt."""
    record = post.get("record") or {}
    times = [t for t in (parse_time(record.get("createdAt")), parse_time(post.get("indexedAt")))
             if t is not None]
    return min(times) if times else None


def post_tags(post: dict) -> list[str]:
    """Lower-cased tags of a post: its #tag facets, its record tags, then '#tags' in its text."""
    record = post.get("record") or {}
    names = [feature.get("tag") or ""
             for facet in record.get("facets") or [] if isinstance(facet, dict)
             for feature in facet.get("features") or []
             if isinstance(feature, dict) and feature.get("$type") == _TAG_FEATURE]
    names += [t for t in record.get("tags") or [] if isinstance(t, str)]
    names += _HASHTAG_IN_TEXT.findall(record.get("text") or "")
    return list(dict.fromkeys(n.lstrip("#").lower() for n in names if n))


def post_to_staging(post: dict, source: str, key: bytes, collected_at: str,
                    store_handles: bool = False) -> dict[str, Any]:
    """A PostView as a staging post. The link uses the author's DID, not the handle."""
    record = post.get("record") or {}
    author = post.get("author") or {}
    uri = post["uri"]
    did, rkey = (uri[len("at://"):].split("/")[0], uri.rsplit("/", 1)[-1]) if uri.startswith("at://") \
        else (author.get("did"), None)
    langs = record.get("langs") or []
    return {
        "platform": PLATFORM,
        "post_id": uri,
        "url": f"https://bsky.app/profile/{did}/post/{rkey}" if did and rkey else None,
        "text": record.get("text") or "",
        "created_at": record.get("createdAt"),
        "hashtags": post_tags(post),
        **author_fields(key, PLATFORM, author.get("did") or did or "", author.get("handle"),
                        store_handles),
        "lang": langs[0] if langs else None,
        "reply_count": post.get("replyCount"),
        "share_count": (post.get("repostCount") or 0) + (post.get("quoteCount") or 0)
        if post.get("repostCount") is not None else None,
        "like_count": post.get("likeCount"),
        "view_count": None,
        "source": source,
        "source_post_id": uri,
        "collected_at": collected_at,
        "parent_post_id": None,
    }


# --- re-checks ------------------------------------------------------------------------------

class _Requests:
    """Stands in for a manifest where a session counts its requests (re-checks have none)."""
    requests = 0


_ACCOUNT_GONE = {"AccountTakedown": "the account was taken down by the service",
                 "AccountDeactivated": "the account was deactivated by its owner"}


def lookup_post(client: PoliteClient, source: str, uri: str,
                options: CollectOptions | None = None) -> dict[str, Any]:
    """Is the post still there? {"url", "http_status", "state", "detail"} (as mastodon.lookup_status).

    app.bsky.feed.getPosts simply leaves out a post that is gone (deleted by its author or
    taken down), so an absent post is "gone" (who removed it is not said); then
    app.bsky.actor.getProfile of its author tells "account_gone" (AccountTakedown,
    AccountDeactivated, or no profile any more). A post served with a "!takedown" label
    counts as "removed_by_platform". Same session and credentials as collection.
    """
    options = options or CollectOptions()
    source = (source or DEFAULT_BASE_URL).strip().rstrip("/")
    session = _Session(client, source, require(options.credentials, IDENTIFIER_VAR, PLATFORM),
                       require(options.credentials, PASSWORD_VAR, PLATFORM), options, _Requests())
    url = f"{source}/xrpc/app.bsky.feed.getPosts?uris={uri}"
    try:
        body = _xrpc_get(client, session, f"{source}/xrpc/app.bsky.feed.getPosts", {"uris": uri})
    except SourceError as exc:
        return {"url": url, "http_status": exc.status, "state": "error", "detail": str(exc)}
    found = [p for p in body.get("posts") or [] if isinstance(p, dict) and p.get("uri") == uri]
    if found:
        labels = {str(label.get("val")) for label in found[0].get("labels") or [] if isinstance(label, dict)}
        if "!takedown" in labels:
            return {"url": url, "http_status": 200, "state": "removed_by_platform",
                    "detail": "served with the service's !takedown label"}
        return {"url": url, "http_status": 200, "state": "online", "detail": None}
    did = uri[len("at://"):].split("/")[0] if uri.startswith("at://") else None
    if not did:
        return {"url": url, "http_status": 200, "state": "gone", "detail": "absent from getPosts"}
    try:
        _xrpc_get(client, session, f"{source}/xrpc/app.bsky.actor.getProfile", {"actor": did})
    except SourceError as exc:
        error = next((e for e in _ACCOUNT_GONE if e in str(exc)), None)
        if error or (exc.status == 400 and "Profile not found" in str(exc)):
            return {"url": url, "http_status": 200, "state": "account_gone",
                    "detail": f"absent from getPosts; {_ACCOUNT_GONE.get(error, 'the profile is not found')}"
                              f" (getProfile: {exc})"}
        return {"url": url, "http_status": 200, "state": "gone",
                "detail": f"absent from getPosts; the account could not be checked ({exc})"}
    return {"url": url, "http_status": 200, "state": "gone",
            "detail": "absent from getPosts; its account is still there"}


# --- a post a person reports by its address (intake) ------------------------------------------

# https://bsky.app/profile/HANDLE-OR-DID/post/RKEY, as the app shows a post.
_POST_URL = re.compile(r"^https?://(?:www\.)?bsky\.app/profile/"
                       r"([A-Za-z0-9][A-Za-z0-9.-]{0,252}|did:[a-z]+:[A-Za-z0-9._:%-]{1,256})"
                       r"/post/([A-Za-z0-9._~:-]{1,512})/?(?:[?#].*)?$")
URL_HOSTS = ("bsky.app", "www.bsky.app")


def parse_post_url(url: str) -> str:
    """'https://bsky.app/profile/HANDLE/post/RKEY' -> 'at://HANDLE/app.bsky.feed.post/RKEY';
    ValueError if it is not one."""
    m = _POST_URL.match((url or "").strip())
    if not m:
        raise ValueError("not a Bluesky post address (expected https://bsky.app/profile/HANDLE/post/ID)")
    author = m.group(1) if m.group(1).startswith("did:") else m.group(1).lower()  # handles ignore case
    return f"at://{author}/app.bsky.feed.post/{m.group(2)}"


def fetch_post(client: PoliteClient, source: str, uri: str,
               options: CollectOptions | None = None) -> dict[str, Any]:
    """The PostView of `uri` (an at:// URI naming its author by handle or DID) from the
    service at `source`, with the collection's session: a handle is resolved to its DID
    first (com.atproto.identity.resolveHandle). A post that is not served (deleted, taken
    down, or never there) raises SourceError with status 404."""
    options = options or CollectOptions()
    source = (source or DEFAULT_BASE_URL).strip().rstrip("/")
    session = _Session(client, source, require(options.credentials, IDENTIFIER_VAR, PLATFORM),
                       require(options.credentials, PASSWORD_VAR, PLATFORM), options, _Requests())
    author, _, rkey = uri[len("at://"):].partition("/app.bsky.feed.post/")
    if not author.startswith("did:"):
        try:
            body = _xrpc_get(client, session, f"{source}/xrpc/com.atproto.identity.resolveHandle",
                             {"handle": author})
        except SourceError as exc:
            if exc.status == 400:  # "Unable to resolve handle": no such account
                raise SourceError(f"{source} knows no account {author}: {exc}", status=404) from exc
            raise
        if not str(body.get("did") or "").startswith("did:"):
            raise SourceError(f"{source} resolved the handle {author} to no DID")
        author = str(body["did"])
    uri = f"at://{author}/app.bsky.feed.post/{rkey}"
    body = _xrpc_get(client, session, f"{source}/xrpc/app.bsky.feed.getPosts", {"uris": uri})
    found = [p for p in body.get("posts") or [] if isinstance(p, dict) and p.get("uri") == uri]
    if not found:
        raise SourceError(f"{source} does not serve the post {uri} (deleted, taken down or "
                          "never there)", status=404)
    return found[0]


def _xrpc_get(client: PoliteClient, session: _Session, url: str, params: dict,
              before_attempt=None) -> dict:
    """A GET with the session's token, renewed once if it went stale."""
    for attempt in (1, 2):
        try:
            body, _ = client.request_json("GET", url, params=params, headers=session.headers(),
                                          before_attempt=before_attempt)
        except SourceError as exc:
            if attempt == 1 and exc.status in (400, 401) and any(w in str(exc) for w in _STALE_TOKEN):
                session.renew()
                continue
            raise
        if not isinstance(body, dict):
            raise SourceError(f"GET {url} returned a JSON {type(body).__name__}, not an object")
        return body
    raise AssertionError("unreachable")
