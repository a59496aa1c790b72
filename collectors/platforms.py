"""The platforms tagwatch knows, one record each: everything the rest of the code asks
about a platform comes from here (collection, re-checks, intake by URL, credentials,
the Airflow pool, the local fake the tests run against).

A new platform is its collector module in collectors/, its local fake, its test and one
`Platform(...)` entry in PLATFORMS below. tests/collectors/test_platforms.py checks that
every entry has all its parts.

This module is on the bottom floor (collectors/): it names its fake by import path (the
fakes live above it) and takes everything else as arguments.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from collectors import bluesky, mastodon, tiktok, web
from collectors.base import CollectOptions
from collectors.http import PoliteClient


class UnknownPlatform(ValueError):
    """A URL no registered platform recognises as the address of one of its posts."""


@dataclass(frozen=True)
class PostAddress:
    """Where a post a person reported lives: its platform, the platform's reference for it
    (a status id, an at:// URI, a video id) and, when the address says so, the server that
    holds it (a Mastodon instance). Otherwise it is fetched from the platform's configured API."""

    platform: str
    url: str
    ref: str
    source: str | None = None


@dataclass(frozen=True)
class Platform:
    name: str
    description: str
    # collect_tag(source, tag, *, staging_dir, run_id, ...) -> Manifest (see collectors.base)
    collect: Callable[..., Any]
    # lookup(client, target, options) -> {"url", "http_status", "state", "detail"} (re-checks)
    lookup: Callable[[PoliteClient, dict, CollectOptions], dict] | None
    # parse_url(url) -> PostAddress; ValueError if the URL is not one of its post addresses
    parse_url: Callable[[str], PostAddress] | None
    # fetch(client, source, ref, key, collected_at, options) -> a staging post
    fetch: Callable[[PoliteClient, str, str, bytes, str, CollectOptions], dict] | None
    url_hosts: tuple[str, ...]          # hosts of its post addresses; () = any host (instances)
    credentials: tuple[str, ...]        # environment variables it cannot work without
    pool_slots: int                     # parallel collect tasks (Airflow pool tagwatch_<name>)
    pool_note: str
    default_source: str | None          # the API base used when no source is configured
    fake: str                           # "module:Class" of its local fake server
    # export formats `tagwatch import --format` reads for it, and one exported item -> a
    # staging post: export_to_post(item, fmt, key, collected_at, store_handles)
    exports: tuple[str, ...] = ()
    export_to_post: Callable[[dict, str, bytes, str, bool], dict] | None = None

    @property
    def pool(self) -> str:
        return f"tagwatch_{self.name}"


def _mastodon_address(url: str) -> PostAddress:
    source, status_id = mastodon.parse_status_url(url)
    return PostAddress(mastodon.PLATFORM, url, status_id, source)


def _mastodon_fetch(client, source, ref, key, collected_at, options) -> dict:
    return mastodon.status_to_post(mastodon.fetch_status(client, source, ref), source, key,
                                   collected_at, options.store_handles)


def _bluesky_fetch(client, source, ref, key, collected_at, options) -> dict:
    return bluesky.post_to_staging(bluesky.fetch_post(client, source, ref, options), source, key,
                                   collected_at, options.store_handles)


def _tiktok_fetch(client, source, ref, key, collected_at, options) -> dict:
    return tiktok.video_to_post(tiktok.fetch_video(client, source, ref, options), source, key,
                                collected_at, options.store_handles)


PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform(
        mastodon.PLATFORM, "Mastodon instances: the public timeline of a hashtag",
        collect=mastodon.collect_tag,
        lookup=lambda client, t, options: mastodon.lookup_status(client, t["source"], t["source_post_id"]),
        parse_url=_mastodon_address, fetch=_mastodon_fetch, url_hosts=(),
        credentials=(), pool_slots=4, pool_note="Mastodon collect tasks (300 requests / 5 min per instance)",
        default_source=None, fake="fakes.mastodon:MastodonReplayServer"),
    Platform(
        bluesky.PLATFORM, "Bluesky: app.bsky.feed.searchPosts for #tag",
        collect=bluesky.collect_tag,
        lookup=lambda client, t, options: bluesky.lookup_post(client, t["source"], t["source_post_id"], options),
        parse_url=lambda url: PostAddress(bluesky.PLATFORM, url, bluesky.parse_post_url(url)),
        fetch=_bluesky_fetch, url_hosts=bluesky.URL_HOSTS,
        credentials=(bluesky.IDENTIFIER_VAR, bluesky.PASSWORD_VAR),
        pool_slots=2, pool_note="Bluesky collect tasks (one shared session)",
        default_source=bluesky.DEFAULT_BASE_URL, fake="fakes.bluesky:BlueskyFake"),
    Platform(
        tiktok.PLATFORM, "TikTok Research API: videos (caption and speech) and their comments",
        collect=tiktok.collect_tag,
        lookup=lambda client, t, options: tiktok.lookup_video(
            client, t["source"], t["source_post_id"], t.get("created_at"), options),
        parse_url=lambda url: PostAddress(tiktok.PLATFORM, url, tiktok.parse_video_url(url)),
        fetch=_tiktok_fetch, url_hosts=tiktok.URL_HOSTS,
        credentials=(tiktok.KEY_VAR, tiktok.SECRET_VAR),
        pool_slots=1, pool_note="TikTok Research API collect tasks (daily request budget)",
        default_source=tiktok.DEFAULT_BASE_URL, fake="fakes.tiktok:TikTokFake",
        exports=tiktok.EXPORT_FORMATS, export_to_post=tiktok.export_item_to_post),
    Platform(
        web.PLATFORM, "public web pages and feeds without an API",
        collect=web.collect_tag, lookup=None, parse_url=None, fetch=None, url_hosts=(),
        credentials=(), pool_slots=1, pool_note="public web pages (a polite pace per host)",
        default_source=None, fake="fakes.pages:PageServer"),
)}


def names() -> list[str]:
    return sorted(PLATFORMS)


def get(name: str) -> Platform:
    """The platform called `name`, or ValueError naming the known ones."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ValueError(f"unknown platform {name!r}; known: {', '.join(names())}") from None


def export_formats() -> dict[str, Platform]:
    """Every export format `tagwatch import` reads, with the platform whose items it holds."""
    return {fmt: p for p in PLATFORMS.values() for fmt in p.exports}


def address_of(url: str) -> PostAddress:
    """Which platform's post `url` is, and the platform's reference for it.

    A URL on a host a platform claims (bsky.app, www.tiktok.com) must be that platform's
    post address (ValueError saying what one looks like); any other host is tried as a
    Mastodon instance; UnknownPlatform if nothing recognises it. Decided from the text
    alone: nothing is contacted.
    """
    text = (url or "").strip()
    try:
        host = (urlsplit(text).hostname or "").lower().rstrip(".")
    except ValueError:
        raise ValueError("not a valid web address") from None
    for platform in PLATFORMS.values():
        if platform.parse_url and host in platform.url_hosts:
            return platform.parse_url(text)
    for platform in PLATFORMS.values():
        if platform.parse_url and not platform.url_hosts:
            try:
                return platform.parse_url(text)
            except ValueError:
                continue
    known = ", ".join(p.name for p in PLATFORMS.values() if p.parse_url)
    raise UnknownPlatform(f"unknown platform: not the address of a post on {known}")


def fetch_post(client: PoliteClient, address: PostAddress, configured: list[tuple[str, str]],
               key: bytes, collected_at: str, options: CollectOptions) -> dict:
    """The post at `address` as a staging post (its `source` says where it came from).

    Fetched from the server the address names (a Mastodon instance), else from the
    first configured source (platform, base URL) of its platform, else the platform's
    default API: the same API, credentials and state as collection. SourceError if it
    cannot be had (status 404 or 410 when the platform does not serve it);
    MissingCredential or ValueError when it cannot be asked for."""
    platform = get(address.platform)
    mine = [url for name, url in configured if name == platform.name]
    source = address.source or (mine[0] if mine else platform.default_source)
    return platform.fetch(client, source, address.ref, key, collected_at, options)
