"""Staging files: the only thing collectors write.

A collect task for one (source, tag) writes two files into
``<staging_dir>/<run_id>/``:

* ``<stem>.parquet``: one row per post (columns: ``POST_SCHEMA``), written a row
  group at a time so memory stays flat however many posts a tag has; Parquet
  because the loader reads it several times faster than JSON and with its
  types (timestamps, lists) already in place;
* ``<stem>.manifest.json``: written last and atomically (tmp + rename), it is
  what the loader reads; a data file without a manifest is an unfinished task
  and is ignored.

A retry of the same task writes the same file names again, so a rerun replaces
its own earlier output instead of adding to it. The loader (warehouse.loader) is
the only writer of the warehouse.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.private import private_dir
from collectors.crashpoints import crashpoint

_TS = pa.timestamp("us", tz="UTC")
# Every row of a staging data file has exactly these columns.
POST_SCHEMA = pa.schema([
    ("platform", pa.string()),        # 'mastodon', 'bluesky', 'tiktok', ...
    ("post_id", pa.string()),         # globally unique id on that platform (Mastodon: the status URI)
    ("url", pa.string()),             # link a reviewer can open
    ("text", pa.string()),            # plain text (HTML already turned into text)
    ("created_at", _TS),              # given as datetime or ISO 8601 text
    ("hashtags", pa.list_(pa.string())),  # lower-cased tags without '#'
    ("author_key", pa.string()),      # keyed pseudonym, never the handle
    ("author_handle", pa.string()),   # null unless the operator turned TAGWATCH_STORE_HANDLES on
    ("lang", pa.string()),
    ("reply_count", pa.int64()),      # platform counts where given, else null
    ("share_count", pa.int64()),
    ("like_count", pa.int64()),
    ("view_count", pa.int64()),
    ("source", pa.string()),          # where it was fetched from (e.g. the instance base URL)
    ("source_post_id", pa.string()),  # the id at that source (for re-checks through the same API)
    ("collected_at", _TS),            # when the collector saw it (default: now)
    ("parent_post_id", pa.string()),  # a comment: the post_id of the post it comments on
])
POST_FIELDS = tuple(POST_SCHEMA.names)
ROW_GROUP_ROWS = 5000

# ok: everything asked for was fetched; failed: a source problem stopped it (see error);
# capped: a page or result cap stopped it; quota: the daily request budget stopped it.
# A failed or quota collection with a checkpoint continues from there next time.
STATUSES = ("ok", "failed", "capped", "quota")


def new_run_id() -> str:
    """The id of a run started by hand (Airflow names its own)."""
    return "manual__" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def safe_run_id(run_id: str) -> str:
    """Airflow run ids contain ':' and '+'; staging folder names should not."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(value: Any) -> datetime | None:
    """A timezone-aware datetime from a datetime, ISO 8601 text or epoch seconds; None if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        parsed = datetime.fromisoformat(str(value).strip())
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# Bounds on what outsiders write (every platform's posts pass through here): a post's text,
# a hashtag, how many hashtags, a URL. A longer text is cut (and says so); a longer tag is
# not a hashtag and is dropped; a post URL is kept only when it is http(s), since it is
# shown as a link (a javascript: URL would run).
MAX_TEXT = 50_000
MAX_TAG = 100
MAX_TAGS = 100
MAX_URL = 2048
CUT_MARK = " […cut]"


def bounded(row: dict[str, Any]) -> dict[str, Any]:
    """The staging row with its text, hashtags and URL within the bounds above."""
    text = row.get("text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        row["text"] = text[:MAX_TEXT] + CUT_MARK
    tags = row.get("hashtags")
    if isinstance(tags, list):
        row["hashtags"] = [t for t in tags if isinstance(t, str) and 0 < len(t) <= MAX_TAG][:MAX_TAGS]
    row["url"] = web_url(row.get("url"))
    return row


def web_url(url: Any) -> str | None:
    """`url` when it is an http(s) address of a sane length, else None."""
    if not isinstance(url, str) or len(url) > MAX_URL:
        return None
    scheme = url.strip().split(":", 1)[0].lower() if ":" in url else ""
    return url.strip() if scheme in ("http", "https") and url.strip()[len(scheme):].startswith("://") else None


def _clean(value: Any) -> Any:
    """Text that UTF-8 can hold: a lone surrogate from a hostile JSON escape becomes U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
    elif isinstance(value, list):
        return [_clean(v) for v in value]
    return value


_INT64 = (-(1 << 63), (1 << 63) - 1)


def _as_int(value: Any) -> int | None:
    """A count as a 64-bit integer; None if it is not one (a playCount of 10**30 is no count)."""
    try:
        number = None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float('inf'))
        return None
    return number if number is None or _INT64[0] <= number <= _INT64[1] else None


def pseudonymise(key: bytes, platform: str, author_ref: str) -> str:
    """Keyed pseudonym (HMAC-SHA256) of an author: stable, not reversible without the key."""
    msg = f"{platform}\x00{author_ref}".encode("utf-8", "surrogatepass")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def file_stem(platform: str, source: str, tag: str) -> str:
    """A filesystem-safe, collision-free name for one (platform, source, tag)."""
    ident = f"{platform}|{source}|{tag}"
    readable = re.sub(r"[^a-z0-9]+", "-", f"{platform}-{source}-{tag}".lower()).strip("-")[:80]
    digest = hashlib.sha256(ident.encode()).hexdigest()[:10]
    return f"{readable}-{digest}"


@dataclass
class Manifest:
    """What one collect task asked for, got, and how it ended."""

    run_id: str
    platform: str
    source: str
    tag: str
    data_file: str                      # file name of the NDJSON beside the manifest
    asked: dict[str, Any] = field(default_factory=dict)   # request parameters
    pages: int = 0
    received: int = 0                   # posts received (before dedup)
    duplicates: int = 0                 # dropped as repeats within this task
    retries: int = 0
    status: str = "ok"                  # one of STATUSES
    error: str | None = None
    watermark_before: str | None = None
    watermark_after: str | None = None  # proposed; the loader stores it only if status == 'ok'
    requests: int = 0                   # HTTP requests sent, retries included
    cap_hit: bool = False               # the source's result cap was reached (even if worked around)
    quota_hit: bool = False             # the request budget or the platform's quota was reached
    checkpoint: dict[str, Any] | None = None  # where an unfinished collection continues
    extra: dict[str, Any] = field(default_factory=dict)  # side data for the loader (tag history)
    started_at: str = ""
    finished_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class SeenIds:
    """The post ids a task has written, in 8 bytes each (a 64-bit BLAKE2b of the id): an
    import of millions of items keeps tens of megabytes here, not a Python set of strings
    (about 100 bytes an id). Recent ids wait in a small set; every MERGE_EVERY they join a
    sorted array, searched by bisection. Two ids share a hash with a chance of about n^2 / 2^65
    (2 million ids: 1 in 10 million), which would drop the second as a repeat."""

    MERGE_EVERY = 1 << 16

    def __init__(self) -> None:
        self._recent: set[int] = set()
        self._sorted = np.empty(0, dtype=np.uint64)

    @staticmethod
    def _key(post_id) -> int:
        return int.from_bytes(hashlib.blake2b(str(post_id).encode("utf-8"), digest_size=8).digest(), "little")

    def __contains__(self, post_id) -> bool:
        return self._has(self._key(post_id))

    def __len__(self) -> int:
        return len(self._recent) + int(self._sorted.size)

    @property
    def merged_bytes(self) -> int:
        """Bytes of the sorted array (the ids merged so far)."""
        return int(self._sorted.nbytes)

    def _has(self, key: int) -> bool:
        if key in self._recent:
            return True
        at = int(np.searchsorted(self._sorted, np.uint64(key)))
        return at < self._sorted.size and int(self._sorted[at]) == key

    def add(self, post_id) -> bool:
        """Remember `post_id`; False if it was there already."""
        key = self._key(post_id)
        if self._has(key):
            return False
        self._recent.add(key)
        if len(self._recent) >= self.MERGE_EVERY:
            self._sorted = np.union1d(self._sorted, np.fromiter(self._recent, dtype=np.uint64,
                                                                count=len(self._recent)))
            self._recent.clear()
        return True


class StagingWriter:
    """Writes one task's posts and, on close, its manifest.

    Use as a context manager; posts are flushed page by page.
    """

    def __init__(self, staging_dir: Path, run_id: str, platform: str, source: str, tag: str,
                 asked: dict[str, Any] | None = None, watermark_before: str | None = None,
                 resume: bool = False):
        self.dir = private_dir(Path(staging_dir) / run_id)  # posts, URLs: for tagwatch's user only
        stem = file_stem(platform, source, tag)
        self.data_path = self.dir / f"{stem}.parquet"
        self.manifest_path = self.dir / f"{stem}.manifest.json"
        previous = self._resumable(resume)
        # A retry replaces an earlier attempt of the same task (carrying its posts over if resuming).
        self.manifest_path.unlink(missing_ok=True)
        self.manifest = Manifest(
            run_id=run_id, platform=platform, source=source, tag=tag,
            data_file=self.data_path.name, asked=dict(asked or {}),
            watermark_before=watermark_before, started_at=utcnow().isoformat(),
        )
        self._buffer: list[dict[str, Any]] = []
        self._seen = SeenIds()
        self.closed = False
        # Where the earlier attempt of this task stopped, when this one continues it.
        self.resumed_from: dict[str, Any] | None = None
        self._lock: int | None = None
        if previous is None:
            self._writer = pq.ParquetWriter(self.data_path, POST_SCHEMA)
            self._hold()
        else:
            self._carry_over(previous)

    def _hold(self) -> None:
        """Lock the data file while this writer lives: a sweep (`sweep_orphans`) removes a
        data file without manifest only when no living writer holds it. The OS drops the
        lock when the process dies, however it dies."""
        self._lock = os.open(self.data_path, os.O_RDONLY)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _resumable(self, resume: bool) -> Manifest | None:
        """The earlier attempt's manifest, if it stopped at a checkpoint this attempt can continue."""
        if not resume or not self.manifest_path.exists() or not self.data_path.exists():
            return None
        try:
            previous = Manifest.read(self.manifest_path)
        except (OSError, ValueError, TypeError):
            return None
        return previous if previous.checkpoint and previous.status in ("failed", "quota") else None

    def _carry_over(self, previous: Manifest) -> None:
        """Copy the earlier attempt's posts into this attempt's file, a row group at a time."""
        earlier = self.data_path.with_suffix(".earlier.parquet")
        os.replace(self.data_path, earlier)
        self._writer = pq.ParquetWriter(self.data_path, POST_SCHEMA)
        self._hold()
        for batch in pq.ParquetFile(earlier).iter_batches(batch_size=ROW_GROUP_ROWS):
            table = pa.Table.from_batches([batch]).select(POST_FIELDS).cast(POST_SCHEMA)
            self._writer.write_table(table)
            for post_id in table.column("post_id").to_pylist():
                self._seen.add(post_id)
        earlier.unlink()
        m = self.manifest
        m.pages, m.received, m.duplicates = previous.pages, previous.received, previous.duplicates
        m.retries, m.requests = previous.retries, previous.requests
        m.cap_hit, m.quota_hit = previous.cap_hit, previous.quota_hit
        m.watermark_after = previous.watermark_after
        m.extra = dict(previous.extra)
        self.resumed_from = previous.checkpoint

    def write_posts(self, posts: Iterable[dict[str, Any]]) -> int:
        """Append posts; repeats of a post_id already written by this task are dropped."""
        written = 0
        now = utcnow()
        for post in posts:
            self.manifest.received += 1
            if not self._seen.add(post["post_id"]):
                self.manifest.duplicates += 1
                continue
            row = bounded({k: _clean(post.get(k)) for k in POST_FIELDS})
            row["created_at"] = parse_time(row["created_at"])
            row["collected_at"] = parse_time(row["collected_at"]) or now
            for count in ("reply_count", "share_count", "like_count", "view_count"):
                row[count] = _as_int(row[count])
            self._buffer.append(row)
            written += 1
        if len(self._buffer) >= ROW_GROUP_ROWS:
            self._flush()
        crashpoint("staging.page")
        return written

    def _flush(self) -> None:
        rows, self._buffer = self._buffer, []  # taken first: a refused batch is not tried again
        if not rows:
            return
        try:
            table = pa.Table.from_pylist(rows, schema=POST_SCHEMA)
        except (pa.ArrowException, OverflowError, TypeError) as exc:
            raise ValueError(f"a post could not be staged: {str(exc)[:200]}") from None
        self._writer.write_table(table)

    def close(self, status: str = "ok", error: str | None = None) -> Path:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if status == "ok":
            self.manifest.checkpoint = None  # nothing left to continue
        self._flush()
        self._writer.close()
        self.closed = True
        self.manifest.status = status
        self.manifest.error = error
        self.manifest.finished_at = utcnow().isoformat()
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(self.manifest.to_json(), encoding="utf-8")
        os.replace(tmp, self.manifest_path)
        self._release()
        return self.manifest_path

    def abort(self) -> None:
        """Give up this task: close and remove its data file, write no manifest, so a
        refused input leaves nothing behind in staging."""
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.close()
        finally:
            self.data_path.unlink(missing_ok=True)
            self._release()
            try:
                self.dir.rmdir()  # the run's folder, if this task was all it held
            except OSError:
                pass

    def __enter__(self) -> "StagingWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.closed:
            if exc is None:
                self.close("ok")
            else:
                self.close("failed", f"{type(exc).__name__}: {exc}")


@dataclass
class Sweep:
    removed: list[Path] = field(default_factory=list)   # data files of dead, unfinished tasks
    busy: int = 0                                        # unfinished tasks still being written


def sweep_orphans(staging_dir: Path, *, dry_run: bool = False) -> Sweep:
    """Remove what a killed task left in staging: a data file without its manifest (and
    leftover temp files) that no living writer holds. Such a file was never loadable; the
    task's next attempt collects it again from the position the warehouse kept."""
    report = Sweep()
    base = Path(staging_dir)
    if not base.is_dir():
        return report
    for data in sorted(base.glob("*/*.parquet")):
        stem = data.name[: -len(".parquet")]
        if data.with_name(f"{stem}.manifest.json").exists() and not stem.endswith(".earlier"):
            continue
        try:
            fd = os.open(data, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report.busy += 1
            continue
        finally:
            os.close(fd)  # closing drops the lock taken just above, if any
        report.removed.append(data)
        if not dry_run:
            data.unlink(missing_ok=True)
    if not dry_run:
        for tmp in base.glob("*/*.manifest.tmp"):
            if utcnow().timestamp() - tmp.stat().st_mtime > 600:  # a rename takes microseconds
                tmp.unlink(missing_ok=True)
        for folder in base.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return report


def finished_task(staging_dir: Path, run_id: str, platform: str, source: str,
                  tag: str) -> Manifest | None:
    """The manifest of a task of this run that finished ("ok") and still has its data file."""
    folder = Path(staging_dir) / run_id
    stem = file_stem(platform, source, tag)
    path = folder / f"{stem}.manifest.json"
    try:
        manifest = Manifest.read(path)
    except (OSError, ValueError, TypeError):
        return None
    return manifest if manifest.status == "ok" and (folder / manifest.data_file).exists() else None


def find_manifests(staging_dir: Path, run_id: str | None = None) -> list[Path]:
    base = Path(staging_dir)
    pattern = f"{run_id}/*.manifest.json" if run_id else "*/*.manifest.json"
    return sorted(base.glob(pattern))


def read_staged_posts(manifest_path: Path) -> list[dict[str, Any]]:
    """The posts a finished task staged (for tests and debugging; the loader reads in SQL)."""
    manifest = Manifest.read(manifest_path)
    return pq.read_table(Path(manifest_path).parent / manifest.data_file).to_pylist()
