"""The document as files: report.html (charts embedded), email.html (charts as inline
attachments, which email clients show where they block data: images), report.pdf and
one CSV per table. Post text and every other string are escaped (Jinja2 autoescape)."""
from __future__ import annotations

import base64
import io
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from common.csvout import SafeWriter
from reports.document import Chart, Document, fmt

# A Unicode font for the PDF; the first one found is used (else Latin-1 core fonts).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)

_ENV = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html"]))


def html(doc: Document, inline_images: bool = True) -> str:
    """inline_images: data: URIs (a self-contained file); else cid:<chart>.png references."""
    def image_src(chart: Chart) -> str:
        if inline_images:
            return "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")
        return f"cid:{chart.name}.png"
    return _ENV.get_template("report.html").render(doc=doc, image_src=image_src, fmt=fmt)


def csv_text(columns: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(columns)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def write_all(doc: Document, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("report.html", html(doc)), ("email.html", html(doc, inline_images=False))):
        (out_dir / name).write_text(text, encoding="utf-8")
        written.append(out_dir / name)
    for table in doc.tables():
        path = out_dir / f"{table.name}.csv"
        path.write_text(csv_text(table.columns, table.rows), encoding="utf-8")
        written.append(path)
    if doc.charts():
        (out_dir / "charts").mkdir(exist_ok=True)
    for chart in doc.charts():
        path = out_dir / "charts" / f"{chart.name}.png"
        path.write_bytes(chart.png)
        written.append(path)
    pdf_path = out_dir / "report.pdf"
    pdf(doc, pdf_path)
    written.append(pdf_path)
    return written


def pdf(doc: Document, path: Path) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    report = FPDF(orientation="portrait", format="A4")
    font = next((f for f in FONT_CANDIDATES if Path(f).exists()), None)
    if font:
        report.add_font("body", fname=font)
        family, fix = "body", str
    else:
        family = "helvetica"

        def fix(text):
            return str(text).encode("latin-1", "replace").decode("latin-1")
    report.set_auto_page_break(True, margin=15)
    report.set_title(fix(doc.title))
    report.add_page()
    width = report.epw

    def para(text, size=9.5, colour=(29, 29, 29)):
        report.set_font(family, size=size)
        report.set_text_color(*colour)
        report.multi_cell(width, size * 0.55, fix(text), new_x="LMARGIN", new_y="NEXT")
        report.ln(1)

    para(doc.title, 15)
    para(doc.subtitle, 8.5, (85, 85, 85))
    for section in doc.sections:
        report.ln(3)
        para(section.title, 12.5, (31, 95, 139))
        for line in section.lines:
            para(line)
        if section.chart:
            report.image(io.BytesIO(section.chart.png), w=min(width, 170))
            report.ln(2)
        for table in section.tables:
            report.set_font(family, size=7.5)
            report.set_text_color(29, 29, 29)
            with report.table(headings_style=FontFace(fill_color=(238, 243, 247)), line_height=4,
                              text_align="LEFT") as t:
                t.row([fix(c) for c in table.columns])
                for row in table.rows or [["none in this period"] + [""] * (len(table.columns) - 1)]:
                    t.row([fix(fmt(v)) for v in row])
            para(f"Table as a file: {table.name}.csv", 7, (120, 120, 120))
    report.output(str(path))
