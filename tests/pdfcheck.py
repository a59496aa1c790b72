"""Looking at a PDF as a reader would: each page rendered to PNG (pypdfium2, PDFium's
renderer from its wheel, no network), and its text read back as runs with their positions.

- `overflows(image)`: ink (text) on or against a table's column line. The report draws table
  borders in reports.pdf.BORDER, a colour no text uses, so the column lines can be found in
  the pixels; text that runs past its column crosses one.
- `outside(image, ...)`: ink outside the page's margins.
- `runs(pdf, page)`: the text of a page as runs on one baseline, split where the gap is wider
  than a space (the gap between two table cells is two paddings wide).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DPI = 144
MM = DPI / 25.4  # pixels per millimetre


def render(path: Path, dpi: int = DPI) -> list:
    """Every page as a PIL image (RGB), and each also saved as page-N.png beside the PDF."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    images = []
    for n, page in enumerate(pdf, 1):
        image = page.render(scale=dpi / 72).to_pil().convert("RGB")
        image.save(Path(path).with_name(f"{Path(path).stem}-page-{n}.png"))
        images.append(image)
    pdf.close()
    return images


def ink(pixels: np.ndarray) -> np.ndarray:
    """Text-dark pixels (borders, fills and pale chart colours are not ink)."""
    return pixels.max(axis=2) < 120


def column_lines(pixels: np.ndarray, colour, min_mm: float = 4.0) -> list[tuple[int, int, int, int]]:
    """Vertical lines drawn in `colour`: (x0, x1, y0, y1), pixel columns merged when adjacent."""
    near = (np.abs(pixels.astype(int) - np.array(colour)).max(axis=2) <= 14)
    segments = []
    for x in np.nonzero(near.sum(axis=0) >= min_mm * MM)[0]:
        column = near[:, x]
        edges = np.diff(np.concatenate(([0], column.astype(np.int8), [0])))
        for y0, y1 in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            if y1 - y0 >= min_mm * MM:
                segments.append((int(x), int(y0), int(y1)))
    lines = []
    for x, y0, y1 in sorted(segments, key=lambda s: (s[1], s[0])):
        for i, (a, b, c, d) in enumerate(lines):
            if x <= b + 1 and x >= a - 1 and abs(y0 - c) <= 2 and abs(y1 - d) <= 2:
                lines[i] = (min(a, x), max(b, x), min(c, y0), max(d, y1))
                break
        else:
            lines.append((x, x, y0, y1))
    return lines


def overflows(image, colour, clearance_px: int = 2) -> list[tuple[int, int]]:
    """(x, y) of the first ink pixel on or within `clearance_px` of each column line it touches."""
    pixels = np.asarray(image)
    dark = ink(pixels)
    found = []
    lines = column_lines(pixels, colour)
    for x0, x1, y0, y1 in lines:
        band = dark[y0:y1, max(0, x0 - clearance_px):x1 + clearance_px + 1]
        hits = np.argwhere(band)
        if len(hits):
            found.append((int(max(0, x0 - clearance_px) + hits[0][1]), int(y0 + hits[0][0])))
    return found


def outside(image, left_mm: float, right_mm: float, top_mm: float, bottom_mm: float) -> int:
    """How many non-white pixels lie outside the box the margins leave."""
    pixels = np.asarray(image)
    marked = pixels.min(axis=2) < 235
    h, w = marked.shape
    box = np.zeros_like(marked)
    box[int(top_mm * MM):h - int(bottom_mm * MM), int(left_mm * MM):w - int(right_mm * MM)] = True
    return int((marked & ~box).sum())


def lowest_ink(image, above_mm: float) -> float:
    """How far down the page (0..1) the lowest mark above the bottom `above_mm` reaches."""
    pixels = np.asarray(image)
    marked = pixels.min(axis=2) < 235
    h = marked.shape[0]
    rows = np.nonzero(marked[:h - int(above_mm * MM)].any(axis=1))[0]
    return (rows.max() + 1) / h if len(rows) else 0.0


@dataclass
class Run:
    text: str
    left: float    # points from the page's left edge
    right: float
    baseline: float


def runs(path: Path, page_number: int, gap: float = 5.0) -> list[Run]:
    """The text of one page (0-based) as runs: characters on one baseline, split where the
    space between two characters is wider than `gap` points."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    text = pdf[page_number].get_textpage()
    chars = []
    for i in range(text.count_chars()):
        ch = text.get_text_range(i, 1)
        if not ch.strip():
            continue
        left, bottom, right, _top = text.get_charbox(i, loose=True)
        chars.append((round(bottom, 0), left, right, ch))
    pdf.close()
    out: list[Run] = []
    for base, left, right, ch in sorted(chars, key=lambda c: (-c[0], c[1])):
        last = out[-1] if out else None
        if last and last.baseline == base and left - last.right <= gap:
            spaced = " " if left - last.right > 1.0 else ""
            out[-1] = Run(last.text + spaced + ch, last.left, right, base)
        else:
            out.append(Run(ch, left, right, base))
    return out
