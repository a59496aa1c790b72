"""The education report: figures against hand-computed ones, the HTML through a real
parser, the PDF turned back into text, privacy of every output, bad input, and the email
delivered to a local SMTP server."""
from __future__ import annotations

import base64
import csv
import email
import io
import os
import subprocess
import sys
from datetime import datetime, timezone
from email import policy
from html.parser import HTMLParser
from pathlib import Path

import pytest

import reportkit
from smtpkit import free_port, smtp_server  # noqa: F401 (fixtures)
from reports import build as rb
from reports import document, render
from reports.redact import excerpt
from warehouse import report_metrics as rm
from warehouse.db import session

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]


@pytest.fixture
def warehouse(settings):
    cases = reportkit.build(settings)
    return settings, cases


def run(settings, *args, env=None):
    full = {**os.environ, **settings.to_env(), **(env or {})}
    return subprocess.run([*TAGWATCH, *args], capture_output=True, text=True, env=full, timeout=300)


# --- the figures ----------------------------------------------------------------------------

def test_figures_match_the_hand_computed_ones(warehouse):
    settings, cases = warehouse
    with session(settings.db_path, read_only=True) as con:
        cur = rm.figures(con, reportkit.START, reportkit.END)
        prev = rm.figures(con, reportkit.PREVIOUS_START, reportkit.START)
    # p1..p7 first seen in the week; flagged: all but p5; confirmed p1 p2 p4 p6; p3 dismissed
    assert cur["totals"] == {"posts": 7, "flagged": 6, "confirmed": 4, "flags_reviewed": 5,
                             "flags_confirmed": 4, "precision": pytest.approx(4 / 5)}
    assert prev["totals"]["posts"] == 3 and prev["totals"]["precision"] == pytest.approx(1 / 2)
    platforms = {r["platform"]: (r["posts"], r["flagged"], r["confirmed"], r["precision"])
                 for r in cur["by_platform"]}
    assert platforms == {"mastodon": (5, 4, 3, 1.0), "bluesky": (2, 2, 1, 0.5)}
    # sl4pateacher counts under slapateacher; p3 under both of its watched tags
    tags = {r["tag"]: (r["posts"], r["flagged"], r["confirmed"]) for r in cur["by_tag"]}
    assert tags == {"exposeyourteacher": (3, 3, 1), "slapateacher": (3, 3, 3), "ratemyteacher": (2, 1, 0)}
    assert cur["reports"] == {"reports": 4, "cases": 4, "first_reports": 4}
    at = {o["horizon"]: o for o in cur["outcomes"]}
    assert (at["48 h"]["removed"], at["48 h"]["no_violation"], at["48 h"]["no_answer"]) == (2, 1, 1)
    # p4 was reported on 4 March 20:00: its 7 days end after the period (its late answer is ignored)
    assert (at["7 d"]["removed"], at["7 d"]["no_answer"], at["7 d"]["not_yet_due"]) == (2, 0, 1)
    assert {o["horizon"]: (o["no_answer"], o["not_yet_due"]) for o in prev["outcomes"]} == \
        {"48 h": (1, 0), "7 d": (0, 1)}
    spans = {d["span"]: (d["cases"], d["median_hours"], d["p90_hours"]) for d in cur["durations"]}
    # first seen -> reported 2, 4, 12, 20 h: median 8, p90 12 + 0.7 * 8 = 17.6
    assert spans["first seen -> reported"] == (4, pytest.approx(8.0), pytest.approx(17.6))
    # reported -> answer 10, 24, 30 h: median 24, p90 24 + 0.8 * 6 = 28.8
    assert spans["reported -> platform answer"] == (3, pytest.approx(24.0), pytest.approx(28.8))
    # reported -> offline 26, 48 h: median 37, p90 26 + 0.9 * 22 = 45.8
    assert spans["reported -> verified offline"] == (2, pytest.approx(37.0), pytest.approx(45.8))
    m = cur["mismatch"]
    assert (m["removed_claims"], m["still_online"], m["rate"]) == (2, 1, 0.5)
    assert (m["no_violation_answers"], m["later_offline"]) == (1, 1)
    assert [(c["case_id"], c["reference"]) for c in m["cases"]] == \
        [(cases["p1"], "MST-REF-1001"), (cases["p2"], "MST-REF-1002")]
    # at the end: p1 (6 d), p4 (5 d), p6 back online (4 d), q1 (13 d); at the previous end q1 (6 d)
    assert [b["posts"] for b in cur["still_online"]] == [0, 3, 1, 0]
    assert [b["posts"] for b in prev["still_online"]] == [0, 1, 0, 0]
    assert cur["resurfacing"]["tags"] == [{"tag": "slapateacher", "posts": 3, "flagged": 3,
                                           "variant_spellings": 1, "platforms": "bluesky, mastodon",
                                           "matched_by": "leet"}]
    assert cur["resurfacing"]["removed_posts_back"] == 1
    assert [r["posts"] for r in prev["resurfacing"]["tags"]] == [1]
    models = {r["model_version"]: (r["flagged"], r["reviewed"], r["overturned"]) for r in cur["models"]["by_version"]}
    assert models == {"model-a": (4, 4, 1), "model-b": (2, 1, 0)}
    assert cur["models"]["current"] == "model-b"
    assert (cur["models"]["labels_from_review"], prev["models"]["labels_from_review"]) == (5, 2)
    # per platform: mastodon reported p1 p2 p4, p1 removed in 10 h (p4's removal came after the
    # end); p2 verified offline 48 h after its report, p1 found online after "removed";
    # bluesky reported p6, account suspended in 24 h, offline 26 h after the report
    by = {r["platform"]: r for r in cur["by_platform_decisions"]}
    assert [r["platform"] for r in cur["by_platform_decisions"]] == ["mastodon", "bluesky"]
    assert {k: by["mastodon"][k] for k in ("reported", "removed_48h", "taken_down", "removed_claims")} == \
        {"reported": 3, "removed_48h": 1, "taken_down": 1, "removed_claims": 1}
    assert by["mastodon"]["takedown_rate"] == pytest.approx(1 / 3)
    assert by["mastodon"]["median_hours_offline"] == pytest.approx(48.0)
    assert by["mastodon"]["mismatch_rate"] == 1.0
    assert (by["mastodon"]["ground_illegal"], by["mastodon"]["ground_terms"],
            by["mastodon"]["automated_decisions"]) == (0, 1, 0)
    assert (by["bluesky"]["reported"], by["bluesky"]["removed_48h"], by["bluesky"]["takedown_rate"],
            by["bluesky"]["median_hours_offline"], by["bluesky"]["mismatch_rate"]) == (1, 1, 1.0, 26.0, 0.0)
    assert (by["bluesky"]["ground_illegal"], by["bluesky"]["ground_terms"],
            by["bluesky"]["automated_decisions"]) == (1, 0, 1)
    # the previous period: q1 reported on Mastodon, never answered
    assert [(r["platform"], r["reported"], r["taken_down"]) for r in prev["by_platform_decisions"]] == \
        [("mastodon", 1, 0)]


# --- the files ------------------------------------------------------------------------------

class _Page(HTMLParser):
    """Tables (by the CSV they mirror), images, scripts and links of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.images, self.scripts, self.links, self.text = {}, [], 0, [], []
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a["data-csv"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(a)
        elif tag == "script":
            self.scripts += 1
        elif tag == "a":
            self.links.append(a.get("href"))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(str(path)).pages)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


@pytest.fixture
def built(warehouse, tmp_path):
    settings, cases = warehouse
    out = tmp_path / "report"
    proc = run(settings, "report", "--period", "7d", "--end", "2026-03-08", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, cases


@pytest.mark.slow
def test_the_html_is_self_contained_and_its_tables_are_the_csv_files(built):
    out, _ = built
    page = parse(out / "report.html")
    assert page.scripts == 0 and page.links == []
    assert len(page.images) == 5
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert img["alt"]
    for name, rows in page.tables.items():
        on_disk = read_csv(out / name)
        assert rows[0] == on_disk[0]
        assert [[c.replace("–", "") for c in r] for r in rows[1:]] == \
            [[f"{float(c):.1f}" if "." in c and c.replace(".", "").replace("-", "").isdigit() else c
              for c in r] for r in on_disk[1:]]
    summary = {r[0]: r[1:] for r in page.tables["summary.csv"][1:]}
    assert summary["precision of flags (%)"] == ["80.0", "50.0", "30.0"]
    assert summary["mismatch rate (%)"] == ["50.0", "–", "–"]
    assert summary["median hours first seen -> reported"] == ["8.0", "3.0", "5.0"]
    assert summary["confirmed posts still online at the end"] == ["4", "1", "3"]
    times = {r[0]: r[1:] for r in page.tables["response_times.csv"][1:]}
    assert times["reported -> platform answer"] == ["3", "24.0", "28.8", "–"]
    # the email body is the same page with the charts as inline attachments
    mail = parse(out / "email.html")
    assert sorted(i["src"] for i in mail.images) == sorted(f"cid:{p.name}" for p in (out / "charts").glob("*.png"))
    assert mail.tables == page.tables


@pytest.mark.slow
def test_the_pdf_says_the_same_figures(built):
    out, cases = built
    text = " ".join(pdf_text(out / "report.pdf").split())
    assert "tagwatch report: Mon 2 Mar 2026 to Sun 8 Mar 2026" in text
    assert "precision of flags (%) 80.0 50.0 30.0" in text
    assert "mismatch rate (%) 50.0" in text
    assert f"{cases['p1']} mastodon MST-REF-1001 removed" in text
    assert "first seen -> reported 4 8.0 17.6 3.0" in text
    assert "48 h to 7 d 3 1" in text


@pytest.mark.slow
def test_no_output_names_an_author_or_a_person_even_with_excerpts(warehouse, tmp_path):
    settings, _ = warehouse
    out = tmp_path / "with-excerpts"
    proc = run(settings, "report", "--end", "2026-03-08", "--out", str(out), "--excerpts")
    assert proc.returncode == 0, proc.stderr
    texts = {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.html")}
    texts.update({p.name: p.read_text(encoding="utf-8") for p in out.glob("*.csv")})
    texts["report.pdf"] = pdf_text(out / "report.pdf")
    assert "excerpt (redacted)" in texts["mismatches.csv"]  # the excerpts are there...
    for name, text in texts.items():
        lowered = " ".join(text.split()).lower()
        for secret in reportkit.SECRETS:      # ...and nothing in them names anyone
            assert secret.lower() not in lowered, (name, secret)
        assert "pseudo-" not in lowered and "/@" not in lowered and "statuses/" not in lowered


@pytest.mark.slow
def test_excerpts_are_off_unless_asked_for(built):
    out, _ = built
    assert read_csv(out / "mismatches.csv")[0] == ["case", "platform", "report reference", "platform said",
                                                   "answered", "found"]


@pytest.mark.parametrize("text, expected", [
    ("Mrs Hallorann at Larchwood Primary is a liar @quillmere", "[name] at [name] [name] is a liar [handle]"),
    ("ring mr pendleby on +44 7700 900123 or pendleby@larchwood.example",
     "ring [name] on [phone] or [email]"),
    ("he lives at 14 Birchmoor Lane, see https://x.example/@a/1 #sackpendleby",
     "he lives at [address], see [link] [tag]"),
    ("@tansy_brook99@bsky.example posted it", "[handle] posted it"),
])
def test_excerpts_are_redacted(text, expected):
    assert excerpt(text) == expected


def test_excerpts_are_shortened_at_a_word():
    cut = excerpt("word " * 100, limit=40)
    assert len(cut) <= 40 and cut.endswith("word…")


def test_all_text_is_escaped_in_the_html():
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    doc = document.Document("t", "s", reportkit.START, reportkit.END, False, [document.Section(
        hostile, [hostile], [document.Table("t", [hostile], [[hostile]])])])
    page = _Page()
    page.feed(render.html(doc))
    assert page.scripts == 0 and page.images == []
    assert hostile in "".join(page.text)


@pytest.mark.slow
def test_a_period_without_data_says_so(warehouse, tmp_path):
    settings, _ = warehouse
    out = tmp_path / "quiet"
    proc = run(settings, "report", "--period", "2w", "--end", "2025-06-30", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "no data in this period" in proc.stdout
    page = parse(out / "report.html")
    assert "there is nothing to report for this period" in " ".join(page.text)
    assert "nothing to report" in pdf_text(out / "report.pdf").replace("\n", " ")
    assert read_csv(out / "summary.csv")[1] == ["posts first seen", "0", "0", "0"]


@pytest.mark.parametrize("args, message", [
    (["--period", "7x"], "cannot read the period '7x'"),
    (["--period", "0d"], "cannot read the period '0d'"),
    (["--end", "2026-02-30"], "cannot read the end '2026-02-30'"),
    (["--end", "2026-03-08T10:00"], "has no time zone"),
    (["--end", "2030-01-01"], "the end '2030-01-01' is in the future"),
    (["--send"], "nobody to send the report to"),
    (["--send", "--to", "not-an-address"], "not an email address: not-an-address"),
])
@pytest.mark.slow
def test_bad_input_gets_a_clear_error(warehouse, tmp_path, args, message):
    settings, _ = warehouse
    proc = run(settings, "report", "--out", str(tmp_path / "x"), *args, env={"TAGWATCH_REPORT_TO": ""})
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_an_unwritable_out_folder_gets_a_clear_error(warehouse, tmp_path):
    settings, _ = warehouse
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run(settings, "report", "--out", str(blocker / "report"))
    assert proc.returncode == 1 and f"cannot write the report into {blocker / 'report'}" in proc.stderr


def test_end_dates_are_read_as_the_last_day_covered():
    assert rb.parse_end("2026-03-08") == datetime(2026, 3, 9, tzinfo=timezone.utc)
    today = datetime(2026, 3, 8, 15, tzinfo=timezone.utc)
    assert rb.parse_end("2026-03-08", now=today) == datetime(2026, 3, 9, tzinfo=timezone.utc)
    with pytest.raises(rb.ReportError, match="in the future"):
        rb.parse_end("2026-03-09", now=today)
    assert rb.parse_end("2026-03-09T08:00+01:00") == datetime(2026, 3, 9, 7, tzinfo=timezone.utc)


# --- sending --------------------------------------------------------------------------------

def attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True)
            for part in message.walk() if part.get_filename()}


@pytest.mark.slow
def test_send_delivers_one_email_with_the_report_and_keeps_it(warehouse, tmp_path, smtp_server):
    settings, _ = warehouse
    archive = tmp_path / "sent"
    proc = run(settings, "report", "--end", "2026-03-08", "--send", "--to", "union@example.org",
               "--to", "school@example.org",
               env={"AIRFLOW_CONN_SMTP_DEFAULT": smtp_server.url, "TAGWATCH_REPORTS_DIR": str(archive)})
    assert proc.returncode == 0, proc.stderr
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert sorted(envelope.rcpt_tos) == ["school@example.org", "union@example.org"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "tagwatch report: Mon 2 Mar 2026 to Sun 8 Mar 2026"
    body = message.get_body(("html",)).get_content()
    assert "precision of flags (%)" in body and "cid:flagged_by_tag.png" in body
    files = attachments(message)
    kept = archive / "2026-03-08"
    assert set(files) >= {"report.pdf", "summary.csv", "mismatches.csv", "flagged_by_tag.csv"}
    assert files["report.pdf"] == (kept / "report.pdf").read_bytes()
    assert "mismatch rate (%) 50.0" in " ".join(pdf_text(kept / "report.pdf").split())
    assert files["summary.csv"].decode() == (kept / "summary.csv").read_text(encoding="utf-8")
    assert (kept / "sent.json").exists() and (kept / "report.html").exists()
    # a second sending for the same week is kept beside the first, not over it
    again = run(settings, "report", "--end", "2026-03-08", "--send", "--to", "union@example.org",
                "--out", str(tmp_path / "elsewhere"),
                env={"AIRFLOW_CONN_SMTP_DEFAULT": smtp_server.url, "TAGWATCH_REPORTS_DIR": str(archive)})
    assert again.returncode == 0, again.stderr
    assert (archive / "2026-03-08-2" / "sent.json").exists() and len(smtp_server.messages) == 2


@pytest.mark.slow
def test_send_to_a_server_that_is_not_there_fails_clearly(warehouse, tmp_path, free_port):
    settings, _ = warehouse
    proc = run(settings, "report", "--end", "2026-03-08", "--send", "--to", "union@example.org",
               "--out", str(tmp_path / "r"),
               env={"AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{free_port}?retry_limit=0&timeout=5",
                    "TAGWATCH_REPORTS_DIR": str(tmp_path / "sent")})
    assert proc.returncode == 1
    assert "could not send the report through the Airflow connection 'smtp_default'" in proc.stderr
    assert not (tmp_path / "sent").exists()


@pytest.mark.slow
def test_send_without_an_smtp_connection_says_how_to_set_one_and_writes_nothing(warehouse, tmp_path):
    settings, _ = warehouse
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_CONN_SMTP_DEFAULT"}
    proc = subprocess.run([*TAGWATCH, "report", "--end", "2026-03-08", "--send", "--to", "union@example.org"],
                          capture_output=True, text=True, timeout=300,
                          env={**env, **settings.to_env(), "TAGWATCH_REPORTS_DIR": str(tmp_path / "sent")})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no SMTP connection 'smtp_default'" in proc.stderr
    assert "AIRFLOW_CONN_SMTP_DEFAULT" in proc.stderr
    assert not (tmp_path / "sent").exists()


@pytest.mark.slow
def test_a_failed_send_leaves_no_dated_folder_behind(warehouse, tmp_path, free_port):
    settings, _ = warehouse
    archive = tmp_path / "sent"
    proc = run(settings, "report", "--end", "2026-03-08", "--send", "--to", "union@example.org",
               env={"AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{free_port}?retry_limit=0&timeout=5",
                    "TAGWATCH_REPORTS_DIR": str(archive)})
    assert proc.returncode == 1 and "could not send the report" in proc.stderr
    assert not any(archive.glob("*"))  # so the next try writes 2026-03-08, not 2026-03-08-2
