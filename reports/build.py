"""Building a report: read the figures of the period and the one before (read-only),
lay them out, write the files.

The period, recipients, sender, folder and excerpts come from the caller (the
report settings of tagwatch.config).
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from reports import document, render
from warehouse import report_metrics
from warehouse.db import WarehouseError, session

_PERIOD = re.compile(r"^([1-9]\d{0,3})([dw])$")


class ReportError(WarehouseError):
    """A report that cannot be made as asked; the message says why and what to do."""


def parse_period(text: str) -> timedelta:
    """'7d' -> 7 days, '2w' -> 14 days."""
    m = _PERIOD.match((text or "").strip().lower())
    if not m:
        raise ReportError(f"cannot read the period {text!r}: use a number of days or weeks, e.g. 7d, 14d, 2w")
    n = int(m.group(1))
    if not 1 <= n * (7 if m.group(2) == "w" else 1) <= 3660:
        raise ReportError(f"the period {text!r} must cover 1 day to 10 years")
    return timedelta(days=n * (7 if m.group(2) == "w" else 1))


def parse_end(text: str | None, now: datetime | None = None) -> datetime:
    """None -> now; 'YYYY-MM-DD' -> the end of that day (the last day covered), UTC;
    an ISO date-time with a time zone -> that moment."""
    now = now or datetime.now(timezone.utc)
    if text is None:
        return now
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            moment = datetime.combine(date.fromisoformat(raw) + timedelta(days=1), time(), timezone.utc)
        else:
            moment = datetime.fromisoformat(raw)
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise ReportError(f"cannot read the end {text!r}: use a date (2026-03-08, the last day "
                          "covered) or a date-time with a time zone (2026-03-09T08:00+00:00)") from None
    if moment.tzinfo is None:
        raise ReportError(f"the end {text!r} has no time zone: add one (e.g. +00:00) or give a date")
    if moment - timedelta(days=1) > now:  # a day not begun yet: the report would be half empty
        raise ReportError(f"the end {text!r} is in the future: a report covers days up to today "
                          f"({now:%Y-%m-%d}) at the latest")
    return moment.astimezone(timezone.utc)


def build(db_path: Path, period: str, out_dir: Path, end: datetime | None = None,
          excerpts: bool = False, now: datetime | None = None) -> dict:
    """Write the report for the `period` ending at `end` (default now) from the warehouse at
    `db_path` (read-only) into `out_dir`."""
    length = parse_period(period)
    now = now or datetime.now(timezone.utc)
    # a plain UTC datetime (Airflow hands over pendulum's, whose arithmetic differs)
    end = datetime.fromtimestamp((end or now).timestamp(), tz=timezone.utc)
    start = end - length
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    with session(db_path, read_only=True) as con:
        missing = report_metrics.missing_tables(con)
        if missing:
            raise ReportError(
                f"the warehouse {db_path} has no {', '.join(missing)} table(s) yet: open it "
                "once with a command that writes (e.g. tagwatch load) to bring its schema up to date")
        cur = report_metrics.figures(con, start, end)
        prev = report_metrics.figures(con, start - length, start)
        texts = None
        if excerpts:
            ids = [c["case_id"] for c in cur["mismatch"]["cases"]]
            texts = dict(con.execute(
                f"SELECT case_id, text FROM evidence WHERE case_id IN ({', '.join('?' * len(ids))})",
                ids).fetchall()) if ids else {}
    doc = document.build(cur, prev, excerpts_of=texts, generated_at=now)
    files = render.write_all(doc, out_dir)
    return {"dir": str(out_dir), "title": doc.title, "empty": doc.empty, "start": start.isoformat(),
            "end": end.isoformat(), "files": [str(f) for f in files]}


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".tagwatch-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out_dir}: {exc.strerror or exc}") from None


def dated_folder(reports_dir: Path, end: datetime) -> Path:
    """<reports_dir>/<last day covered>, with -2, -3, ... when that folder is taken."""
    name = (end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    folder, n = reports_dir / name, 1
    while folder.exists():
        n += 1
        folder = reports_dir / f"{name}-{n}"
    return folder
