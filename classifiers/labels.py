"""Analysts' labels in the warehouse: importing them, and reading them back for training.

`labels` (migration 002) holds every label with who added it, when and from
where: imports (source 'import:<file name>') and review decisions (source
'review'). Training reads the newest label of each distinct text.
"""
from __future__ import annotations

import csv
import getpass
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from classifiers import data as d
from collectors.crashpoints import crashpoint
from warehouse.db import transaction

OPTIONAL = ("platform", "post_id", "category")


@dataclass
class ImportReport:
    files: int
    rows: int
    added: int
    duplicates: int  # rows whose text and label were already in `labels`


def read_label_file(path: Path) -> list[dict]:
    """Rows of one CSV/NDJSON label file, checked whole: ValueError naming the line if bad."""
    rows = []
    try:
        for line, record in d.records(path, ["text", "label"]):
            text = record.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{path}: line {line}: empty text")
            if "\x00" in text:
                raise ValueError(f"{path}: line {line}: the text contains a NUL byte")
            row = {"text": text, "label": d.parse_label(record.get("label"), path, line)}
            for name in OPTIONAL:
                value = record.get(name)
                row[name] = str(value).strip() if value not in (None, "") else None
            if (row["platform"] is None) != (row["post_id"] is None):
                raise ValueError(f"{path}: line {line}: give both platform and post_id, or neither")
            if row["category"] is not None:
                category = d.CATEGORY_OF.get(row["category"].lower())
                if category is None and row["category"].lower() != "none":
                    raise ValueError(f"{path}: line {line}: unknown category {row['category']!r} "
                                     f"(known: {', '.join(sorted(d.CATEGORY_OF))}, none)")
                row["category"] = category
            rows.append(row)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: no labelled rows")
    return rows


def import_files(con, paths: Sequence[str | Path], added_by: str | None = None) -> ImportReport:
    """Check every file, then add all their rows in one transaction (all or nothing)."""
    if not paths:
        raise ValueError("no label files given")
    added_by = added_by or getpass.getuser()
    records = []
    for path in map(Path, paths):
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        source = f"import:{path.name}"
        records += [{**row, "source": source} for row in read_label_file(path)]
        crashpoint("labels.read")
    table = pa.table({
        "text": [r["text"] for r in records],
        "label": pa.array([r["label"] for r in records], pa.int16()),
        "category": [r["category"] for r in records],
        "platform": [r["platform"] for r in records],
        "post_id": [r["post_id"] for r in records],
        "source": [r["source"] for r in records],
        "ord": list(range(len(records))),
    })
    with transaction(con):
        con.register("incoming_labels", table)
        try:
            # The first of repeated (text, label) rows, and only if `labels` lacks it.
            added = con.execute(
                """
                INSERT INTO labels (text, label, category, platform, post_id, source, added_by)
                SELECT text, label, category, platform, post_id, source, ? FROM incoming_labels i
                WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.text = i.text AND l.label = i.label)
                QUALIFY row_number() OVER (PARTITION BY text, label ORDER BY ord) = 1
                ORDER BY ord
                """, [added_by]).fetchall()
            crashpoint("labels.before_commit")
        finally:
            con.unregister("incoming_labels")
    added_rows = int(added[0][0]) if added else 0  # DuckDB answers an INSERT with its row count
    return ImportReport(len(paths), len(records), added_rows, len(records) - added_rows)


def labels_dataset(con) -> d.Dataset | None:
    """The newest label of each distinct text, as a training Dataset (None if there are none)."""
    rows = con.execute(
        """
        SELECT text, label, category FROM labels
        WHERE withdrawn_at IS NULL  -- a review decision that was undone teaches nothing
        QUALIFY row_number() OVER (PARTITION BY text ORDER BY added_at DESC, label_id DESC) = 1
        ORDER BY text
        """).fetchall()
    if not rows:
        return None
    digest = hashlib.sha256()
    for text, label, category in rows:
        digest.update(f"{label}\t{category or ''}\t{text}\n".encode("utf-8", "surrogatepass"))
    sources = con.execute("SELECT string_agg(DISTINCT source, ', ' ORDER BY source) FROM labels"
                          ).fetchone()[0]
    return d.Dataset(d.LABELS_NAME, f"warehouse labels ({sources})", digest.hexdigest(),
                     [r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.int64),
                     d.LABELS, None, [r[2] if r[1] else None for r in rows])
