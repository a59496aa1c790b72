"""A post a member reported directly: fetched, staged, loaded and scored like any other,
then given a case. The loader stays the only writer of posts."""
from __future__ import annotations

from typing import Callable

from collectors import mastodon
from collectors.http import SourceError, plain
from collectors.staging import StagingWriter, new_run_id, safe_run_id, utcnow
from review import cases as cs
from review.schools import IntakeSettings
from warehouse import queries
from warehouse.db import session
from warehouse.loader import load_manifests

MEMBER_REPORT_TAG = "member-report"  # the collection_runs "tag" of posts fetched by URL


def open_url(settings: IntakeSettings, url: str, actor: str, score: Callable[[], object] | None = None) -> int:
    """Fetch the post at `url`, load it, open its case and `score()` the new posts (the
    application passes its scorer; None leaves them to the next run); returns the case id.

    The URL is typed by a person: an internal address is fetched only when it is a
    configured source (`tagwatch sources add`, TAGWATCH_INTAKE_HOSTS)."""
    source, status_id = mastodon.parse_status_url(url)
    run_id = safe_run_id(new_run_id())
    with session(settings.db_path) as con:
        configured = [s["base_url"] for s in queries.sources(con)]
    with settings.http_client(interactive=True,
                              configured=(*configured, *settings.intake_hosts)) as client:
        try:
            status = mastodon.fetch_status(client, source, status_id)
        except SourceError as exc:
            raise cs.CaseError(f"cannot fetch {plain(url)}: {exc}") from exc
    post = mastodon.status_to_post(status, source, settings.pseudonym_key, utcnow().isoformat())
    with StagingWriter(settings.staging_dir, run_id, mastodon.PLATFORM, source, MEMBER_REPORT_TAG,
                       asked={"url": url}) as writer:
        writer.write_posts([post])
        manifest = writer.close("ok")
    with session(settings.db_path) as con:
        load_manifests(con, [manifest])
        case_id = cs.open_post(con, mastodon.PLATFORM, post["post_id"], actor)
    if score is not None:
        score()
    return case_id
