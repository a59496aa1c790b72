"""Issue 13 item 6: free text a person typed (a report reference) is redacted before it
reaches any report output, and the redaction's gaps are closed: full-width ＠, zero-width
characters inside a handle, lower-case and full-width staff names. Invented names only."""
from __future__ import annotations

import pytest
from pypdf import PdfReader

import reportkit
from reports import build as rb
from reports.redact import excerpt, free_text
from warehouse.db import session

# What an analyst typed as the report reference of a mismatch case.
TYPED = ("TT-1 re @zorblax_vane https://mastodon.example/@zorblax_vane/1 (Mr Quentworth) "
         "＠ploverdale q\u200bwillowmere@mastodon.example ｍｒｓ ｆｅｎｗｉｃｋ teacher brindlecombe "
         "Ｍｓ Ｏａｋｈａｍ")
SECRETS = ("zorblax", "quentworth", "ploverdale", "willowmere", "fenwick", "ｆｅｎｗｉｃｋ", "brindlecombe",
           "oakham", "ｏａｋｈａｍ")


@pytest.mark.slow
def test_a_handle_typed_into_a_report_reference_appears_in_no_output(settings, tmp_path):
    reportkit.build(settings)
    with session(settings.db_path) as con:
        con.execute("UPDATE reports SET reference = ? WHERE reference = 'MST-REF-1001'", [TYPED])
    out = tmp_path / "report"
    rb.build(settings.db_path, "7d", out, end=rb.parse_end("2026-03-08"), excerpts=True)
    texts = {p.name: p.read_text(encoding="utf-8") for p in [*out.glob("*.html"), *out.glob("*.csv")]}
    texts["report.pdf"] = "\n".join(p.extract_text() for p in PdfReader(str(out / "report.pdf")).pages)
    assert {"report.html", "email.html", "mismatches.csv", "report.pdf"} <= set(texts)
    assert "TT-1 re [handle] [link] ([name])" in texts["mismatches.csv"]   # the code is kept
    for name, text in texts.items():
        lowered = text.lower()
        for secret in SECRETS:
            assert secret not in lowered, (name, secret)
    with session(settings.db_path) as con:   # the warehouse keeps what the analyst typed
        assert con.execute("SELECT count(*) FROM reports WHERE reference = ?", [TYPED]).fetchone()[0] == 1


@pytest.mark.parametrize("text, expected", [
    ("ask ＠quillmere now", "ask [handle] now"),                         # full-width at sign
    ("ask @quill\u200bmere now", "ask [handle] now"),                   # zero-width space inside
    ("ask @quill\u2060mere\ufeff now", "ask [handle] now"),             # word joiner, BOM
    ("ｍｒｓ ｈａｌｌｏｒａｎｎ is a liar", "[name] is a liar"),          # full-width, lower case
    ("Ｈａｌｌｏｒａｎｎ is a liar", "[name] is a liar"),
    ("mrs hallorann is a liar", "[name] is a liar"),                    # lower case after a title
    ("teacher hallorann is a liar", "teacher [name] is a liar"),        # lower case after a role
    ("the teacher is a liar", "the teacher is a liar"),
    ("tansy_brook99 posted it", "[handle] posted it"),                  # a handle without @
])
def test_the_redaction_gaps_are_closed(text, expected):
    assert excerpt(text, 500) == expected


@pytest.mark.parametrize("text, expected", [
    ("MST-REF-1001", "MST-REF-1001"),
    ("TT-1 re @handle https://m.example/@handle/1 (Mr Name)", "TT-1 re [handle] [link] ([name])"),
    ("case 4471 for Hallorann", "case 4471 for [name]"),
    (None, None),
])
def test_free_text_keeps_reference_codes(text, expected):
    assert free_text(text) == expected
