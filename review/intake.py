"""A post a member reported directly: fetched, staged, loaded and scored like any other,
then given a case. The loader stays the only writer of posts."""
from __future__ import annotations

from typing import Callable

from collectors import platforms
from collectors.base import CollectOptions
from collectors.http import SourceError, plain
from collectors.staging import StagingWriter, new_run_id, safe_run_id, utcnow
from review import cases as cs
from review.schools import IntakeSettings
from warehouse import queries
from warehouse.db import session
from warehouse.loader import load_manifests

MEMBER_REPORT_TAG = "member-report"  # the collection_runs "tag" of posts fetched by URL


def open_url(settings: IntakeSettings, url: str, actor: str, score: Callable[[], object] | None = None,
             options: CollectOptions | None = None) -> int:
    """Fetch the post at `url` (any registered platform's post address), load it, open its
    case and `score()` the new posts (the application passes its scorer; None leaves them to
    the next run); returns the case id. `options` carry the platforms' credentials and
    state, as for collection.

    The URL is typed by a person: the server it names is contacted only under the
    outbound policy (an internal address only when it is a configured source: `tagwatch
    sources add`, TAGWATCH_INTAKE_HOSTS); a Bluesky or TikTok address is never contacted
    itself: the post is asked of the platform's configured API."""
    try:
        address = platforms.address_of(url)
    except ValueError as exc:
        raise cs.CaseError(f"{plain(url)}: {exc}") from None
    run_id = safe_run_id(new_run_id())
    with session(settings.db_path) as con:
        configured = [(s["platform"], s["base_url"]) for s in queries.sources(con)]
    allowed = (*(u for _, u in configured), *settings.intake_hosts)
    with settings.http_client(interactive=True, configured=allowed) as client:
        try:
            post = platforms.fetch_post(client, address, configured, settings.pseudonym_key,
                                        utcnow().isoformat(), options or CollectOptions())
        except (SourceError, ValueError) as exc:  # MissingCredential is a ValueError
            raise cs.CaseError(f"cannot fetch {plain(url)}: {exc}") from None
    with StagingWriter(settings.staging_dir, run_id, address.platform, post["source"], MEMBER_REPORT_TAG,
                       asked={"url": url}) as writer:
        writer.write_posts([post])
        manifest = writer.close("ok")
    with session(settings.db_path) as con:
        load_manifests(con, [manifest])
        case_id = cs.open_post(con, address.platform, post["post_id"], actor)
    if score is not None:
        score()
    return case_id
