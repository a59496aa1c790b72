"""The document as files: report.html (charts embedded), email.html (charts as inline
attachments, which email clients show where they block data: images), report.pdf and
one CSV per table (the PDF: reports/pdf.py). Post text and every other string are escaped (Jinja2 autoescape)."""
from __future__ import annotations

import base64
import io
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from common.csvout import SafeWriter
from reports import pdf as pdf_writer
from reports.document import Chart, Document, fmt

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
    pdf_writer.write(doc, path)
