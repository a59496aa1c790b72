"""The report PDF looks finished: each page rendered to PNG shows no text across a column line
and nothing outside the margins, page 1 is full; read back as text, every table cell sits
on one line, numbers are right-aligned and columns are as wide as their content."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import pdfcheck
import reportkit
from reports import build as rb
from reports.document import fmt
from reports.pdf import BORDER, MARGIN

PAGE_WIDTH_PT = 595.28


@pytest.fixture
def report(settings, tmp_path) -> Path:
    reportkit.build(settings)
    out = tmp_path / "report"
    rb.build(settings.db_path, "7d", out, end=rb.parse_end("2026-03-08"))
    return out


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def shown(value: str) -> str:
    """A CSV cell as the PDF shows it (numbers with one decimal, empty as a dash)."""
    if value == "":
        return "–"
    try:
        return value if value.lstrip("-").isdigit() else fmt(float(value))
    except ValueError:
        return value


@pytest.mark.slow
def test_no_rendered_page_has_text_across_a_column_or_outside_the_margins(report):
    pages = pdfcheck.render(report / "report.pdf")
    assert len(pages) >= 3
    lines = 0
    for n, page in enumerate(pages, 1):
        assert pdfcheck.overflows(page, BORDER) == [], f"page {n}: text across a column line"
        # the footer sits 7 to 11 mm from the bottom edge
        assert pdfcheck.outside(page, MARGIN - 1, MARGIN - 1, MARGIN - 1, 6) == 0, f"page {n}"
        lines += len(pdfcheck.column_lines(np.asarray(page), BORDER))
    assert lines >= 40  # the check saw the tables' column lines (11 tables)
    assert pdfcheck.lowest_ink(pages[0], above_mm=12) > 0.8  # page 1 is not half empty
    assert (report / "report-page-1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_render_check_sees_text_across_a_column_and_outside_the_margins(tmp_path):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", size=8)
    pdf.set_draw_color(*BORDER)
    pdf.set_line_width(0.3)
    pdf.set_xy(20, 30)
    pdf.cell(25, 6, "a label far too long for its column", border=1)   # runs over the next line
    pdf.cell(25, 6, "12", border=1, align="R")
    pdf.set_xy(20, 60)
    pdf.cell(25, 6, "fits", border=1)
    pdf.cell(25, 6, "3", border=1, align="R")
    pdf.set_xy(190, 90)
    pdf.cell(10, 6, "past the right margin")
    path = tmp_path / "bad.pdf"
    pdf.output(str(path))
    [page] = pdfcheck.render(path)
    found = pdfcheck.overflows(page, BORDER)
    assert len(found) == 1 and 30 * pdfcheck.MM <= found[0][1] <= 36 * pdfcheck.MM
    assert pdfcheck.outside(page, MARGIN - 1, MARGIN - 1, MARGIN - 1, 6) > 0


def test_every_cell_is_on_one_line_and_numbers_are_right_aligned(report):
    pdf = report / "report.pdf"
    pages = len(pdfcheck.render(pdf))
    runs = [r for n in range(pages) for r in pdfcheck.runs(pdf, n)]
    texts = {r.text for r in runs}
    for table in sorted(report.glob("*.csv")):
        for row in read_csv(table)[1:]:
            for value in row:
                assert shown(value) in texts, (table.name, value)  # a whole run: not wrapped
    summary = read_csv(report / "summary.csv")
    first_page = pdfcheck.runs(pdf, 0)
    rights, label_rights = [[], [], []], []
    for label, *values in summary[1:]:
        [head] = [r for r in first_page if r.text == label]
        cells = sorted((r for r in first_page if r.baseline == head.baseline and r.left > head.right),
                       key=lambda r: r.left)
        assert [c.text for c in cells] == [shown(v) for v in values], label
        for column, cell in zip(rights, cells):
            column.append(cell)
        label_rights.append(head.right)
    for column in rights:  # right-aligned: one right edge, left edges that differ with the width
        assert max(c.right for c in column) - min(c.right for c in column) < 0.6
        assert len({round(c.left) for c in column}) > 1
    # the label column is as wide as its longest label: the numbers start right after it
    heading = [r for r in first_page if r.text == "this period"][0]
    assert rights[0][0].right - max(label_rights) <= heading.right - heading.left + 16  # + 2 paddings
    assert max(c.right for c in rights[2]) < PAGE_WIDTH_PT * 0.75  # not stretched to the page


def test_a_table_too_wide_for_the_page_wraps_its_text_at_words_and_fits(tmp_path):
    from datetime import datetime, timezone

    from reports import pdf as pdf_writer
    from reports.document import Document, Section, Table

    long_label = "a measure with a very long name " * 4
    table = Table("wide", ["measure"] + [f"figure number {i}" for i in range(9)],
                  [[long_label.strip()] + [123456.7] * 9, ["short", *range(9)]])
    moment = datetime(2026, 3, 9, tzinfo=timezone.utc)
    doc = Document("wide table", "a test", moment, moment, False, [Section("Wide", [], [table])])
    path = tmp_path / "wide.pdf"
    pdf_writer.write(doc, path)
    [page] = pdfcheck.render(path)
    assert pdfcheck.overflows(page, BORDER) == []
    assert pdfcheck.outside(page, MARGIN - 1, MARGIN - 1, MARGIN - 1, 6) == 0
    texts = [r.text for r in pdfcheck.runs(path, 0)]
    assert texts.count("123,456.7") + texts.count("123456.7") == 9  # numbers never wrap
    assert "a measure with a very long name a measure with a very long name a measure with a " \
           "very long name a measure with a very long name" not in texts  # the label wrapped
