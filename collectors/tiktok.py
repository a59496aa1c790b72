"""TikTok Research API collector: videos under one hashtag -> staging.

* Client-credentials token (POST /v2/oauth/token/), cached in a private state
  file and shared by every task; renewed TOKEN_MARGIN before its 2 hours run out,
  and once more if the API calls it invalid.
* Video query by `hashtag_name` (optionally also `region_code`, e.g. GB) with
  the documented body; a date range longer than 30 days is split into windows of
  at most 30 days; max_count 100; `cursor` + `search_id` pagination.
* Both `video_description` and `voice_to_text` are asked for and end up in the
  post text (much abuse is spoken, not written), so both are scored.
* A daily request budget (TAGWATCH_TIKTOK_DAILY_REQUESTS, default 1000, reset at
  00:00 UTC) counted per attempt in a state file shared by all tasks and never
  exceeded: when it runs out, or the API answers daily_quota_limit_exceeded, the
  collection stops with status "quota" and a checkpoint (window, search_id,
  cursor) from which the next run continues. A failure leaves the same checkpoint.
* Incremental: the watermark is the last day fully collected; the next run asks
  again from that day (videos appear in the API with a delay) up to today.
* Comments (`collect_comments`): the comments of chosen videos through
  POST /v2/research/video/comment/list/ become posts of their own (their own ids,
  `parent_post_id` = the video), counted against the same daily budget. Which
  videos: those the classifier flagged, chosen after scoring by
  tagwatch.pipeline.tiktok_comments (abuse often sits in the comments of a video
  that is itself abusive; asking for the comments of every video would spend the
  daily budget on a few tags).

Credentials: TAGWATCH_TIKTOK_CLIENT_KEY and TAGWATCH_TIKTOK_CLIENT_SECRET.
"""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from collectors.base import (CollectOptions, author_fields, collecting, hashtag, locked_state,
                             parse_since_date, require, state_file)
from collectors.http import PoliteClient, SourceError, plain
from collectors.staging import Manifest, StagingWriter, utcnow

PLATFORM = "tiktok"
DEFAULT_BASE_URL = "https://open.tiktokapis.com"
MAX_COUNT = 100
WINDOW_DAYS = 30                      # start_date and end_date at most 30 days apart
TOKEN_MARGIN = timedelta(minutes=5)   # renew the token this long before it expires
SPOKEN_PREFIX = "[spoken] "
VIDEO_FIELDS = ("id,video_description,voice_to_text,create_time,region_code,share_count,"
                "view_count,like_count,comment_count,hashtag_names,username")
COMMENT_FIELDS = "id,video_id,text,like_count,reply_count,parent_comment_id,create_time"
COMMENTS_TAG = "(comments)"   # the `tag` of a comment collection in staging and collection_runs
_HASHTAG = re.compile(r"#(\w+)")
KEY_VAR = "TAGWATCH_TIKTOK_CLIENT_KEY"
SECRET_VAR = "TAGWATCH_TIKTOK_CLIENT_SECRET"

log = logging.getLogger(__name__)


class QuotaReached(SourceError):
    """The daily request budget (ours or TikTok's) is used up until 00:00 UTC."""


def collect_tag(base_url: str, tag: str, *, staging_dir: Path | str, run_id: str,
                pseudonym_key: bytes, user_agent: str, watermark: str | None = None,
                since=None, checkpoint: dict | None = None, client: PoliteClient | None = None,
                options: CollectOptions | None = None) -> Manifest:
    """Collect the videos tagged `tag` into staging, window by window."""
    options = options or CollectOptions()
    own_client = client is None
    api = _Api(base_url, options, client or PoliteClient(user_agent))
    tag = hashtag(tag)
    today = options.clock().astimezone(timezone.utc).date()
    start = _first_day(since, watermark, options, today)
    asked = {"api": api.source, "hashtag_name": tag, "region_code": options.tiktok_region,
             "start_date": _ymd(start), "end_date": _ymd(today), "max_count": MAX_COUNT,
             "fields": VIDEO_FIELDS, "daily_budget": options.tiktok_daily_requests}
    with collecting(api.client, own_client, staging_dir, run_id, PLATFORM, api.source, tag,
                    asked=asked, watermark_before=watermark, resume=True) as run:
        writer = run.writer
        api.manifest = writer.manifest
        resume = writer.resumed_from or (checkpoint if since is None else None)
        position = _Position.start(start, today) if not resume else _Position.resume(resume)
        if resume:
            writer.manifest.asked["resumed_from"] = resume
        try:
            _walk(api, writer, tag, position, pseudonym_key, options)
        except QuotaReached as exc:
            run.status, run.error = "quota", f"quota reached: {exc}"
            writer.manifest.quota_hit = True
            writer.manifest.checkpoint = position.as_checkpoint()
        except SourceError as exc:
            run.status, run.error = "failed", str(exc)
            writer.manifest.checkpoint = position.as_checkpoint()
        else:
            run.status, run.error = "ok", None
            writer.manifest.watermark_after = _ymd(position.end)
    return writer.manifest


def collect_comments(base_url: str, videos: list[dict], *, staging_dir: Path | str, run_id: str,
                     pseudonym_key: bytes, user_agent: str, client: PoliteClient | None = None,
                     options: CollectOptions | None = None) -> Manifest:
    """Collect the comments of `videos` ({post_id, url}) into one staging file.

    Every comment page is one request against the daily budget. A video counts as
    done (manifest.extra["comment_fetches"], stored by the loader) only once all its
    pages came back; when the budget runs out the run stops with status "quota" and
    the remaining videos are asked for on a later run.
    """
    options = options or CollectOptions()
    own_client = client is None
    api = _Api(base_url, options, client or PoliteClient(user_agent))
    asked = {"api": api.source, "endpoint": "video/comment/list/", "max_count": MAX_COUNT,
             "fields": COMMENT_FIELDS, "video_ids": [str(v["post_id"]) for v in videos],
             "daily_budget": options.tiktok_daily_requests}
    with collecting(api.client, own_client, staging_dir, run_id, PLATFORM, api.source,
                    COMMENTS_TAG, asked=asked) as run:
        writer = run.writer
        api.manifest = writer.manifest
        done = writer.manifest.extra.setdefault("comment_fetches", [])
        try:
            for video in videos:
                count = _walk_comments(api, writer, video, pseudonym_key)
                done.append({"post_id": str(video["post_id"]), "comments": count})
        except QuotaReached as exc:
            run.status, run.error = "quota", f"quota reached: {exc}"
            writer.manifest.quota_hit = True
        except SourceError as exc:
            run.status, run.error = "failed", str(exc)
    return writer.manifest


def _walk_comments(api: "_Api", writer: StagingWriter, video: dict, key: bytes) -> int:
    video_id, cursor, count = str(video["post_id"]), 0, 0
    while True:
        data = api.research("video/comment/list/", COMMENT_FIELDS,
                            {"video_id": int(video_id) if video_id.isdigit() else video_id,
                             "max_count": MAX_COUNT, "cursor": cursor})
        comments = data.get("comments") or []
        if not isinstance(comments, list):
            raise SourceError(f"the comment list of video {video_id} is not a list")
        writer.manifest.pages += 1
        collected_at = utcnow().isoformat()
        count += writer.write_posts(comment_to_post(c, video, api.source, key, collected_at)
                                    for c in comments if isinstance(c, dict) and c.get("id") is not None)
        if not data.get("has_more") or not comments:
            return count
        if data.get("cursor") is None or int(data["cursor"]) <= cursor:
            raise SourceError(f"the comment list of video {video_id} says has_more but its "
                              "cursor does not advance")
        cursor = int(data["cursor"])


def comment_to_post(comment: dict, video: dict, source: str, key: bytes,
                    collected_at: str) -> dict[str, Any]:
    """A Research API comment as a staging post; the Research API gives no comment author."""
    created = comment.get("create_time")
    text = str(comment.get("text") or "")
    video_id = str(video["post_id"])
    return {
        "platform": PLATFORM,
        "post_id": str(comment["id"]),
        "url": video.get("url") or f"https://www.tiktok.com/video/{video_id}",
        "text": text,
        "created_at": datetime.fromtimestamp(int(created), timezone.utc) if created else None,
        "hashtags": list(dict.fromkeys(t.lower() for t in _HASHTAG.findall(text))),
        "author_key": None, "author_handle": None, "lang": None,
        "reply_count": comment.get("reply_count"), "share_count": None,
        "like_count": comment.get("like_count"), "view_count": None,
        "source": source,
        "source_post_id": str(comment["id"]),
        "collected_at": collected_at,
        "parent_post_id": video_id,
    }


def _first_day(since, watermark: str | None, options: CollectOptions, today: date) -> date:
    if since is not None:
        return parse_since_date(since).date()
    if watermark:
        return min(parse_since_date(watermark).date(), today)  # the last day again: late videos
    return today - timedelta(days=options.first_run_days)


class _Position:
    """Where the walk is: the current window and, inside it, search_id and cursor."""

    def __init__(self, window_start: date, end: date, search_id: str | None = None,
                 cursor: int | None = None):
        self.window_start, self.end = window_start, end
        self.search_id, self.cursor = search_id, cursor

    @classmethod
    def start(cls, start: date, end: date) -> "_Position":
        return cls(start, end)

    @classmethod
    def resume(cls, checkpoint: dict) -> "_Position":
        return cls(parse_since_date(checkpoint["window_start"]).date(),
                   parse_since_date(checkpoint["end_date"]).date(),
                   checkpoint.get("search_id"), checkpoint.get("cursor"))

    @property
    def window_end(self) -> date:
        return min(self.end, self.window_start + timedelta(days=WINDOW_DAYS - 1))

    def as_checkpoint(self) -> dict:
        return {"window_start": _ymd(self.window_start), "end_date": _ymd(self.end),
                "search_id": self.search_id, "cursor": self.cursor}


def _walk(api: "_Api", writer: StagingWriter, tag: str, position: _Position, key: bytes,
          options: CollectOptions) -> None:
    manifest = writer.manifest
    while position.window_start <= position.end:
        body = {"query": {"and": _conditions(tag, options.tiktok_region)},
                "start_date": _ymd(position.window_start), "end_date": _ymd(position.window_end),
                "max_count": MAX_COUNT, "is_random": False}
        windows = manifest.extra.setdefault("windows", [])
        if [body["start_date"], body["end_date"]] not in windows:
            windows.append([body["start_date"], body["end_date"]])
        while True:
            if position.search_id:
                body["search_id"], body["cursor"] = position.search_id, position.cursor or 0
            data = api.research("video/query/", VIDEO_FIELDS, body)
            videos = data.get("videos") or []
            if not isinstance(videos, list):
                raise SourceError(f"the video query for #{tag} answered without a list of videos")
            manifest.pages += 1
            collected_at = utcnow().isoformat()
            writer.write_posts(video_to_post(v, api.source, key, collected_at, options.store_handles)
                               for v in videos if isinstance(v, dict) and v.get("id") is not None)
            if not data.get("has_more") or not videos:
                break
            # Continue this query from here (also after a failure: the checkpoint keeps both).
            position.search_id, position.cursor = data.get("search_id"), data.get("cursor")
            if position.search_id is None or position.cursor is None:
                raise SourceError(f"the video query for #{tag} says has_more but gives no "
                                  "search_id/cursor to continue with")
        position.window_start = position.window_end + timedelta(days=1)
        position.search_id = position.cursor = None


def _conditions(tag: str, region: str | None) -> list[dict]:
    conditions = [{"operation": "IN", "field_name": "hashtag_name", "field_values": [tag]}]
    if region:
        conditions.append({"operation": "IN", "field_name": "region_code",
                           "field_values": [region.upper()]})
    return conditions


class _Api:
    """Research API requests with the shared token and the shared daily budget."""

    def __init__(self, base_url: str | None, options: CollectOptions, client: PoliteClient):
        self.client_key = require(options.credentials, KEY_VAR, PLATFORM)
        self.client_secret = require(options.credentials, SECRET_VAR, PLATFORM)
        self.source = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
        self.options, self.client = options, client
        client.configure(self.source)  # the operator's source; anything else is checked
        ident = hashlib.sha256(f"{self.source}\x00{self.client_key}".encode()).hexdigest()[:16]
        self.token_path = state_file(options, f"tiktok-token-{ident}.json")
        self.budget_path = state_file(options, f"tiktok-budget-{ident}.json")
        self.manifest: Manifest | None = None
        self._token: str | None = None

    # -- token -------------------------------------------------------------------

    def token(self, refused: str | None = None) -> str:
        """A valid access token: the cached one unless it is near expiry or was refused."""
        now = self.options.clock()
        with locked_state(self.token_path) as state:
            expires = state.get("expires_at")
            usable = (state.get("access_token") and state["access_token"] != refused and expires
                      and datetime.fromisoformat(expires) - TOKEN_MARGIN > now)
            if not usable:
                body, _ = self.client.request_json(
                    "POST", f"{self.source}/v2/oauth/token/",
                    form={"client_key": self.client_key, "client_secret": self.client_secret,
                          "grant_type": "client_credentials"},
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    refuse=_refuse_credentials)
                if not isinstance(body, dict) or not body.get("access_token"):
                    raise SourceError(f"the TikTok token answer carries no access_token: {body!r:.200}")
                state["access_token"] = body["access_token"]
                state["expires_at"] = (now + timedelta(seconds=int(body.get("expires_in") or 7200))
                                       ).isoformat()
            self._token = state["access_token"]
        return self._token

    # -- budget ------------------------------------------------------------------

    def _spend_one(self) -> None:
        """Count one request against today's budget, or stop if none is left."""
        today = _ymd(self.options.clock().astimezone(timezone.utc).date())
        limit = self.options.tiktok_daily_requests
        with locked_state(self.budget_path) as state:
            if state.get("day") != today:
                state.clear()
                state.update(day=today, used=0)
            if state["used"] >= limit:
                raise QuotaReached(f"the daily budget of {limit} TikTok requests for {today} "
                                   f"(UTC) is used up; continuing next run")
            state["used"] += 1
        if self.manifest is not None:
            self.manifest.requests += 1

    def _exhaust(self) -> None:
        today = _ymd(self.options.clock().astimezone(timezone.utc).date())
        with locked_state(self.budget_path) as state:
            state.update(day=today, used=max(state.get("used", 0) if state.get("day") == today else 0,
                                             self.options.tiktok_daily_requests))

    def used_today(self) -> int:
        with locked_state(self.budget_path) as state:
            today = _ymd(self.options.clock().astimezone(timezone.utc).date())
            return state.get("used", 0) if state.get("day") == today else 0

    # -- requests ----------------------------------------------------------------

    def research(self, endpoint: str, fields: str, body: dict) -> dict:
        url = f"{self.source}/v2/research/{endpoint}"
        refused = None
        for attempt in (1, 2):
            token = self.token(refused)
            try:
                answer, response = self.client.request_json(
                    "POST", url, params={"fields": fields}, json_body=body,
                    headers={"Authorization": f"Bearer {token}"},
                    before_attempt=self._spend_one, refuse=self._refuse)
            except SourceError as exc:
                if attempt == 1 and exc.status == 401:
                    refused = token  # expired or revoked early: one new token, one more try
                    continue
                raise
            if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
                raise SourceError(f"POST {response.url} answered without a data object")
            error = answer.get("error") or {}
            if isinstance(error, dict) and error.get("code") not in (None, "ok"):
                raise SourceError(f"POST {response.url} answered error {error.get('code')}: "
                                  f"{error.get('message')}")
            return answer["data"]
        raise AssertionError("unreachable")

    def _refuse(self, response: requests.Response) -> Exception | None:
        if response.status_code != 429:
            return None
        try:
            code = (response.json().get("error") or {}).get("code")
        except (ValueError, AttributeError):
            return None
        if code == "daily_quota_limit_exceeded":
            self._exhaust()
            return QuotaReached("TikTok answered daily_quota_limit_exceeded; continuing next run")
        return None


def _refuse_credentials(response: requests.Response) -> Exception | None:
    if response.status_code in (400, 401):
        return SourceError(f"TikTok refused the client credentials ({KEY_VAR}/{SECRET_VAR}): "
                           f"HTTP {response.status_code} {plain(response.text)}",
                           status=response.status_code)
    return None


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def video_text(video: dict) -> str:
    """Caption and speech together, so both are scored."""
    parts = [str(video.get("video_description") or "").strip()]
    spoken = str(video.get("voice_to_text") or "").strip()
    if spoken:
        parts.append(SPOKEN_PREFIX + spoken)
    return "\n\n".join(p for p in parts if p)


def video_to_post(video: dict, source: str, key: bytes, collected_at: str,
                  store_handles: bool = False) -> dict[str, Any]:
    """A Research API video as a staging post (the same post_id as an imported export item)."""
    video_id = str(video["id"])
    username = video.get("username")
    tags = [str(t).lower() for t in video.get("hashtag_names") or []]
    created = video.get("create_time")
    return {
        "platform": PLATFORM,
        "post_id": video_id,
        "url": f"https://www.tiktok.com/@{username}/video/{video_id}" if username
        else f"https://www.tiktok.com/video/{video_id}",
        "text": video_text(video),
        "created_at": datetime.fromtimestamp(int(created), timezone.utc) if created else None,
        "hashtags": list(dict.fromkeys(tags)),
        **author_fields(key, PLATFORM, username or "", username, store_handles),
        "lang": None,
        "reply_count": video.get("comment_count"),
        "share_count": video.get("share_count"),
        "like_count": video.get("like_count"),
        "view_count": video.get("view_count"),
        "source": source,
        "source_post_id": video_id,
        "collected_at": collected_at,
        "parent_post_id": None,
    }


# --- exports of TikTok's own item structure (tagwatch import) ----------------------------------

EXPORT_FORMATS = ("zeeschuimer", "4cat")   # both NDJSON of TikTok web items


def export_item_to_post(item: dict, fmt: str, key: bytes, collected_at: str,
                        store_handles: bool) -> dict[str, Any]:
    """One TikTok item (web structure, as Zeeschuimer and 4CAT export it) as a staging post:
    the same post_id as the Research API collector makes, so an export and the API never
    double a video. ValueError for a createTime that is not a time."""
    video_id = str(item["id"])
    author = item.get("author")
    username = author.get("uniqueId") if isinstance(author, dict) else author
    username = str(username) if username else None
    stats = item.get("stats") if isinstance(item.get("stats"), dict) else {}
    tags = [c.get("title") for c in item.get("challenges") or [] if isinstance(c, dict)]
    tags += [t.get("hashtagName") for t in item.get("textExtra") or [] if isinstance(t, dict)]
    try:
        created = datetime.fromtimestamp(int(item["createTime"]), timezone.utc) \
            if item.get("createTime") not in (None, "") else None
    except (TypeError, ValueError, OverflowError, OSError):
        raise ValueError(f"createTime {item.get('createTime')!r} is not a time") from None
    return {
        "platform": PLATFORM,
        "post_id": video_id,
        "url": f"https://www.tiktok.com/@{username}/video/{video_id}" if username
        else f"https://www.tiktok.com/video/{video_id}",
        "text": str(item.get("desc") or ""),
        "created_at": created,
        "hashtags": list(dict.fromkeys(str(t).lower() for t in tags if t)),
        **author_fields(key, PLATFORM, username or "", username, store_handles),
        "lang": item.get("textLanguage") or None,
        "reply_count": stats.get("commentCount"),
        "share_count": stats.get("shareCount"),
        "like_count": stats.get("diggCount"),
        "view_count": stats.get("playCount"),
        "source": f"import:{fmt}",
        "source_post_id": video_id,
        "collected_at": collected_at,
        "parent_post_id": None,
    }


# --- a video a person reports by its address (intake) ---------------------------------------

# https://www.tiktok.com/@USER/video/ID, as the app shares a video.
_VIDEO_URL = re.compile(r"^https?://(?:www\.|m\.)?tiktok\.com/@([A-Za-z0-9._]{1,64})/video/(\d{1,20})"
                        r"/?(?:[?#].*)?$")
URL_HOSTS = ("www.tiktok.com", "tiktok.com", "m.tiktok.com")
FIRST_VIDEO_DAY = date(2016, 9, 1)   # TikTok (Douyin) began; an id dated earlier is not a video id


def parse_video_url(url: str) -> str:
    """'https://www.tiktok.com/@USER/video/ID' -> 'ID'; ValueError if it is not one."""
    m = _VIDEO_URL.match((url or "").strip())
    if not m:
        raise ValueError("not a TikTok video address (expected https://www.tiktok.com/@USER/video/ID)")
    return m.group(2)


def video_day(video_id: str, today: date) -> date:
    """The day a video was posted, from its id: TikTok ids carry their creation time
    (Unix seconds) in their upper 32 bits. ValueError for an id that carries no
    plausible day (the Research API can only be asked within a date window)."""
    day = datetime.fromtimestamp(int(video_id) >> 32, timezone.utc).date()
    if not FIRST_VIDEO_DAY <= day <= today + timedelta(days=1):
        raise ValueError(f"the TikTok video id {video_id} carries no creation date")
    return day


def fetch_video(client: PoliteClient, source: str, video_id: str,
                options: CollectOptions | None = None) -> dict[str, Any]:
    """The Research API's record of one video (same token and daily budget as collection),
    asked for on the day its id says it was posted. A video the API does not serve
    (removed, deleted, private or never there) raises SourceError with status 404."""
    options = options or CollectOptions()
    api = _Api(source, options, client)
    day = video_day(video_id, options.clock().astimezone(timezone.utc).date())
    body = {"query": {"and": [{"operation": "EQ", "field_name": "video_id", "field_values": [str(video_id)]}]},
            "start_date": _ymd(day), "end_date": _ymd(day + timedelta(days=1)), "max_count": 1}
    data = api.research("video/query/", VIDEO_FIELDS, body)
    found = [v for v in data.get("videos") or [] if isinstance(v, dict) and str(v.get("id")) == str(video_id)]
    if not found:
        raise SourceError(f"{api.source} does not serve the video {video_id} (removed, deleted, "
                          "private or never there)", status=404)
    return found[0]


# --- re-checks ------------------------------------------------------------------------------

def lookup_video(client: PoliteClient, source: str, video_id: str, created_at: datetime | None,
                 options: CollectOptions | None = None) -> dict[str, Any]:
    """Is the video still there? {"url", "http_status", "state", "detail"} (as mastodon.lookup_status).

    Asks the Research API's video query for this video id on the day it was posted (the
    API needs a date window), with the same client credentials, token and daily budget
    as collection. The API only serves public videos that are online, so an absent video
    is "gone": removed, deleted by its author, made private or its account gone, which
    the API does not tell apart. Without a creation date nothing can be asked ("error").
    """
    options = options or CollectOptions()
    api = _Api(source, options, client)
    url = f"{api.source}/v2/research/video/query/ (video_id {video_id})"
    if created_at is None:
        return {"url": url, "http_status": None, "state": "error",
                "detail": "no creation date: the Research API needs a date window to find a video"}
    day = created_at.astimezone(timezone.utc).date()
    body = {"query": {"and": [{"operation": "EQ", "field_name": "video_id", "field_values": [str(video_id)]}]},
            "start_date": _ymd(day), "end_date": _ymd(day + timedelta(days=1)), "max_count": 1}
    try:
        data = api.research("video/query/", "id,create_time,username", body)
    except SourceError as exc:
        return {"url": url, "http_status": exc.status, "state": "error", "detail": str(exc)}
    if any(str(v.get("id")) == str(video_id) for v in data.get("videos") or [] if isinstance(v, dict)):
        return {"url": url, "http_status": 200, "state": "online", "detail": None}
    return {"url": url, "http_status": 200, "state": "gone",
            "detail": "the Research API no longer returns the video (removed, deleted, private or "
                      "its account gone: the API does not say which)"}
