"""The one writer of collected posts: merges staging files into the warehouse.

Everything happens in bulk SQL inside one transaction per load: DuckDB reads
every staging file at once (read_parquet), repeats are dropped in SQL on the
keys alone, and posts are upserted on their primary key. Loading the same staging twice
changes nothing; a staging file whose content changed (a task that was re-run)
is merged again, adding only what is new. A watermark moves only here, after
the posts it covers are committed, and only for a collection that finished.
A first load into an empty table writes its rows to a scratch table just before
that transaction (see `build_posts_load`); nothing a reader sees changes until
the transaction commits, and the scratch table is dropped whatever happens.
The tag totals the radar reads (warehouse/tag_totals.py) take each load's new posts in the
same transaction.
"""
from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from collectors.crashpoints import crashpoint
from collectors.staging import Manifest, find_manifests
from warehouse import queue_keys
from warehouse import tag_totals
from warehouse.db import WarehouseError, transaction

@dataclass
class LoadReport:
    files: int = 0                 # manifests merged in this load
    skipped: int = 0               # manifests already loaded with identical content
    received: int = 0              # staging rows read
    new_posts: int = 0             # rows added to `posts`
    failed: list[str] = field(default_factory=list)   # "source tag: error" of failed collections
    stopped: list[str] = field(default_factory=list)  # stopped by a quota; they continue next run
    per_task: list[dict] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _newer(candidate: str | None, current: str | None) -> bool:
    """Is `candidate` a later position than `current`? Ids of digits compare as numbers."""
    if candidate is None:
        return False
    if current is None:
        return True
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return candidate > current


def _pending(con: duckdb.DuckDBPyConnection, manifest_paths: list[Path]) -> tuple[list, int]:
    """Manifests (with their data file and checksum) not yet loaded with this content."""
    loaded = {
        (r[0], r[1], r[2], r[3]): r[4]
        for r in con.execute(
            "SELECT run_id, platform, source, tag, staging_sha256 FROM collection_runs"
        ).fetchall()
    }
    todo, skipped = [], 0
    for path in manifest_paths:
        try:
            manifest = Manifest.read(path)
        except (OSError, ValueError, TypeError) as exc:
            raise WarehouseError(f"unreadable staging manifest {path}: {exc}") from exc
        data_path = Path(path).parent / manifest.data_file
        if not data_path.exists():
            raise WarehouseError(f"staging manifest {path} names a missing data file {data_path}")
        sha = _sha256(data_path)
        key = (manifest.run_id, manifest.platform, manifest.source, manifest.tag)
        if loaded.get(key) == sha:
            skipped += 1
            continue
        todo.append((manifest, data_path, sha))
    return todo, skipped


def load_manifests(con: duckdb.DuckDBPyConnection, manifest_paths: list[Path],
                   before_commit: Callable[[], None] | None = None) -> LoadReport:
    """Merge the given staging files into the warehouse, all or nothing.

    `before_commit` is called inside the transaction just before it commits (a test holds
    a load open with it)."""
    report = LoadReport()
    todo, report.skipped = _pending(con, [Path(p) for p in manifest_paths])
    if not todo:
        return report
    files = [str(data_path) for _, data_path, _ in todo]
    now = datetime.now(timezone.utc)
    with _load_settings(con):
        try:
            report.received = stage_view(con, files)
            bulk = con.execute("SELECT NOT EXISTS (FROM posts)").fetchone()[0]
            keep_table(con, check_warehouse=not bulk)
            if bulk:
                build_posts_load(con)
            with transaction(con):
                if bulk:
                    swap_in_posts_load(con)
                    tag_totals.add_posts(con, _TOTALLED.format(posts="posts"))
                else:
                    con.execute(f"INSERT INTO posts {POST_COLUMNS} {_rows('k.is_new')}")
                    tag_totals.add_posts(con, _TOTALLED.format(posts=f"({_rows('k.is_new')})"))
                    _refresh_seen(con, _rows("NOT k.is_new"))
                    queue_keys.refresh_posts(con, _rows("NOT k.is_new"))   # new counts: reach
                new_by_file = {files[index]: n for index, n in con.execute(
                    f"SELECT row_key >> {_ROW_BITS}, count(*) FROM keep WHERE is_new GROUP BY ALL"
                ).fetchall()}
                report.new_posts = sum(new_by_file.values())
                done = [(manifest, data_path, sha, new_by_file.get(str(data_path), 0))
                        for manifest, data_path, sha in todo]
                _record_runs(con, done, now)
                _advance_watermarks(con, [manifest for manifest, *_ in done], now)
                _keep_checkpoints(con, [manifest for manifest, *_ in done], now)
                _store_tag_history(con, [manifest for manifest, *_ in done], now)
                _store_comment_fetches(con, [manifest for manifest, *_ in done], now)
                if before_commit is not None:
                    before_commit()
                crashpoint("load.before_commit")
        except duckdb.ConstraintException as exc:
            raise WarehouseError(f"staged posts break a rule of the warehouse, nothing was "
                                 f"loaded: {exc}") from exc
        finally:
            con.execute("DROP TABLE IF EXISTS posts_load")
            con.execute("DROP VIEW IF EXISTS staged")
            con.execute("DROP TABLE IF EXISTS keep")
    for manifest, data_path, sha, new in done:
        report.files += 1
        if manifest.status == "failed":
            report.failed.append(f"{manifest.source} #{manifest.tag}: {manifest.error}")
        if manifest.status == "quota":
            report.stopped.append(f"{manifest.source} #{manifest.tag}: {manifest.error}")
        report.per_task.append({
            "platform": manifest.platform, "source": manifest.source, "tag": manifest.tag,
            "status": manifest.status, "received": manifest.received, "new": new,
            "error": manifest.error,
        })
    return report


@contextmanager
def _load_settings(con: duckdb.DuckDBPyConnection):
    """Rows may be written in any order during a load (posts have no meaningful order):
    lets DuckDB write from both threads without re-ordering, ~0.2 s per million rows."""
    before = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


def stage_view(con: duckdb.DuckDBPyConnection, files: list[str]) -> int:
    """The staging files as the temp view `staged`; returns its row count."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW staged AS {_staged_sql(files)}")
        columns = {r[0] for r in con.execute("DESCRIBE staged").fetchall()}
        missing = [c for c in _LATER_COLUMNS if c not in columns]
        if missing:  # staged before these columns existed
            extra = "".join(f", NULL::VARCHAR AS {c}" for c in missing)
            con.execute(f"CREATE OR REPLACE TEMP VIEW staged AS SELECT *{extra} "
                        f"FROM ({_staged_sql(files)})")
        return con.execute("SELECT count(*) FROM staged").fetchone()[0]
    except duckdb.Error as exc:
        raise WarehouseError(f"a staging file could not be read: {exc}") from exc


def keep_table(con: duckdb.DuckDBPyConnection, *, check_warehouse: bool) -> None:
    """The temp table `keep`: one row key per post, its latest sighting, and whether it is new.

    Dedup on the keys only. The latest sighting is the largest (collected_at, row_key);
    packed into one HUGEINT (microseconds above, row key below) the maximum is a plain
    integer aggregate: 0.30 s instead of 0.50 s per million rows with a struct arg_max.
    """
    latest = (f"(max((coalesce(epoch_us(collected_at), 0)::HUGEINT << 64) | row_key)"
              f" & {(1 << 64) - 1})::BIGINT")
    keys = (f"SELECT platform, post_id, {latest} AS row_key FROM staged "
            "WHERE platform IS NOT NULL AND post_id IS NOT NULL GROUP BY platform, post_id")
    if check_warehouse:
        con.execute(f"CREATE OR REPLACE TEMP TABLE keep AS SELECT k.row_key, "
                    f"p.post_id IS NULL AS is_new FROM ({keys}) k "
                    f"LEFT JOIN posts p USING (platform, post_id)")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE keep AS SELECT row_key, TRUE AS is_new "
                    f"FROM ({keys})")


POST_COLUMNS = """(platform, post_id, url, text, created_at, hashtags, author_key, author_handle,
    lang, reply_count, share_count, like_count, view_count, source, source_post_id,
    first_seen_at, last_seen_at, parent_post_id)"""
# Staging columns added after the first release; older staging files lack them.
_LATER_COLUMNS = ("author_handle", "parent_post_id")


# The new posts as the tag totals take them (typed as in posts: staging may differ).
_TOTALLED = ("SELECT platform, first_seen_at::TIMESTAMPTZ AS first_seen_at, "
             "created_at::TIMESTAMPTZ AS created_at, hashtags::VARCHAR[] AS hashtags FROM {posts}")


_ROW_BITS = 40  # a row's key: the file's index above, its row number below


def _staged_sql(files: list[str]) -> str:
    """All staging files as one relation, each row keyed by (file index, row number).

    One integer key per row, rather than the file name, keeps the dedup and the
    join after it on integers: about a third faster on a million rows here.
    A view cannot take parameters, so the names go in as quoted literals.
    """
    parts = []
    for index, name in enumerate(files):
        quoted = "'" + name.replace("'", "''") + "'"
        parts.append(f"SELECT *, ({index}::BIGINT << {_ROW_BITS}) | file_row_number AS row_key "
                     f"FROM read_parquet({quoted}, file_row_number = true)")
    return " UNION ALL BY NAME ".join(parts)


def _rows(condition: str) -> str:
    """The kept staging rows matching `condition` on `keep k`, shaped as `posts` rows."""
    return f"""
        SELECT s.platform, s.post_id, s.url, s.text, s.created_at, s.hashtags, s.author_key,
               s.author_handle, s.lang, s.reply_count, s.share_count, s.like_count, s.view_count, s.source,
               s.source_post_id, s.collected_at AS first_seen_at, s.collected_at AS last_seen_at,
               s.parent_post_id
        FROM staged s SEMI JOIN (SELECT row_key FROM keep k WHERE {condition}) USING (row_key)
    """


def _refresh_seen(con: duckdb.DuckDBPyConnection, rows_sql: str) -> None:
    """Posts seen again: fresher counts and last_seen_at.

    Text, tags and URL stay as first captured (what a reviewer saw is what is
    kept; an edited post is a matter for evidence capture, not a silent
    overwrite), which also keeps this update to fixed-width columns: updating
    text and list columns of 400,000 rows took 40 s here, these take a fraction.
    """
    con.execute(
        f"""
        UPDATE posts SET
            reply_count = coalesce(x.reply_count, posts.reply_count),
            share_count = coalesce(x.share_count, posts.share_count),
            like_count = coalesce(x.like_count, posts.like_count),
            view_count = coalesce(x.view_count, posts.view_count),
            last_seen_at = greatest(posts.last_seen_at, x.last_seen_at)
        FROM ({rows_sql}) x
        WHERE posts.platform = x.platform AND posts.post_id = x.post_id
        """
    )


_PRIMARY_KEY = re.compile(r",\s*PRIMARY KEY\s*\(\s*platform\s*,\s*post_id\s*\)", re.IGNORECASE)
_CREATE_POSTS = re.compile(r"^CREATE TABLE posts\s*\(", re.IGNORECASE)


def build_posts_load(con: duckdb.DuckDBPyConnection) -> None:
    """First load into an empty `posts` (a backfill, an imported export): write the rows
    into `posts_load`, a keyless copy of the table's own catalogued definition.

    Inserting into a table that already has its primary-key index costs about 3 s
    per million rows here; adding the key to loaded rows about 1 s. This step
    commits on its own so that the key is then built from committed rows, which
    DuckDB does on both threads (built at the commit of the transaction that
    created the table, it takes one thread and ~0.4 s longer). `posts_load` is
    invisible to every reader and dropped whatever happens; posts change only in
    `swap_in_posts_load`, inside the load's one transaction.
    """
    ddl = con.execute(
        "SELECT sql FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'posts'"
    ).fetchone()[0]
    without_key, found = _PRIMARY_KEY.subn("", ddl)
    scratch, named = _CREATE_POSTS.subn("CREATE TABLE posts_load(", without_key)
    if found != 1 or named != 1:
        raise WarehouseError(f"unexpected definition of table posts: {ddl}")
    con.execute("DROP TABLE IF EXISTS posts_load")
    con.execute(scratch)
    con.execute(f"INSERT INTO posts_load {POST_COLUMNS} {_rows('TRUE')}")


def swap_in_posts_load(con: duckdb.DuckDBPyConnection) -> None:
    """Inside the load's transaction: key `posts_load` and make it `posts`."""
    if not con.execute("SELECT NOT EXISTS (FROM posts)").fetchone()[0]:
        raise WarehouseError("posts were added while this load ran; run the load again")
    indexes = [r[0] for r in con.execute(
        "SELECT sql FROM duckdb_indexes() WHERE schema_name = 'main' AND table_name = 'posts'"
    ).fetchall() if r[0]]
    con.execute("ALTER TABLE posts_load ADD PRIMARY KEY (platform, post_id)")
    con.execute("DROP TABLE posts")
    con.execute("ALTER TABLE posts_load RENAME TO posts")
    for sql in indexes:
        con.execute(sql)


def _unexpected_zero(con, manifest: Manifest) -> bool:
    """Nothing came back although the previous collection of this (source, tag) got posts."""
    if manifest.received or manifest.status != "ok":
        return False
    row = con.execute(
        "SELECT received FROM collection_runs WHERE platform = ? AND source = ? AND tag = ? "
        "AND run_id <> ? ORDER BY loaded_at DESC LIMIT 1",
        [manifest.platform, manifest.source, manifest.tag, manifest.run_id],
    ).fetchone()
    return bool(row and row[0])


_RUN_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("platform", pa.string()), ("source", pa.string()),
    ("tag", pa.string()), ("asked", pa.string()), ("pages", pa.int64()),
    ("received", pa.int64()), ("new", pa.int64()), ("duplicates", pa.int64()),
    ("retries", pa.int64()), ("watermark_before", pa.string()),
    ("watermark_after", pa.string()), ("status", pa.string()), ("error", pa.string()),
    ("started_at", pa.string()), ("finished_at", pa.string()),
    ("loaded_at", pa.timestamp("us", tz="UTC")), ("staging_file", pa.string()),
    ("staging_sha256", pa.string()), ("requests", pa.int64()), ("cap_hit", pa.bool_()),
    ("quota_hit", pa.bool_()), ("unexpected_zero", pa.bool_()), ("checkpoint", pa.string()),
])


def _record_runs(con, done: list, now) -> None:
    """One collection_runs row per (run, source, tag), all in one statement; a re-run
    task adds its new posts to the row it had."""
    rows: dict[tuple, dict] = {}
    for manifest, data_path, sha, new in done:
        key = (manifest.run_id, manifest.platform, manifest.source, manifest.tag)
        earlier = rows.get(key)
        rows[key] = {
            "run_id": manifest.run_id, "platform": manifest.platform,
            "source": manifest.source, "tag": manifest.tag,
            "asked": json.dumps(manifest.asked), "pages": manifest.pages,
            "received": manifest.received, "new": new + (earlier["new"] if earlier else 0),
            "duplicates": manifest.duplicates, "retries": manifest.retries,
            "watermark_before": manifest.watermark_before,
            "watermark_after": manifest.watermark_after, "status": manifest.status,
            "error": manifest.error, "started_at": manifest.started_at or None,
            "finished_at": manifest.finished_at or None, "loaded_at": now,
            "staging_file": str(data_path), "staging_sha256": sha,
            "requests": manifest.requests, "cap_hit": manifest.cap_hit,
            "quota_hit": manifest.quota_hit,
            "unexpected_zero": _unexpected_zero(con, manifest),
            "checkpoint": json.dumps(manifest.checkpoint) if manifest.checkpoint else None,
        }
    batch = pa.Table.from_pylist(list(rows.values()), schema=_RUN_SCHEMA)  # noqa: F841 (SQL)
    con.execute(
        """
        INSERT INTO collection_runs (run_id, platform, source, tag, asked, pages, received, new,
            duplicates, retries, watermark_before, watermark_after, status, error, started_at,
            finished_at, loaded_at, staging_file, staging_sha256, requests, cap_hit, quota_hit,
            unexpected_zero, checkpoint)
        SELECT run_id, platform, source, tag, asked, pages, received, new, duplicates, retries,
            watermark_before, watermark_after, status, error,
            TRY_CAST(started_at AS TIMESTAMPTZ), TRY_CAST(finished_at AS TIMESTAMPTZ), loaded_at,
            staging_file, staging_sha256, requests, cap_hit, quota_hit, unexpected_zero, checkpoint
        FROM batch
        ON CONFLICT (run_id, platform, source, tag) DO UPDATE SET
            asked = excluded.asked, pages = excluded.pages, received = excluded.received,
            new = new + excluded.new, duplicates = excluded.duplicates,
            retries = excluded.retries, watermark_before = excluded.watermark_before,
            watermark_after = excluded.watermark_after, status = excluded.status,
            error = excluded.error, started_at = excluded.started_at,
            finished_at = excluded.finished_at, loaded_at = excluded.loaded_at,
            staging_file = excluded.staging_file, staging_sha256 = excluded.staging_sha256,
            requests = excluded.requests, cap_hit = excluded.cap_hit,
            quota_hit = excluded.quota_hit, unexpected_zero = excluded.unexpected_zero,
            checkpoint = excluded.checkpoint
        """
    )


_KEYED = pa.schema([("platform", pa.string()), ("source", pa.string()), ("tag", pa.string()),
                    ("value", pa.string()), ("run_id", pa.string()),
                    ("updated_at", pa.timestamp("us", tz="UTC"))])


def _keep_checkpoints(con, manifests: list[Manifest], now) -> None:
    """Remember where an unfinished collection continues; forget it once one finishes.
    Manifests apply in order: per (platform, source, tag) the last that says anything wins."""
    last: dict[tuple, Manifest] = {}
    for manifest in manifests:
        if manifest.checkpoint or manifest.status == "ok":
            last[(manifest.platform, manifest.source, manifest.tag)] = manifest
    keep = [{"platform": m.platform, "source": m.source, "tag": m.tag,
             "value": json.dumps(m.checkpoint), "run_id": m.run_id, "updated_at": now}
            for m in last.values() if m.checkpoint]
    forget = [{"platform": m.platform, "source": m.source, "tag": m.tag, "value": None,
               "run_id": m.run_id, "updated_at": now}
              for m in last.values() if not m.checkpoint]
    if keep:
        batch = pa.Table.from_pylist(keep, schema=_KEYED)  # noqa: F841 (read by the SQL)
        con.execute("INSERT OR REPLACE INTO collection_checkpoints (platform, source, tag, "
                    "checkpoint, run_id, updated_at) SELECT * FROM batch")
    if forget:
        batch = pa.Table.from_pylist(forget, schema=_KEYED)  # noqa: F841 (read by the SQL)
        con.execute("DELETE FROM collection_checkpoints c USING batch b WHERE "
                    "c.platform = b.platform AND c.source = b.source AND c.tag = b.tag")


def _store_tag_history(con, manifests: list[Manifest], now) -> None:
    """The per-day use counts sources reported for their tags (one row per day and tag)."""
    latest: dict[tuple, dict] = {}
    for manifest in manifests:
        for h in manifest.extra.get("tag_history") or []:
            key = (manifest.platform, manifest.source, manifest.tag, str(h.get("day")))
            latest[key] = {"platform": key[0], "source": key[1], "tag": key[2], "day": key[3],
                           "uses": _text(h.get("uses")), "accounts": _text(h.get("accounts"))}
    if not latest:
        return
    batch = pa.Table.from_pylist(list(latest.values()), schema=pa.schema([  # noqa: F841
        ("platform", pa.string()), ("source", pa.string()), ("tag", pa.string()),
        ("day", pa.string()), ("uses", pa.string()), ("accounts", pa.string())]))
    con.execute(
        "INSERT OR REPLACE INTO tag_history (platform, source, tag, day, uses, accounts, "
        "fetched_at) SELECT platform, source, tag, TRY_CAST(day AS DATE), TRY_CAST(uses AS BIGINT), "
        "TRY_CAST(accounts AS BIGINT), ? "
        "FROM batch WHERE TRY_CAST(day AS DATE) IS NOT NULL", [now])


def _text(value) -> str | None:
    return None if value is None else str(value)


def _store_comment_fetches(con, manifests: list[Manifest], now) -> None:
    """Which posts had their comments fetched (so the next run does not ask again)."""
    latest: dict[tuple, dict] = {}
    for manifest in manifests:
        for item in manifest.extra.get("comment_fetches") or []:
            key = (manifest.platform, manifest.source, str(item["post_id"]))
            latest[key] = {"platform": key[0], "source": key[1], "post_id": key[2],
                           "comments": item.get("comments"), "run_id": manifest.run_id}
    if not latest:
        return
    batch = pa.Table.from_pylist(list(latest.values()), schema=pa.schema([  # noqa: F841
        ("platform", pa.string()), ("source", pa.string()), ("post_id", pa.string()),
        ("comments", pa.int64()), ("run_id", pa.string())]))
    con.execute("INSERT OR REPLACE INTO comment_fetches (platform, source, post_id, comments, "
                "run_id, fetched_at) SELECT *, ? FROM batch", [now])


def _advance_watermarks(con, manifests: list[Manifest], now) -> None:
    """Per (platform, source, tag), the furthest watermark of an ok collection, never
    moving backwards."""
    current = {(r[0], r[1], r[2]): r[3] for r in con.execute(
        "SELECT platform, source, tag, value FROM watermarks").fetchall()}
    moved: dict[tuple, dict] = {}
    for manifest in manifests:
        if manifest.status != "ok" or not manifest.watermark_after:
            continue
        key = (manifest.platform, manifest.source, manifest.tag)
        if not _newer(manifest.watermark_after, current.get(key)):
            continue
        current[key] = manifest.watermark_after
        moved[key] = {"platform": key[0], "source": key[1], "tag": key[2],
                      "value": manifest.watermark_after, "run_id": manifest.run_id,
                      "updated_at": now}
    if moved:
        batch = pa.Table.from_pylist(list(moved.values()), schema=_KEYED)  # noqa: F841
        con.execute("INSERT OR REPLACE INTO watermarks (platform, source, tag, value, run_id, "
                    "updated_at) SELECT * FROM batch")


def load_staging(con: duckdb.DuckDBPyConnection, staging_dir: Path,
                 run_id: str | None = None, before_commit=None) -> LoadReport:
    """Load every finished staging task under `staging_dir` (or only one run's)."""
    return load_manifests(con, find_manifests(staging_dir, run_id), before_commit)


@dataclass
class PruneReport:
    removed: list[Path] = field(default_factory=list)   # manifests whose task was removed
    freed_bytes: int = 0
    kept_unloaded: int = 0      # not loaded, or changed since it was loaded: never removed
    kept_recent: int = 0        # loaded, but more recently than the cutoff


def prune_staging(con: duckdb.DuckDBPyConnection, staging_dir: Path, loaded_before: datetime,
                  *, dry_run: bool = False) -> PruneReport:
    """Remove staging tasks the warehouse holds: loaded before `loaded_before`, with the
    very content that was loaded (same SHA-256 as in collection_runs). Anything else is
    kept: a task not loaded yet, or re-written since, still has posts to give."""
    ledger = {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in con.execute(
        "SELECT run_id, platform, source, tag, staging_sha256, loaded_at FROM collection_runs"
    ).fetchall()}
    report = PruneReport()
    for path in find_manifests(staging_dir):
        try:
            manifest = Manifest.read(path)
        except (OSError, ValueError, TypeError):
            report.kept_unloaded += 1  # unreadable: the loader will say so; not ours to delete
            continue
        data_path = path.parent / manifest.data_file
        loaded = ledger.get((manifest.run_id, manifest.platform, manifest.source, manifest.tag))
        if not data_path.exists() or loaded is None or loaded[0] != _sha256(data_path):
            report.kept_unloaded += 1
            continue
        if loaded[1] >= loaded_before:
            report.kept_recent += 1
            continue
        report.removed.append(path)
        report.freed_bytes += data_path.stat().st_size + path.stat().st_size
        if not dry_run:
            path.unlink()  # the manifest first: a half-removed task is never "finished"
            data_path.unlink()
            try:
                path.parent.rmdir()  # the run's directory, once empty
            except OSError:
                pass
    return report


def checkpoints(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], dict]:
    """Where each unfinished (platform, source, tag) collection continues."""
    return {
        (r[0], r[1], r[2]): json.loads(r[3])
        for r in con.execute(
            "SELECT platform, source, tag, checkpoint FROM collection_checkpoints").fetchall()
    }


def watermarks(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], str]:
    return {
        (r[0], r[1], r[2]): r[3]
        for r in con.execute("SELECT platform, source, tag, value FROM watermarks").fetchall()
    }
