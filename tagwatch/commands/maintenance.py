"""Operators: `tagwatch backup`, `tagwatch restore`, `tagwatch purge`.

    backup --out DIR [--include-key]      a consistent snapshot: warehouse, model registry,
                                          MANIFEST.json with every file's SHA-256
    restore DIR --db PATH [--force]       checksums verified first; never overwrites unasked
    purge --older-than 90d [--dry-run]    strip text, URL and author key of old posts in no
                                          open case; record it; give the space back
"""
from __future__ import annotations

import getpass
import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tagwatch.progress import progress

MANIFEST = "MANIFEST.json"
JOURNAL_FILE = "decisions.sqlite"
WAREHOUSE_FILE = "warehouse.duckdb"


def register(sub, common) -> None:
    p = sub.add_parser("backup", parents=[common], help="a consistent snapshot of the warehouse and models")
    p.add_argument("--out", required=True, metavar="DIR", help="a new folder to write the backup into")
    p.add_argument("--include-key", action="store_true",
                   help="also copy the pseudonym key (keep such a backup as safe as the key)")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", parents=[common], help="restore a backup (checksums verified)")
    p.add_argument("backup", metavar="DIR")
    p.add_argument("--force", action="store_true", help="replace an existing warehouse or model")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("purge", parents=[common],
                       help="retention: strip personal columns of old posts in no open case")
    p.add_argument("--older-than", required=True, metavar="PERIOD",
                   help="posts first seen longer ago than this: 90d, 12w")
    p.add_argument("--dry-run", action="store_true", help="only count what would be stripped")
    p.add_argument("--by", help="who purges, for the record (default: your user name)")
    p.set_defaults(func=cmd_purge)


def parse_days(text: str, what: str) -> timedelta:
    from tagwatch.console import UserError

    raw = (text or "").strip().lower()
    units = {"d": 1, "w": 7}
    if len(raw) < 2 or raw[-1] not in units or not raw[:-1].isdigit() or not 0 < int(raw[:-1]) <= 36500:
        raise UserError(f"cannot read {what} {text!r}: use a number of days or weeks, e.g. 90d, 12w")
    return timedelta(days=int(raw[:-1]) * units[raw[-1]])


# --- backup -----------------------------------------------------------------------------

def cmd_backup(args) -> int:
    from tagwatch.console import UserError, out, settings_from

    settings = settings_from(args)
    folder = Path(args.out)
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} exists and is not empty: give a new folder")
    if not settings.db_path.exists():
        raise UserError(f"no warehouse at {settings.db_path}")
    manifest = make_backup(settings, folder, include_key=args.include_key)
    out(f"backup of {settings.db_path} in {folder}: {sum(manifest['tables'].values())} rows in "
        f"{len(manifest['tables'])} tables, {len(manifest['models'])} model(s), "
        f"{manifest['bytes'] / 1e6:.1f} MB")
    key = settings.pseudonym_key_path
    if args.include_key:
        out("the pseudonym key is included: keep this backup as safe as the key itself")
    else:
        where = "TAGWATCH_PSEUDONYM_KEY" if os.environ.get("TAGWATCH_PSEUDONYM_KEY") else key
        out(f"the pseudonym key is NOT in the backup (it lives in {where}); keep it apart, "
            "or add --include-key")
    return 0


def make_backup(settings, out: Path, *, include_key: bool = False) -> dict:
    """Write the backup into `out` (through `out`.partial, renamed when whole)."""
    from warehouse.db import session
    from warehouse.maintenance import copy_database, sha256_file

    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with progress("backup: copying the warehouse") as advance:
        with session(settings.db_path, read_only=True, lock_wait=600) as con:
            tables = copy_database(con, partial / WAREHOUSE_FILE)
        advance(1)
    journal = Path(f"{settings.db_path}.decisions.sqlite")
    if journal.exists():  # review decisions waiting for the next writer (review.journal)
        _copy_sqlite(journal, partial / JOURNAL_FILE)
    models = []
    if settings.models_dir.is_dir():
        shutil.copytree(settings.models_dir, partial / "models",
                        ignore=shutil.ignore_patterns(".*"))  # not half-written model versions
        models = sorted(p.name for p in (partial / "models").iterdir() if p.is_dir())
    if include_key:
        key = os.environ.get("TAGWATCH_PSEUDONYM_KEY") or settings.pseudonym_key.decode()
        fd = os.open(partial / "pseudonym.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
    files = sorted(p for p in partial.rglob("*") if p.is_file())
    manifest = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "warehouse": str(settings.db_path.resolve()), "tables": tables, "models": models,
        "key_included": include_key,
        "key_location": "TAGWATCH_PSEUDONYM_KEY" if os.environ.get("TAGWATCH_PSEUDONYM_KEY")
        else str(settings.pseudonym_key_path.resolve()),
        "files": {str(p.relative_to(partial)): sha256_file(p) for p in files},
        "bytes": sum(p.stat().st_size for p in files),
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    if out.exists():
        out.rmdir()  # empty (checked by the caller)
    os.replace(partial, out)
    return manifest


def backup_and_rotate(settings) -> dict:
    """A new dated backup in TAGWATCH_BACKUP_DIR, then only the newest TAGWATCH_BACKUP_KEEP
    kept (and what an interrupted backup left, `*.partial`, removed): the weekly DAG."""
    base = Path(settings.backup_dir)
    base.mkdir(parents=True, exist_ok=True)
    folder = base / f"tagwatch-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    manifest = make_backup(settings, folder)
    for partial in base.glob("tagwatch-*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
    done = sorted(p for p in base.glob("tagwatch-*") if (p / MANIFEST).is_file())
    removed = done[: max(0, len(done) - max(1, settings.backup_keep))]
    for old in removed:
        shutil.rmtree(old)
    return {"backup": str(folder), "rows": sum(manifest["tables"].values()),
            "bytes": manifest["bytes"], "removed": [str(p) for p in removed]}


def _copy_sqlite(source: Path, dest: Path) -> None:
    """A consistent copy of an SQLite file that may be in use (SQLite's own backup)."""
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(dest) as out:
        src.backup(out)


def read_backup(folder: Path) -> dict:
    """The backup's manifest, after checking that every file it lists is there, unchanged."""
    from tagwatch.console import UserError
    from warehouse.maintenance import sha256_file

    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{folder} is not a tagwatch backup (no readable {MANIFEST}: {exc})") from None
    for name, digest in files.items():
        path = folder / name
        if ".." in Path(name).parts or not path.is_file():
            raise UserError(f"backup {folder}: {name} is missing")
        if sha256_file(path) != digest:
            raise UserError(f"backup {folder}: {name} does not match its checksum: not restored")
    return manifest


# --- restore ----------------------------------------------------------------------------

def cmd_restore(args) -> int:
    from tagwatch.console import UserError, out, settings_from
    from warehouse.db import session
    from warehouse.maintenance import swap_in, table_counts

    settings = settings_from(args)
    folder = Path(args.backup)
    manifest = read_backup(folder)
    target = settings.db_path
    if target.exists() and not args.force:
        raise UserError(f"{target} exists: restoring would replace it; add --force to do so")
    _restore_models(folder / "models", settings.models_dir, args.force)
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f".{target.name}.restore-{os.getpid()}")
    shutil.copyfile(folder / WAREHOUSE_FILE, incoming)
    try:
        with session(incoming, read_only=True) as con:
            counts = table_counts(con)
        if counts != manifest["tables"]:
            raise UserError(f"backup {folder}: the warehouse's row counts differ from the manifest")
        swap_in(target, incoming)
    finally:
        incoming.unlink(missing_ok=True)
    if (folder / JOURNAL_FILE).exists():
        shutil.copyfile(folder / JOURNAL_FILE, f"{target}.decisions.sqlite")
    if manifest.get("key_included"):
        key = settings.pseudonym_key_path
        if key.exists() and not args.force:
            out(f"kept the existing pseudonym key {key} (the backup's is in {folder})")
        else:
            key.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / "pseudonym.key", key)
            key.chmod(0o600)
    out(f"restored {target} from {folder} ({manifest['created_at']}): "
        f"{sum(counts.values())} rows in {len(counts)} tables, checksums verified; "
        f"{len(manifest['models'])} model(s) in {settings.models_dir}")
    return 0


def _restore_models(source: Path, models_dir: Path, force: bool) -> None:
    from tagwatch.console import UserError
    from warehouse.maintenance import sha256_file

    if not source.is_dir():
        return
    models_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        dest = models_dir / path.relative_to(source)
        if dest.exists() and sha256_file(dest) != sha256_file(path) and not force:
            raise UserError(f"{dest} exists with other content; add --force to replace it")
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        dest = models_dir / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.restore")
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)


# --- purge ------------------------------------------------------------------------------

def cmd_purge(args) -> int:
    from tagwatch.console import out, settings_from
    from warehouse.db import session
    from warehouse.maintenance import compact, retention_selection, strip_posts

    settings = settings_from(args)
    now = datetime.now(timezone.utc)
    cutoff = now - parse_days(args.older_than, "the period")
    closed_before = now - timedelta(days=settings.case_retention_days)
    posts_sql, params, evidence_sql, evidence_params = retention_selection(cutoff, closed_before)
    before = _size(settings.db_path)
    with progress("purge: stripping posts") as advance, session(settings.db_path) as con:
        report = strip_posts(con, posts_sql, params, evidence_sql=evidence_sql,
                             evidence_params=evidence_params, dry_run=args.dry_run,
                             reason=f"retention: first seen before {cutoff:%Y-%m-%d %H:%M} UTC, "
                                    f"cases closed before {closed_before:%Y-%m-%d}",
                             actor=args.by or getpass.getuser())
        advance(1)
    verb = "would strip" if args.dry_run else "stripped"
    out(f"{verb} text, URL and author key of {report.posts} post(s) first seen before "
        f"{cutoff:%Y-%m-%d} in no open case, and the evidence of {report.evidence} case(s) "
        f"closed before {closed_before:%Y-%m-%d}")
    if args.dry_run or report.purge_id is None:
        return 0
    with progress("purge: compacting the warehouse"):
        stripped, after = compact(settings.db_path)
    with session(settings.db_path) as con:
        con.execute("UPDATE purges SET bytes_before = ?, bytes_after = ? WHERE purge_id = ?",
                    [before, after, report.purge_id])
    out(f"warehouse {settings.db_path}: {before / 1e6:.2f} MB before, {stripped / 1e6:.2f} MB "
        f"once stripped (DuckDB keeps the space), {after / 1e6:.2f} MB after compaction "
        f"(recorded as purge {report.purge_id})")
    return 0


def _size(db: Path) -> int:
    """The warehouse's bytes on disk, its write-ahead log included."""
    wal = Path(f"{db}.wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
