"""A local Bluesky (XRPC) for tests and benchmarks, following the documented API:

* ``POST /xrpc/com.atproto.server.createSession`` {identifier, password} ->
  {did, handle, accessJwt, refreshJwt}; a wrong password is 401 AuthenticationRequired.
  Every login is counted (`logins`): the real service allows 30 per 5 minutes.
* ``POST /xrpc/com.atproto.server.refreshSession`` with the refresh token as bearer.
* ``GET /xrpc/app.bsky.feed.searchPosts`` q, sort (latest), since (inclusive),
  until (exclusive), limit (default 25, max 100), cursor -> {posts, cursor, hitsTotal}.
  Needs a session (401 AuthenticationRequired without one, ExpiredToken once
  `expire_tokens()` was called). Search is loose, like a full-text index: "#tag"
  also finds posts that only say "tag" in their text or carry a longer tag, which
  is why the collector checks tag facets. At most `result_cap` results per query
  (about 10,000 on the real service): no cursor beyond it.
* ``GET /xrpc/app.bsky.feed.getPosts?uris=`` (re-checks): a post that is gone is simply
  absent. ``GET /xrpc/app.bsky.actor.getProfile?actor=DID``: 400 AccountTakedown /
  AccountDeactivated for an account `remove_account()` took away, "Profile not found"
  for one it never knew. `delete_post()` deletes one post.
* ``GET /xrpc/com.atproto.identity.resolveHandle?handle=`` (a post reported by its
  bsky.app address): the author's DID, 400 "Unable to resolve handle" for a stranger.

Posts are PostView objects: uri, cid, author{did, handle}, record{text, createdAt,
langs, facets[#tag]}, indexedAt, counts. Faults (429, 5xx, truncated bodies,
overlap between pages) come from fakes.api.
"""
from __future__ import annotations

import secrets
import zlib
from datetime import datetime, timedelta, timezone

from fakes.api import FakeAPIServer, Faults, Reply, Request

SEARCH = "/xrpc/app.bsky.feed.searchPosts"
CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
REFRESH_SESSION = "/xrpc/com.atproto.server.refreshSession"
GET_POSTS = "/xrpc/app.bsky.feed.getPosts"
GET_PROFILE = "/xrpc/app.bsky.actor.getProfile"
RESOLVE_HANDLE = "/xrpc/com.atproto.identity.resolveHandle"
DEFAULT_LIMIT, MAX_LIMIT = 25, 100
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class BlueskyFake(FakeAPIServer):
    def __init__(self, posts: list[dict] | None = None, *, identifier: str = "monitor.example.org",
                 password: str = "app-pass-1234", result_cap: int = 10_000,
                 faults: Faults | None = None, **kwargs):
        super().__init__(faults, **kwargs)
        self.identifier, self.password = identifier, password
        self.result_cap = result_cap
        self.logins = 0
        self._posts: dict[str, dict] = {}
        self._hits: dict[str, list[dict]] = {}   # search word -> its posts, newest first (a cache)
        self._access: set[str] = set()
        self._refresh: set[str] = set()
        self._gone_accounts: dict[str, str] = {}   # did -> the error getProfile answers
        self._authors: dict[str, dict] = {}         # did -> profile (outlives the posts)
        for post in posts or []:
            self.add_post(post)

    def add_post(self, post: dict) -> None:
        with self.lock:
            self._posts[post["uri"]] = post
            self._authors[post["author"]["did"]] = post["author"]
            self._hits = {}

    def _matching(self, word: str) -> list[dict]:
        """Posts whose text contains `word`, newest first (cached until posts change)."""
        with self.lock:
            return self._hits.get(word) or self._hits.setdefault(word, sorted(
                (p for p in self._visible() if word in p["record"]["text"].lower()),
                key=lambda p: (sort_at(p), p["uri"]), reverse=True))

    def delete_post(self, uri: str) -> None:
        with self.lock:
            self._posts.pop(uri, None)
            self._hits = {}

    def remove_account(self, did: str, error: str = "AccountTakedown") -> None:
        """The account is taken down (or "AccountDeactivated" by its owner): its posts leave
        getPosts and search, and getProfile answers the error, as the AppView does."""
        with self.lock:
            self._gone_accounts[did] = error
            self._hits = {}

    def expire_tokens(self) -> None:
        """Every access token stops working (refresh tokens still do)."""
        with self.lock:
            self._access.clear()

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": message.replace(" ", ""), "message": message})

    def route(self, request: Request) -> Reply:
        if request.path == CREATE_SESSION and request.method == "POST":
            return self._create_session(request)
        if request.path == REFRESH_SESSION and request.method == "POST":
            return self._refresh_session(request)
        if request.path == SEARCH and request.method == "GET":
            return self._search(request)
        if request.path == RESOLVE_HANDLE and request.method == "GET":
            return self._resolve_handle(request)
        if request.path in (GET_POSTS, GET_PROFILE) and request.method == "GET":
            refused = self._refuse_token(request)
            if refused:
                return refused
            return self._get_posts(request) if request.path == GET_POSTS else self._get_profile(request)
        return Reply(404, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})

    def _session(self) -> dict:
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        with self.lock:
            self._access.add(access)
            self._refresh.add(refresh)
        return {"did": "did:plc:monitor", "handle": self.identifier, "accessJwt": access,
                "refreshJwt": refresh, "active": True}

    def _create_session(self, request: Request) -> Reply:
        with self.lock:
            self.logins += 1
        body = request.json() or {}
        if body.get("identifier") != self.identifier or body.get("password") != self.password:
            return Reply(401, {"error": "AuthenticationRequired",
                               "message": "Invalid identifier or password"})
        return Reply(200, self._session())

    def _refresh_session(self, request: Request) -> Reply:
        token = _bearer(request)
        with self.lock:
            known = token in self._refresh
            self._refresh.discard(token)
        if not known:
            return Reply(400, {"error": "ExpiredToken", "message": "Token has expired"})
        return Reply(200, self._session())

    def _refuse_token(self, request: Request) -> Reply | None:
        token = _bearer(request)
        if token is None:
            return Reply(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        with self.lock:
            valid = token in self._access
        return None if valid else Reply(400, {"error": "ExpiredToken", "message": "Token has expired"})

    def _visible(self) -> list[dict]:
        with self.lock:
            return [p for p in self._posts.values() if p["author"]["did"] not in self._gone_accounts]

    def _get_posts(self, request: Request) -> Reply:
        """getPosts?uris=...: a post that is gone (deleted, taken down, its account gone) is
        simply absent from the answer. (One `uris` value per request in this fake.)"""
        uri = request.query.get("uris")
        if not uri:
            return Reply(400, {"error": "InvalidRequest", "message": 'Error: Params must have the property "uris"'})
        return Reply(200, {"posts": [p for p in self._visible() if p["uri"] == uri]})

    def _get_profile(self, request: Request) -> Reply:
        actor = request.query.get("actor", "")
        with self.lock:
            error = self._gone_accounts.get(actor)
            known = dict(self._authors)
        if error:
            messages = {"AccountTakedown": "Account has been suspended",
                        "AccountDeactivated": "Account is deactivated"}
            return Reply(400, {"error": error, "message": messages.get(error, error)})
        if actor not in known:
            return Reply(400, {"error": "InvalidRequest", "message": "Profile not found"})
        return Reply(200, known[actor])

    def _resolve_handle(self, request: Request) -> Reply:
        """resolveHandle?handle=: the DID of an author this fake knows (public: no session)."""
        handle = request.query.get("handle", "").lower()
        with self.lock:
            did = next((d for d, a in self._authors.items() if a.get("handle", "").lower() == handle), None)
        if did is None:
            return Reply(400, {"error": "InvalidRequest", "message": "Unable to resolve handle"})
        return Reply(200, {"did": did})

    def _search(self, request: Request) -> Reply:
        token = _bearer(request)
        if token is None:
            return Reply(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        with self.lock:
            valid = token in self._access
        if not valid:
            return Reply(400, {"error": "ExpiredToken", "message": "Token has expired"})
        q = request.query
        if not q.get("q"):
            return Reply(400, {"error": "InvalidRequest", "message": 'Error: Params must have the property "q"'})
        try:
            limit = min(int(q.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            offset = int(q.get("cursor") or 0)
            since = _time(q["since"]) if q.get("since") else None
            until = _time(q["until"]) if q.get("until") else None
        except ValueError as exc:
            return Reply(400, {"error": "InvalidRequest", "message": str(exc)})
        if self.faults.page_size_cap:
            limit = min(limit, self.faults.page_size_cap)
        word = q["q"].strip().lstrip("#").lower()
        hits = [p for p in self._matching(word) if (since is None or sort_at(p) >= since)
                and (until is None or sort_at(p) < until)]
        hits = hits[: self.result_cap]
        start = max(0, offset - self.faults.overlap) if offset else 0
        page = hits[start: offset + limit]
        body = {"posts": page, "hitsTotal": len(hits)}
        if offset + limit < len(hits):
            body["cursor"] = str(offset + limit)
        return Reply(200, body)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else None


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def sort_at(post: dict) -> datetime:
    """Bluesky sorts search results by the earlier of createdAt and indexedAt."""
    return min(_time(post["record"]["createdAt"]), _time(post["indexedAt"]))


def make_post(n: int, tags: tuple[str, ...] = ("teachersoftiktok",), *, text: str | None = None,
              handle: str = "someone.example.social", seconds: int | None = None,
              facets: bool = True, **fields) -> dict:
    """An invented PostView; post `n` was created `seconds` (default n*60) after 1 Jan 2026."""
    created = EPOCH + timedelta(seconds=n * 60 if seconds is None else seconds)
    did = f"did:plc:{zlib.crc32(handle.encode()):08x}"
    text = text if text is not None else f"post {n} " + " ".join(f"#{t}" for t in tags)
    facet_list = []
    if facets:
        raw = text.encode("utf-8")
        for t in tags:
            start = raw.find(f"#{t}".encode())
            if start >= 0:
                facet_list.append({"index": {"byteStart": start, "byteEnd": start + len(t.encode()) + 1},
                                   "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": t}]})
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    post = {
        "uri": f"at://{did}/app.bsky.feed.post/3k{n:010d}",
        "cid": f"bafyrei{n:020d}",
        "author": {"did": did, "handle": handle, "displayName": handle.split(".")[0].title()},
        "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": stamp,
                   "langs": ["en"], "facets": facet_list},
        "replyCount": 0, "repostCount": 1, "likeCount": 2, "quoteCount": 0,
        "indexedAt": stamp,
    }
    post.update(fields)
    return post
