"""One record per platform (collectors/platforms.py): every registered platform has all its
parts, and the registry alone drives collection, re-checks, intake by URL, credentials and
the Airflow pools: a platform added to it (a toy one here, with its own local fake) is
collected, loaded, re-checked and opened by URL with no other change."""
from __future__ import annotations

import importlib
import inspect

import pytest

from collectors import platforms
from collectors.base import CollectOptions, MissingCredential, collecting
from collectors.http import SourceError
from collectors.platforms import PLATFORMS, Platform, PostAddress
from collectors.staging import utcnow
from fakes.api import FakeAPIServer, Reply
from review import rechecks
from tagwatch import airflow_env, pipeline
from warehouse import queries
from warehouse.db import session

COLLECT_ARGS = {"staging_dir", "run_id", "pseudonym_key", "user_agent", "watermark", "since",
                "checkpoint", "client", "options"}


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_every_registered_platform_has_all_its_parts(name):
    p = PLATFORMS[name]
    assert p.name == name and p.description and p.pool == f"tagwatch_{name}"
    assert COLLECT_ARGS <= set(inspect.signature(p.collect).parameters)
    assert p.pool_slots >= 1 and p.pool_note
    assert all(c.startswith("TAGWATCH_") for c in p.credentials)
    assert (p.parse_url is None) == (p.fetch is None)         # intake needs both or neither
    assert not p.url_hosts or p.parse_url is not None
    assert bool(p.exports) == (p.export_to_post is not None)   # `tagwatch import` needs both
    module, _, cls = p.fake.partition(":")
    fake = getattr(importlib.import_module(module), cls)
    assert issubclass(fake, FakeAPIServer)
    with fake(max_lifetime=10) as server:                      # it starts and answers
        assert server.url.startswith("http://127.0.0.1:")


def test_only_web_pages_have_no_recheck_and_no_intake_and_imports_are_tiktok_exports():
    assert {n for n, p in PLATFORMS.items() if p.lookup is None} == {"web"}
    assert {n for n, p in PLATFORMS.items() if p.parse_url is None} == {"web"}
    assert {f: p.name for f, p in platforms.export_formats().items()} == {"zeeschuimer": "tiktok",
                                                                          "4cat": "tiktok"}


@pytest.mark.parametrize("url, platform, ref, source", [
    ("https://mastodon.example/@someone/110", "mastodon", "110", "https://mastodon.example"),
    ("https://bsky.app/profile/pupil.example.social/post/3kabc", "bluesky",
     "at://pupil.example.social/app.bsky.feed.post/3kabc", None),
    ("https://bsky.app/profile/did:plc:abc123/post/3kabc/", "bluesky",
     "at://did:plc:abc123/app.bsky.feed.post/3kabc", None),
    ("https://www.tiktok.com/@someone_invented/video/7301234567890123456?lang=en", "tiktok",
     "7301234567890123456", None),
    ("https://tiktok.com/@someone_invented/video/7301234567890123456", "tiktok", "7301234567890123456", None),
])
def test_intake_urls_are_parsed_by_the_platform_they_belong_to(url, platform, ref, source):
    assert platforms.address_of(url) == PostAddress(platform, url, ref, source)


@pytest.mark.parametrize("url, error, message", [
    ("https://www.youtube.com/watch?v=1", platforms.UnknownPlatform, "unknown platform"),
    ("https://bsky.app/search?q=teacher", ValueError, "not a Bluesky post address"),
    ("https://www.tiktok.com/@someone_invented", ValueError, "not a TikTok video address"),
    ("http://[::1", ValueError, "not a valid web address"),
])
def test_unknown_and_malformed_urls_are_refused(url, error, message):
    with pytest.raises(error, match=message):
        platforms.address_of(url)


# --- a platform added to the registry is used everywhere ------------------------------------

class ToyFake(FakeAPIServer):
    """GET /posts?tag=T -> [{id, text}]; GET /posts/ID -> {id, text} or 404."""

    def __init__(self, posts: dict[str, str], **kwargs):
        super().__init__(**kwargs)
        self.posts = posts

    def route(self, request):
        if request.path == "/posts":
            return Reply(200, [{"id": i, "text": t} for i, t in self.posts.items()
                               if f"#{request.query.get('tag')}" in t])
        post_id = request.path.rsplit("/", 1)[-1]
        return Reply(200, {"id": post_id, "text": self.posts[post_id]}) if post_id in self.posts \
            else Reply(404, {"error": "not found"})


def toy_post(item: dict, source: str, collected_at: str) -> dict:
    return {"platform": "toy", "post_id": item["id"], "url": f"https://toy.example/p/{item['id']}",
            "text": item["text"], "hashtags": [w[1:] for w in item["text"].split() if w.startswith("#")],
            "source": source, "source_post_id": item["id"], "collected_at": collected_at}


def toy_collect(source, tag, *, staging_dir, run_id, pseudonym_key, user_agent, watermark=None,
                since=None, checkpoint=None, client=None, options=None):
    options = options or CollectOptions()
    if not options.credentials.get("TAGWATCH_TOY_TOKEN"):
        raise MissingCredential("toy needs TAGWATCH_TOY_TOKEN")
    with collecting(client, False, staging_dir, run_id, "toy", source, tag) as run:
        items, _ = client.get_json(f"{source}/posts", params={"tag": tag})
        run.writer.write_posts([toy_post(i, source, utcnow().isoformat()) for i in items])
    return run.writer.manifest


def toy_lookup(client, target, options):
    url = f"{target['source']}/posts/{target['source_post_id']}"
    try:
        client.get_json(url)
    except SourceError as exc:
        return {"url": url, "http_status": exc.status, "state": "gone" if exc.status == 404 else "error",
                "detail": str(exc)}
    return {"url": url, "http_status": 200, "state": "online", "detail": None}


def toy_fetch(client, source, ref, key, collected_at, options):
    item, _ = client.get_json(f"{source}/posts/{ref}")
    return toy_post(item, source, collected_at)


TOY = Platform(
    "toy", "a toy platform", collect=toy_collect, lookup=toy_lookup,
    parse_url=lambda url: PostAddress("toy", url, url.rstrip("/").rsplit("/", 1)[-1]),
    fetch=toy_fetch, url_hosts=("toy.example",), credentials=("TAGWATCH_TOY_TOKEN",),
    pool_slots=3, pool_note="toy collect tasks", default_source=None, fake=f"{__name__}:ToyFake")


def test_a_platform_added_to_the_registry_is_collected_rechecked_opened_by_url_and_pooled(
        settings, monkeypatch, fake_servers):
    monkeypatch.setitem(PLATFORMS, "toy", TOY)
    fake = fake_servers(ToyFake, {"1": "a toy post #slapateacher", "2": "another toy post #slapateacher",
                                  "3": "off topic"})
    with session(settings.db_path) as con:
        queries.source_add(con, "toy", fake.url)
        queries.watchlist_add(con, "slapateacher", "banned", None)
    planned = pipeline.plan(settings)
    assert [(t["platform"], t["source"], t["tag"]) for t in planned] == [("toy", fake.url, "slapateacher")]
    with pytest.raises(MissingCredential, match="TAGWATCH_TOY_TOKEN"):
        pipeline.check_credentials(["toy"], {})
    manifest = pipeline.collect(planned[0], "run-1", settings, credentials={"TAGWATCH_TOY_TOKEN": "t"})
    assert manifest["status"] == "ok" and manifest["received"] == 2
    assert pipeline.load("run-1", settings)["new_posts"] == 2
    # re-checks ask the toy's own lookup
    fake.posts.pop("2")
    seen = [rechecks.observe(fake_client(settings, fake), {"platform": "toy", "source": fake.url,
                                                          "source_post_id": i}) for i in ("1", "2")]
    assert [s["state"] for s in seen] == ["online", "gone"]
    # intake by URL: parsed by the toy, fetched from its configured source
    address = platforms.address_of("https://toy.example/p/3")
    post = platforms.fetch_post(fake_client(settings, fake), address, [("toy", fake.url)], b"k",
                                utcnow().isoformat(), CollectOptions())
    assert (post["platform"], post["post_id"], post["source"]) == ("toy", "3", fake.url)
    assert ("tagwatch_toy", 3, "toy collect tasks") in airflow_env.pools()


def fake_client(settings, fake):
    client = settings.http_client()
    client.configure(fake.url)  # a loopback fake is contacted only as a configured source
    return client
