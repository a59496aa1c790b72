"""`tagwatch import --format zeeschuimer|4cat FILE.ndjson`: captured items -> staging -> loader.

The formats and what an item becomes come from the platform registry (a platform's
`exports` and `export_to_post`, collectors/platforms.py). Today: Zeeschuimer (the browser
extension) and 4CAT export TikTok's own item structure as NDJSON, one item per line:
Zeeschuimer wraps each item as {"data": item, ...}, 4CAT writes the item itself (both
layouts are accepted for either format); collectors.tiktok.export_item_to_post makes it
the same post as the Research API collector does, so an export and the API never double
a video.

A Zeeschuimer line's `timestamp_collected` (when the extension captured the item) becomes the
post's first sighting, so an export gathered over weeks keeps its days and the day's lists
(flagged, radar, report) read only their days; a line without it is seen now.

The whole file is read and checked before the warehouse is touched: a broken
line stops the import with its line number and leaves the warehouse as it was.
Importing the same file again adds nothing (same staging run, same checksum).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from collectors.crashpoints import crashpoint
from collectors.platforms import export_formats
from collectors.staging import Manifest, StagingWriter, find_manifests, utcnow
from tagwatch.progress import progress

FORMATS = tuple(export_formats())   # from the platform registry (collectors/platforms.py)
BATCH = 1000


class ImportFileError(ValueError):
    """The export file cannot be imported; the message names the file and line."""


def register(sub, common) -> None:
    p = sub.add_parser("import", parents=[common],
                       help="load a platform export (TikTok: Zeeschuimer or 4CAT NDJSON) into the warehouse")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("file", metavar="FILE.ndjson")
    p.add_argument("--no-score", action="store_true", help="load only")
    p.set_defaults(func=cmd_import)


def cmd_import(args) -> int:
    from tagwatch import pipeline
    from tagwatch.console import UserError, out, settings_from
    from tagwatch.training import ensure_model

    settings = settings_from(args)
    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    run_id = stage_export(path, args.format, settings)
    report = pipeline.load(run_id, settings)
    out(f"imported {path.name}: {report['received']} item(s), {report['new_posts']} new post(s)")
    if not args.no_score:
        ensure_model(settings)
        scored = pipeline.score_new(settings)
        out(f"scored {scored['scored']} new post(s): {scored['flagged']} flagged")
        # The radar's matches and counts of the new days, as the DAG does after each load.
        radar = pipeline.refresh_radar(settings)
        out(f"radar: {radar['matched']} new tag(s) matched, {radar['proposals']} proposal(s)")
    return 0


def stage_export(path: Path, fmt: str, settings) -> str:
    """Write the export's items to staging (all or nothing); return the staging run id.

    The run id comes from the file's content, so importing it again (after a crash, or
    by mistake) finds its finished staging task and stages nothing new.
    """
    if fmt not in FORMATS:
        raise ImportFileError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    platform = export_formats()[fmt].name
    digest = _file_digest(path)[:16]
    run_id = f"import__{fmt}__{digest}"
    if _already_staged(settings.staging_dir, run_id):
        return run_id
    writer = StagingWriter(settings.staging_dir, run_id, platform, f"import:{fmt}", path.name,
                           asked={"file": path.name, "format": fmt, "sha256_16": digest})
    try:
        _write_items(path, fmt, settings, writer)
    except BaseException as exc:  # a refused file, a crash or Ctrl-C: no half task is left
        writer.abort()
        if isinstance(exc, UnicodeDecodeError):
            raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        raise
    crashpoint("import.staged")
    writer.close("ok")
    crashpoint("import.manifest")
    return run_id


def _write_items(path: Path, fmt: str, settings, writer: StagingWriter) -> None:
    key, store_handles = settings.pseudonym_key, settings.store_handles
    platform = export_formats()[fmt]
    batch: list[dict[str, Any]] = []
    collected_at = utcnow().isoformat()
    with open(path, encoding="utf-8", errors="strict") as lines, \
            progress(f"staging {path.name}", total=path.stat().st_size, unit="B") as advance:
        for number, line in enumerate(lines, 1):
            advance(len(line))
            if not line.strip():
                continue
            try:
                item, captured = _item(line, path, number, fmt, platform.name)
                batch.append(platform.export_to_post(item, fmt, key, captured or collected_at,
                                                     store_handles))
            except ValueError as exc:
                if isinstance(exc, ImportFileError):
                    raise
                raise ImportFileError(f"{path.name}:{number}: {exc}") from None
            if len(batch) >= BATCH:
                _write_batch(writer, batch, path, number)
                batch = []
    if batch:
        _write_batch(writer, batch, path, number)


def _write_batch(writer: StagingWriter, batch: list[dict], path: Path, number: int) -> None:
    try:
        writer.write_posts(batch)
    except ValueError as exc:
        raise ImportFileError(f"{path}, lines up to {number}: {exc}") from None
    writer.manifest.pages += 1


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _already_staged(staging_dir: Path, run_id: str) -> bool:
    """Did an earlier import of this very file finish staging it (manifest and data)?"""
    for path in find_manifests(staging_dir, run_id):
        try:
            manifest = Manifest.read(path)
        except (OSError, ValueError, TypeError):
            return False
        return manifest.status == "ok" and (path.parent / manifest.data_file).exists()
    return False


def _item(line: str, path: Path, number: int, fmt: str, platform: str) -> tuple[dict, str | None]:
    """The line's item, and when the extension captured it (Zeeschuimer's
    `timestamp_collected`, milliseconds; None when the line does not say)."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ImportFileError(f"{path}, line {number}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ImportFileError(f"{path}, line {number}: JSON nested too deeply") from None
    if not isinstance(record, dict):
        raise ImportFileError(f"{path}, line {number}: a JSON {type(record).__name__}, "
                              f"not a {platform} item object")
    item = record.get("data") if isinstance(record.get("data"), dict) else record
    if not isinstance(item.get("id"), (str, int)) or isinstance(item.get("id"), bool) \
            or str(item.get("id")).strip() == "":
        raise ImportFileError(f"{path}, line {number}: no item id: is this a {fmt} export of "
                              f"{platform} items?")
    return item, _captured(record.get("timestamp_collected") if item is not record else None,
                           path, number)


def _captured(value, path: Path, number: int) -> str | None:
    """Zeeschuimer's capture time (ms since 1970) as the posts' first sighting: an export
    gathered over weeks keeps its days. A time still to come is taken as now."""
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        moment = datetime.fromtimestamp(value / 1000, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ImportFileError(f"{path}, line {number}: timestamp_collected {str(value)[:40]!r} "
                              "is not a time") from None
    return min(moment, datetime.now(timezone.utc)).isoformat()
