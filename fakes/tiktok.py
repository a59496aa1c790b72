"""A local TikTok Research API for tests and benchmarks, following the documented API:

* ``POST /v2/oauth/token/`` (form: client_key, client_secret,
  grant_type=client_credentials) -> {access_token, expires_in, token_type}.
  Every token request is counted (`token_requests`).
* ``POST /v2/research/video/query/?fields=...`` JSON {query: {and, or, not},
  start_date, end_date (YYYYMMDD, at most 30 days apart), max_count <= 100,
  cursor, search_id, is_random} -> {data: {videos, cursor, has_more, search_id},
  error: {code, message, log_id}}. A search_id pins the result set, so a query
  can be continued after a failure with the same search_id and cursor. A
  ``video_id`` EQ condition finds one video (re-checks); `delete_video()` makes one
  disappear, as a removed, deleted or private video does from the Research API.
* ``POST /v2/research/video/comment/list/?fields=...`` {video_id, max_count, cursor}.
* A daily request quota (`daily_quota`): past it, 429 daily_quota_limit_exceeded.
  Every research request counts, failed ones too (`research_requests`).

Faults (429 rate_limit_exceeded, 5xx, truncated bodies) come from fakes.api.
"""
from __future__ import annotations

import secrets
import zlib
from datetime import date, datetime, timedelta, timezone

from fakes.api import FakeAPIServer, Faults, Reply, Request

TOKEN = "/v2/oauth/token/"
QUERY = "/v2/research/video/query/"
COMMENTS = "/v2/research/video/comment/list/"
_ERRORS = {400: "invalid_params", 401: "access_token_invalid", 429: "rate_limit_exceeded",
           500: "internal_error", 502: "internal_error", 503: "internal_error"}


class TikTokFake(FakeAPIServer):
    def __init__(self, videos: list[dict] | None = None, comments: dict[str, list[dict]] | None = None,
                 *, client_key: str = "ck-test", client_secret: str = "cs-test",
                 token_ttl: int = 7200, daily_quota: int = 1000, faults: Faults | None = None,
                 **kwargs):
        super().__init__(faults, **kwargs)
        self.client_key, self.client_secret, self.token_ttl = client_key, client_secret, token_ttl
        self.daily_quota = daily_quota
        self.videos = list(videos or [])
        self.comments = dict(comments or {})
        self.token_requests = 0
        self.research_requests = 0
        self.windows: list[tuple[str, str]] = []   # (start_date, end_date) of every video query
        self._tokens: set[str] = set()
        self._searches: dict[str, list[dict]] = {}

    def received(self, request: Request) -> None:
        if request.path in (QUERY, COMMENTS):  # failed answers use quota too
            with self.lock:
                self.research_requests += 1

    def delete_video(self, video_id) -> None:
        """The video is gone (removed, deleted or made private): queries stop returning it."""
        with self.lock:
            self.videos = [v for v in self.videos if str(v["id"]) != str(video_id)]

    def revoke_tokens(self) -> None:
        with self.lock:
            self._tokens.clear()

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"data": {}, "error": {"code": _ERRORS.get(status, "internal_error"),
                                                    "message": message, "log_id": "fake"}})

    def route(self, request: Request) -> Reply:
        if request.path == TOKEN and request.method == "POST":
            return self._token(request)
        if request.path in (QUERY, COMMENTS) and request.method == "POST":
            with self.lock:
                over = self.research_requests > self.daily_quota
            if over:
                return _error(429, "daily_quota_limit_exceeded", "daily quota reached")
            auth = request.headers.get("authorization", "")
            with self.lock:
                valid = auth.lower().startswith("bearer ") and auth[7:] in self._tokens
            if not valid:
                return _error(401, "access_token_invalid", "The access token is invalid or expired")
            body = request.json()
            if not isinstance(body, dict):
                return _error(400, "invalid_params", "body is not a JSON object")
            return self._query(body) if request.path == QUERY else self._comments(body)
        return _error(404, "not_found", "no such endpoint")

    def _token(self, request: Request) -> Reply:
        with self.lock:
            self.token_requests += 1
        form = request.form()
        if (form.get("client_key"), form.get("client_secret"), form.get("grant_type")) != (
                self.client_key, self.client_secret, "client_credentials"):
            return Reply(401, {"error": "invalid_client",
                               "error_description": "Client key or secret is incorrect.",
                               "log_id": "fake"})
        token = "clt." + secrets.token_hex(8)
        with self.lock:
            self._tokens.add(token)
        return Reply(200, {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"})

    def _query(self, body: dict) -> Reply:
        try:
            start, end = _day(body["start_date"]), _day(body["end_date"])
        except (KeyError, ValueError):
            return _error(400, "invalid_params", "start_date and end_date must be YYYYMMDD")
        if end < start or (end - start).days > 30:
            return _error(400, "invalid_params", "end_date must be within 30 days of start_date")
        count = int(body.get("max_count") or 20)
        if count > 100:
            return _error(400, "invalid_params", "max_count must be at most 100")
        with self.lock:
            self.windows.append((body["start_date"], body["end_date"]))
        search_id = body.get("search_id")
        if search_id:
            with self.lock:
                found = self._searches.get(search_id)
            if found is None:
                return _error(400, "invalid_params", "search_id not found")
        else:
            conditions = (body.get("query") or {}).get("and") or []
            found = [v for v in self.videos if start <= _created(v).date() <= end
                     and all(_matches(v, c) for c in conditions)]
            found.sort(key=lambda v: (v["create_time"], v["id"]), reverse=True)
            search_id = secrets.token_hex(6)
            with self.lock:
                self._searches[search_id] = found
        cursor = int(body.get("cursor") or 0)
        page = found[cursor: cursor + count]
        more = cursor + count < len(found)
        return Reply(200, {"data": {"videos": page, "cursor": cursor + len(page), "has_more": more,
                                    "search_id": search_id},
                           "error": {"code": "ok", "message": "", "log_id": "fake"}})

    def _comments(self, body: dict) -> Reply:
        found = self.comments.get(str(body.get("video_id")), [])
        cursor, count = int(body.get("cursor") or 0), min(int(body.get("max_count") or 10), 100)
        page = found[cursor: cursor + count]
        return Reply(200, {"data": {"comments": page, "cursor": cursor + len(page),
                                    "has_more": cursor + count < len(found)},
                           "error": {"code": "ok", "message": "", "log_id": "fake"}})


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"data": {}, "error": {"code": code, "message": message, "log_id": "fake"}})


def _day(text: str) -> date:
    return datetime.strptime(str(text), "%Y%m%d").date()


def _created(video: dict) -> datetime:
    return datetime.fromtimestamp(video["create_time"], timezone.utc)


def _matches(video: dict, condition: dict) -> bool:
    field, values = condition.get("field_name"), [str(v).lower() for v in condition.get("field_values") or []]
    if field == "hashtag_name":
        return bool({h.lower() for h in video.get("hashtag_names") or []} & set(values))
    if field == "video_id":
        return str(video.get("id")) in values
    if field == "region_code":
        return str(video.get("region_code", "")).lower() in values
    return True


def make_video(n: int, tags: tuple[str, ...] = ("teachersoftiktok",), *, day: date | str = "2026-01-15",
               description: str | None = None, voice: str = "", username: str = "someone_invented",
               region: str = "GB", **fields) -> dict:
    """An invented video as the Research API returns it; `n` orders videos within a day."""
    when = datetime.fromisoformat(str(day)).replace(tzinfo=timezone.utc) + timedelta(seconds=n)
    video = {
        "id": 7300000000000000000 + n,
        "video_description": description if description is not None
        else f"video {n} " + " ".join(f"#{t}" for t in tags),
        "voice_to_text": voice,
        "create_time": int(when.timestamp()),
        "region_code": region,
        "username": username,
        "hashtag_names": list(tags),
        "like_count": 3, "comment_count": 1, "share_count": 2, "view_count": 100 + n,
        "music_id": zlib.crc32(str(n).encode()),
    }
    video.update(fields)
    return video
