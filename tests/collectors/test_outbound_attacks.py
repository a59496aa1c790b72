"""Issue 13 items 1, 2 and 8: server-side request forgery and hostile sizes, performed.

A permitted host redirects a re-check to an internal service; a web page's rel="next"
points at one; a redirect chain never ends; a host answers with a huge body, a huge
error text or a long Retry-After. The internal service counts every hit: it must see none.
"""
from __future__ import annotations

import dataclasses
import json
import socket
import tracemalloc
from datetime import datetime, timezone

import pytest

from attackkit import SECRET, Site, internal_service, redirect
from casekit import seed
from collectors import web
from collectors.base import CollectOptions
from collectors.http import PoliteClient, SourceError, internal_host
from collectors.staging import find_manifests, read_staged_posts
from review import cases as cs
from review import rechecks, schools, users
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse.db import session

UA = "tagwatch-tests/0 (+https://example.org/tagwatch)"


class RedirectingInstance(MastodonReplayServer):
    """A permitted Mastodon host that, once `redirect_to` is set, answers status lookups
    with a 302 there (as a compromised or hostile instance would)."""

    redirect_to: str | None = None

    def answer(self, request, number):
        if self.redirect_to and request.path.startswith("/api/v1/statuses/"):
            from fakes.api import Reply
            return Reply(302, {}, {"Location": self.redirect_to})
        return super().answer(request, number)


def test_a_recheck_redirected_to_an_internal_service_never_reaches_it(settings):
    with internal_service() as internal, RedirectingInstance(max_lifetime=60) as instance:
        [case] = seed(settings, instance, [make_status(1, username="invented")], [0.9])
        with session(settings.db_path) as con:
            cs.review(con, case, "confirm", "ana")
            cs.report(con, case, "in-app", "R1", "ana")
            cs.answer(con, case, "removed", "We removed it.", "ana")
        instance.redirect_to = f"{internal.url}/latest/meta-data/iam/security-credentials/"
        for _ in range(2):   # the scheduled re-checks repeat: every one must refuse
            with settings.http_client() as client:
                done = rechecks.run(settings.db_path, client, [case])
        assert internal.hits == []
    assert done["rechecked"][0]["outcome"] == "error" and done["rechecked"][0]["moved_to"] is None
    with session(settings.db_path) as con:
        details = [r[0] for r in con.execute("SELECT detail FROM rechecks WHERE case_id = ?", [case]).fetchall()]
    assert len(details) == 2
    for detail in details:
        assert "redirect to another host" in detail and "not followed" in detail
        assert SECRET not in detail


def test_same_host_redirects_are_followed_a_few_times_then_refused(settings):
    def route(path):
        if path.startswith("/hop/"):
            n = int(path.rsplit("/", 1)[1])
            return redirect(f"/hop/{n + 1}") if n < 10 else (200, {}, b"{}")
        return 200, {"Content-Type": "application/json"}, json.dumps({"at": path}).encode()

    with Site(route) as site, PoliteClient(UA, configured=(site.url,)) as client:
        body, reply = client.get_json(f"{site.url}/hop/7")     # 7 -> 8 -> 9 -> 10: three hops
        assert body == {} and reply.url == f"{site.url}/hop/10"
        with pytest.raises(SourceError, match="redirected more than 3 times"):
            client.get_json(f"{site.url}/hop/1")
        assert len(site.hits) == 4 + 4


def test_an_off_host_next_link_during_a_web_collection_is_not_followed(tmp_path):
    with internal_service() as internal:
        page = (f'<html><body><article class="h-entry"><a class="u-url" href="/posts/1">post</a>'
                f'<p>#slapateacher today</p><time datetime="2026-02-20T10:00:00Z">x</time></article>'
                f'<a rel="next" href="{internal.url}/latest/meta-data/">older</a></body></html>')
        pages = {"/robots.txt": (200, {"Content-Type": "text/plain"}, b""),
                 "/tags/slapateacher": (200, {"Content-Type": "text/html"}, page.encode())}
        with Site(lambda path: pages.get(path, (404, {}, b"no"))) as site:
            options = CollectOptions(web_min_interval=0,
                                     clock=lambda: datetime(2026, 3, 1, tzinfo=timezone.utc))
            manifest = web.collect_tag(site.url + "/tags/{tag}", "slapateacher",
                                       staging_dir=tmp_path, run_id="r1", pseudonym_key=b"k",
                                       user_agent=UA, since="2026-01-01", options=options)
        assert internal.hits == []
    assert manifest.status == "capped" and "another host" in manifest.error
    [path] = find_manifests(tmp_path, "r1")
    assert [p["url"] for p in read_staged_posts(path)] == [f"{site.url}/posts/1"]


def test_a_web_page_redirecting_to_an_internal_service_is_refused(tmp_path):
    with internal_service() as internal:
        pages = {"/robots.txt": (200, {"Content-Type": "text/plain"}, b""),
                 "/tags/slapateacher": redirect(f"{internal.url}/admin")}
        with Site(lambda path: pages.get(path, (404, {}, b"no"))) as site:
            manifest = web.collect_tag(site.url + "/tags/{tag}", "slapateacher", staging_dir=tmp_path,
                                       run_id="r1", pseudonym_key=b"k", user_agent=UA,
                                       options=CollectOptions(web_min_interval=0))
        assert internal.hits == []
    assert manifest.status == "failed" and "redirect to another host" in manifest.error


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1",
                                  "[::1]", "[::ffff:169.254.169.254]", "169.254.169.254", "10.0.0.1",
                                  "192.168.1.1", "172.16.0.1", "0.0.0.0", "metadata.google.internal"])
def test_internal_addresses_in_any_spelling_are_recognised(host):
    assert internal_host(host)


def test_an_internal_address_is_contacted_only_when_configured():
    with internal_service() as internal:
        with PoliteClient(UA) as client:
            with pytest.raises(SourceError, match="not a configured source: not contacted"):
                client.get_json(f"{internal.url}/x")
        # a public-looking name that resolves to loopback is refused the same way
        with PoliteClient(UA, resolve=lambda host: ["127.0.0.1"]) as client:
            with pytest.raises(SourceError, match="internal or private"):
                client.get_json("http://rebind.example/x")
        assert internal.hits == []
        with PoliteClient(UA, configured=(internal.url,)) as client:
            client.get_json(f"{internal.url}/x")
        assert internal.hits == ["/x"]


class RebindingDNS:
    """An attacker's name server for `name`: a public address the first time it is asked
    (tagwatch's check), loopback every time after (the connection). Other names resolve
    as usual. Installed as socket.getaddrinfo, which both the check and the connect ask."""

    def __init__(self, name: str, real):
        self.name, self.real, self.asked = name, real, 0

    def __call__(self, host, port, *args, **kwargs):
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        self.asked += 1
        address = "93.184.216.34" if self.asked == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]


def test_dns_rebinding_to_an_internal_service_never_reaches_it(monkeypatch):
    with internal_service() as internal:
        port = internal.url.rsplit(":", 1)[1]
        dns = RebindingDNS("rebind.example", socket.getaddrinfo)
        monkeypatch.setattr(socket, "getaddrinfo", dns)
        with PoliteClient(UA) as client:
            with pytest.raises(SourceError) as refused:
                client.get_json(f"http://rebind.example:{port}/latest/meta-data/")
        assert dns.asked == 2   # public at the check, loopback at the connection
        assert internal.hits == []
        assert "led to the internal address 127.0.0.1" in str(refused.value)
        assert "not contacted" in str(refused.value) and SECRET not in str(refused.value)
        # the same name configured as a source (a local instance) is contacted: the DNS
        # above really does lead to the service, and only the peer check stopped it
        with PoliteClient(UA, configured=(f"rebind.example:{port}",)) as client:
            body, _ = client.get_json(f"http://rebind.example:{port}/ok")
        assert internal.hits == ["/ok"] and body["AccessKeyId"] == SECRET


def test_an_error_never_shows_the_raw_body():
    hostile = {"error": "<script>alert(1)</script>\x1b[31m" + "A" * 5000, "message": SECRET * 50}

    def route(path):
        if path == "/html":
            return 404, {"Content-Type": "text/html"}, b"<html>" + SECRET.encode() * 100 + b"</html>"
        return 400, {"Content-Type": "application/json"}, json.dumps(hostile).encode()

    with Site(route) as site, PoliteClient(UA, configured=(site.url,)) as client:
        with pytest.raises(SourceError) as err:
            client.get_json(f"{site.url}/json")
        message = str(err.value)
        assert len(message) < 400 and "\x1b" not in message and "HTTP 400" in message
        with pytest.raises(SourceError) as err:
            client.get_json(f"{site.url}/html")
        assert SECRET not in str(err.value) and "HTTP 404" in str(err.value)


def test_a_60_mb_status_is_refused_unread_by_the_intake_fetch(settings):
    chunk = b"x" * 65536

    def route(path):  # a status that never ends: 60 MB, chunked (no Content-Length to refuse on)
        return 200, {"Content-Type": "application/json"}, (chunk for _ in range(60 * 16))

    with Site(route) as site:
        client = schools.intake_client(dataclasses.replace(settings, intake_hosts=(site.url.split("//")[1],)))
        tracemalloc.start()
        try:
            with pytest.raises(SourceError, match="more than the 1,048,576 bytes allowed"):
                client.get_json(f"{site.url}/api/v1/statuses/1")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            client.close()
    print(f"peak memory while refusing a 60 MB status: {peak / 1e6:.1f} MB")
    assert peak < 8_000_000


def test_a_declared_huge_body_is_not_read_at_all(settings):
    with Site(lambda path: (200, {"Content-Length": str(60 * 2**20)}, iter(()))) as site:
        with PoliteClient(UA, configured=(site.url,), max_body=2**20) as client:
            with pytest.raises(SourceError, match="62,914,560 bytes, more than the 1,048,576 allowed"):
                client.get_json(f"{site.url}/big")


def test_the_intake_waits_at_most_a_few_seconds_for_retry_after(settings):
    with Site(lambda path: (429, {"Retry-After": "900"}, b"{}")) as site:
        client = schools.intake_client(dataclasses.replace(settings, intake_hosts=(site.url.split("//")[1],)))
        client.sleep = pytest.fail   # no wait at all: 900 s is refused at once
        with pytest.raises(SourceError, match="900 s, more than the 5 s allowed"):
            client.get_json(f"{site.url}/api/v1/statuses/1")
        client.close()


def test_an_intake_host_answering_with_another_post_is_refused(settings):
    """A permitted host answers for status 7 with status 99 (another post's uri): refused,
    so it cannot join a school to an unrelated case or overwrite its counts."""
    other = make_status(99, username="victim")

    class Liar(MastodonReplayServer):
        def answer(self, request, number):
            from fakes.api import Reply
            if request.path == "/api/v1/statuses/7":
                return Reply(200, other)
            return super().answer(request, number)

    with session(settings.db_path) as con:
        users.add_user(con, "head.fern", "school", "a long passphrase", "Fernbrook Academy")
    with Liar(max_lifetime=60) as server:
        s = dataclasses.replace(settings, intake_hosts=(server.url.split("//")[1],))
        [result] = schools.submit(s, "head.fern", [f"{server.url}/@someone/7"], "", "teacher")
    assert result["outcome"] == "not_fetched" and result["case_id"] is None
    with session(settings.db_path) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == 0
