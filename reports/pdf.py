"""The report as a PDF laid out like the HTML: the key figures first, then each section with
its text, tables and chart. Table columns are as wide as their content (a long label wraps
at a word only when the table would not fit the page otherwise), numbers are right-aligned,
a table that fits on one page is never split, a heading is never left at the foot of a page,
and a chart is scaled to the text width with its section.

The table borders are drawn in BORDER, a colour no text uses, so a rendering of a page
shows where every column ends (tests/reports/test_report_pdf.py checks that no text crosses one).
"""
from __future__ import annotations

import io
from pathlib import Path

from reports.document import Document, Table, fmt

# A Unicode font for the PDF; the first one found is used (else Latin-1 core fonts).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
BORDER = (201, 214, 224)       # the HTML's heading-cell border colour
HEAD_FILL = (238, 243, 247)
INK = (29, 29, 29)
MUTED = (110, 110, 110)
ACCENT = (31, 95, 139)
MARGIN = 15                    # mm, every side
TABLE_FONT = 7.5               # pt
PAD = 1.6                      # mm of space inside a cell, left and right
LINE = 3.8                     # mm per line of a table cell
CHART_WIDTH = 150              # mm, at most
CHART_MIN = 115                # mm: a chart is made smaller to fit a page's room down to this
KEEP_WITH_HEADING = 35         # mm: a heading needs this much room below it, else a new page


def is_numeric(table: Table, col: int) -> bool:
    """A column of numbers (None allowed): right-aligned, never wrapped."""
    values = [row[col] for row in table.rows if row[col] is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _pdf_class():
    from fpdf import FPDF

    class ReportPDF(FPDF):
        """A4 with the title and "page N of M" at the foot of every page."""
        footer_text = ""
        footer_font = "helvetica"

        def footer(self):
            self.set_y(-MARGIN + 4)
            self.set_font(self.footer_font, size=6.5)
            self.set_text_color(*MUTED)
            self.cell(0, 4, f"{self.footer_text} · page {self.page_no()} of {{nb}}", align="R")
    return ReportPDF


class _Writer:
    def __init__(self, doc: Document):
        self.doc = doc
        self.pdf = _pdf_class()(orientation="portrait", format="A4")
        font = next((f for f in FONT_CANDIDATES if Path(f).exists()), None)
        if font:
            bold = Path(font).with_name("DejaVuSans-Bold.ttf")
            self.pdf.add_font("body", fname=font)
            self.pdf.add_font("body", style="B", fname=str(bold if bold.exists() else font))
            self.family, self.fix = "body", str
        else:
            self.family = "helvetica"
            self.fix = lambda text: str(text).encode("latin-1", "replace").decode("latin-1")
        self.pdf.set_margins(MARGIN, MARGIN, MARGIN)
        self.pdf.set_auto_page_break(True, margin=MARGIN)
        self.pdf.set_title(self.fix(doc.title))
        self.pdf.footer_text, self.pdf.footer_font = self.fix(doc.title), self.family
        self.pdf.set_draw_color(*BORDER)
        self.pdf.set_line_width(0.3)
        self.pdf.add_page()

    # --- text ---------------------------------------------------------------------------
    def font(self, size: float, bold: bool = False, colour=INK) -> None:
        self.pdf.set_font(self.family, style="B" if bold else "", size=size)
        self.pdf.set_text_color(*colour)

    def para(self, text: str, size: float = 9, colour=INK, bold: bool = False, after: float = 1.2) -> None:
        self.font(size, bold, colour)
        self.pdf.multi_cell(self.pdf.epw, size * 0.5, self.fix(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(after)

    def room(self) -> float:
        return self.pdf.page_break_trigger - self.pdf.get_y()

    def heading(self, text: str, then: float = KEEP_WITH_HEADING) -> None:
        """A section heading, on a new page when `then` mm (what must follow it on the same
        page) would not fit below it."""
        if self.room() < 14 + min(then, self.pdf.eph / 2):
            self.pdf.add_page()
        self.pdf.ln(2.5)
        self.para(text, 12, ACCENT, bold=True, after=0.5)
        y = self.pdf.get_y()
        self.pdf.set_draw_color(*ACCENT)
        self.pdf.line(MARGIN, y, MARGIN + self.pdf.epw, y)
        self.pdf.set_draw_color(*BORDER)
        self.pdf.ln(2)

    # --- the key figures ----------------------------------------------------------------
    def key_figures(self) -> None:
        """The headline numbers as a row of boxes (the HTML's summary block)."""
        figures = self.doc.headline
        if not figures:
            return
        gap, height = 2.5, 17
        width = (self.pdf.epw - gap * (len(figures) - 1)) / len(figures)
        top = self.pdf.get_y() + 1
        for i, (label, value) in enumerate(figures):
            x = MARGIN + i * (width + gap)
            self.pdf.set_fill_color(*HEAD_FILL)
            self.pdf.rect(x, top, width, height, style="F")
            self.pdf.set_xy(x, top + 1.5)
            self.font(15, True, ACCENT)
            self.pdf.cell(width, 7, self.fix(fmt(value)), align="C")
            self.pdf.set_xy(x + 1, top + 9)
            self.font(6.8, False, MUTED)
            self.pdf.multi_cell(width - 2, 3, self.fix(label), align="C")
        self.pdf.set_xy(MARGIN, top + height + 3)

    # --- tables -------------------------------------------------------------------------
    def heading_width(self, heading: str, lines: int) -> float:
        """The narrowest width (text only) at which `heading` wraps at words into `lines` lines."""
        words = self.fix(heading).split()
        if lines <= 1 or len(words) <= 1:
            return self.pdf.get_string_width(" ".join(words))
        best = self.pdf.get_string_width(" ".join(words))
        for cut in range(1, len(words)):
            first = self.pdf.get_string_width(" ".join(words[:cut]))
            best = min(best, max(first, self.heading_width(" ".join(words[cut:]), lines - 1)))
        return best

    def widths(self, table: Table) -> list[float]:
        """Each column as wide as its widest cell. Headings get the room to wrap at words into
        three lines at most, then two, then one, while the table fits the page. When even the
        cells are wider than the page, the widest text columns give way (they wrap at words)."""
        pad = 2 * PAD + 0.6
        cols = range(len(table.columns))
        self.font(TABLE_FONT)
        need = [max([self.pdf.get_string_width(self.fix(fmt(row[c]))) for row in table.rows] + [0]) + pad
                for c in cols]
        self.font(TABLE_FONT, True)
        words = [self.heading_width(h, 99) + pad for h in table.columns]
        need = [max(n, w) for n, w in zip(need, words)]
        for lines in (3, 2, 1):
            want = [max(need[c], self.heading_width(table.columns[c], lines) + pad) for c in cols]
            for c in sorted(cols, key=lambda c: want[c] - need[c]):
                if sum(need) + want[c] - need[c] <= self.pdf.epw:
                    need[c] = want[c]
        while sum(need) > self.pdf.epw + 0.01:  # too wide: the widest text column wraps
            text = [c for c in cols if not is_numeric(table, c)]
            widest = max(text, key=lambda c: need[c] - words[c], default=None)
            cut = 0 if widest is None else min(sum(need) - self.pdf.epw, need[widest] - words[widest])
            if cut <= 0.01:
                break
            need[widest] -= cut
        return need

    def table_height(self, table: Table, widths: list[float]) -> float:
        """Its height (mm) with one line per body row and its headings wrapped."""
        self.font(TABLE_FONT, True)
        head_lines = max(len(self.pdf.multi_cell(w - 2 * PAD, LINE, self.fix(h), dry_run=True,
                                                 output="LINES")) for w, h in zip(widths, table.columns))
        return (head_lines + max(len(table.rows), 1)) * (LINE + 0.8) + 8

    def table(self, table: Table) -> None:
        from fpdf.fonts import FontFace

        widths = self.widths(table)
        numeric = [is_numeric(table, c) for c in range(len(table.columns))]
        rows = table.rows or [["none in this period"] + [""] * (len(table.columns) - 1)]
        height = self.table_height(table, widths)
        if height > self.room() and height < self.pdf.eph:  # keep a table that fits a page whole
            self.pdf.add_page()
        self.font(TABLE_FONT)
        with self.pdf.table(width=min(sum(widths), self.pdf.epw), col_widths=widths, align="LEFT", line_height=LINE,
                            padding=(0.4, PAD), headings_style=FontFace(emphasis="B", fill_color=HEAD_FILL),
                            v_align="TOP") as t:
            head = t.row()
            for h, num in zip(table.columns, numeric):
                head.cell(self.fix(h), align="R" if num else "L")
            for values in rows:
                row = t.row()
                for v, num in zip(values, numeric):
                    row.cell(self.fix(fmt(v) if table.rows else v), align="R" if num else "L")
        self.pdf.ln(0.6)
        self.para(f"Table as a file: {table.name}.csv", 6.5, MUTED, after=1.5)

    # --- charts -------------------------------------------------------------------------
    @staticmethod
    def ratio(png: bytes) -> float:
        from PIL import Image

        with Image.open(io.BytesIO(png)) as image:
            return image.height / image.width

    def chart(self, png: bytes) -> None:
        """The chart at CHART_WIDTH, or smaller (down to CHART_MIN) to fit the page's room."""
        ratio = self.ratio(png)
        width = min(CHART_WIDTH, self.pdf.epw, (self.room() - 2) / ratio)
        if width < CHART_MIN:
            self.pdf.add_page()
            width = min(CHART_WIDTH, self.pdf.epw)
        self.pdf.image(io.BytesIO(png), x=MARGIN + (self.pdf.epw - width) / 2, w=width)
        self.pdf.ln(1.5)

    def first_block(self, section) -> float:
        """The height of a section's text and of its first chart or table (the least that
        must follow its heading on the same page)."""
        self.font(9)
        text = sum(self.pdf.multi_cell(self.pdf.epw, 4.5, self.fix(line), dry_run=True, output="HEIGHT")
                   + 1.2 for line in section.lines)
        if section.chart:
            return text + CHART_MIN * self.ratio(section.chart.png)
        if section.tables:
            return text + self.table_height(section.tables[0], self.widths(section.tables[0]))
        return text

    def write(self, path: Path) -> None:
        self.para(self.doc.title, 15, INK, bold=True, after=0.8)
        self.para(self.doc.subtitle, 8, MUTED, after=1)
        self.key_figures()
        for section in self.doc.sections:
            self.heading(section.title, self.first_block(section))
            for line in section.lines:
                self.para(line)
            if section.chart:
                self.chart(section.chart.png)
            for table in section.tables:
                self.table(table)
        self.pdf.output(str(path))


def write(doc: Document, path: Path) -> None:
    _Writer(doc).write(Path(path))
