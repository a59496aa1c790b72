"""What every collector shares: its options, credentials, author fields, the time window.

Every platform module in collectors/ has a `collect_tag` of one shape:

    collect_tag(source, tag, *, staging_dir, run_id, pseudonym_key, user_agent,
                watermark=None, since=None, checkpoint=None, client=None,
                options=None) -> Manifest

`watermark` is the position the loader stored after the last finished collection,
`since` a backfill start chosen by the operator (it overrides the watermark),
`checkpoint` where an unfinished collection stopped (the loader keeps it), and
`options` the settings below. A collector writes staging only and turns every
source problem into a manifest status; only a missing credential raises. It
stages inside `collecting(...)`, which finishes every collection the same way.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from collectors.staging import MAX_TAG, StagingWriter, pseudonymise, utcnow

if TYPE_CHECKING:
    from collectors.http import PoliteClient


class MissingCredential(ValueError):
    """A credential the platform needs is not configured; the message names the variable."""


@dataclass(frozen=True)
class CollectOptions:
    """What a collector may need beyond where to write. These defaults are the defaults of
    the matching settings too (tagwatch.config reads them from here); collectors never read
    the environment: the application fills this in."""

    # Credentials by variable name (the application passes the environment, or an Airflow
    # Connection mapped to the same names: tagwatch.airflow_env.platform_credentials).
    credentials: Mapping[str, str] = field(default_factory=dict)
    state_dir: Path = Path("data") / "state"   # per-source state outside the warehouse (budgets)
    store_handles: bool = False         # keep raw handles too (default off: pseudonyms only)
    first_run_days: int = 7             # how far back a source with no watermark starts
    tiktok_daily_requests: int = 1000   # the Research API's daily request quota
    tiktok_region: str | None = None    # e.g. "GB": only videos from that region
    web_min_interval: float = 5.0       # seconds between two requests to one host (web pages)
    web_max_pages: int = 20             # pages followed per (page source, tag) and run
    web_pacer: Any = None               # a collectors.web.HostPacer (default: one per process)
    clock: Callable[[], datetime] = utcnow


@dataclass
class Collection:
    """One collection being staged: its writer, and the outcome the collector decides."""

    writer: StagingWriter
    status: str = "ok"
    error: str | None = None


@contextmanager
def collecting(client: "PoliteClient", own_client: bool, staging_dir: Path | str, run_id: str,
               platform: str, source: str, tag: str, **writer_options: Any) -> Iterator[Collection]:
    """Stage one collection in a StagingWriter and finish it the way every collector must.

    The block sets `status` and `error` on the Collection it gets (default "ok", None).
    When the block ends, the retries `client` made meanwhile are added to the manifest
    (a shared client may have retried for other tasks: only the difference counts) and
    the writer is closed with that status and error. If the block raises, the writer
    records the exception as a failure instead. Either way, a client the collector
    created (`own_client`) is closed. `writer_options` go to StagingWriter (asked,
    watermark_before, resume).
    """
    try:
        retries_before = client.retries
        with StagingWriter(staging_dir, run_id, platform, source, tag, **writer_options) as writer:
            run = Collection(writer)
            try:
                yield run
            except MissingCredential:
                raise
            except _MALFORMED as exc:  # the source sent something of a shape we cannot read
                run.status = "failed"
                run.error = (f"{source} sent data tagwatch cannot read "
                             f"({type(exc).__name__}: {str(exc)[:200]})")
            writer.manifest.retries += client.retries - retries_before
            writer.close(run.status, run.error)
    finally:
        if own_client:
            client.close()


def hashtag(tag: str) -> str:
    """'#Tag' -> 'tag'; ValueError for an empty tag or one longer than a hashtag can be."""
    name = (tag or "").strip().lstrip("#").lower()
    if not name:
        raise ValueError("not a hashtag: empty tag")
    if len(name) > MAX_TAG:
        raise ValueError(f"not a hashtag: {len(name):,} characters (at most {MAX_TAG})")
    return name


# What a collector's parsing raises on an answer of an unexpected shape (a missing key, a
# list for an object, a number too big, JSON nested too deeply): a failed collection.
_MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError,
              RecursionError)


def require(credentials: Mapping[str, str], name: str, platform: str) -> str:
    """The value of a credential, or a clear error naming the variable to set."""
    value = (credentials.get(name) or "").strip()
    if not value:
        raise MissingCredential(
            f"{platform} needs the credential {name}: set the environment variable {name} "
            f"(or the Airflow Connection tagwatch_{platform})")
    return value


def author_fields(key: bytes, platform: str, ref: str, handle: str | None,
                  store_handles: bool) -> dict[str, str | None]:
    """author_key (always a keyed pseudonym) and author_handle (only if the operator asked)."""
    return {"author_key": pseudonymise(key, platform, ref) if ref else None,
            "author_handle": handle if store_handles else None}


def start_of_collection(since: datetime | str | None, watermark_time: datetime | None,
                        options: CollectOptions, overlap: timedelta) -> datetime:
    """Where a time-based collection starts: --since, else the watermark minus an overlap
    (late-indexed posts are caught; repeats are dropped by URI/id), else first_run_days back."""
    if since is not None:
        return parse_since_date(since)
    if watermark_time is not None:
        return watermark_time - overlap
    return options.clock() - timedelta(days=options.first_run_days)


def parse_since_date(value: datetime | str) -> datetime:
    """'2026-01-31', '20260131' or an ISO datetime -> an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read the date {value!r}: use YYYY-MM-DD") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso_z(moment: datetime) -> str:
    """A UTC timestamp in one fixed format, so that text order is time order (watermarks)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_dict(value: Any, what: str, where: str) -> dict:
    """A JSON object from a response, or a SourceError saying what came instead."""
    from collectors.http import SourceError

    if not isinstance(value, dict):
        raise SourceError(f"{where} returned a JSON {type(value).__name__}, not {what}")
    return value


@contextmanager
def locked_state(path: Path) -> Iterator[dict]:
    """A small JSON file read and written under an exclusive lock.

    Collect tasks run as separate processes; a per-platform request count or a
    cached session must be read-modify-written by one of them at a time. The
    file is private (0600): it may hold a session token.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(path.suffix + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            state = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError):
            state = {}  # a damaged state file is started afresh, never trusted
        if not isinstance(state, dict):
            state = {}
        before = json.dumps(state, sort_keys=True)
        yield state
        if json.dumps(state, sort_keys=True) != before:
            tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
            fh = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fh, "w", encoding="utf-8") as out:
                json.dump(state, out)
            os.replace(tmp, path)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def state_file(options: CollectOptions, name: str) -> Path:
    """Where a collector keeps a piece of state (in `options.state_dir`)."""
    return Path(options.state_dir) / name
