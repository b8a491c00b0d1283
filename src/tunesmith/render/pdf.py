"""Sheet music as PDF: one tune, or a tunebook of many, on A4 pages.

Verovio engraves each tune into pages of the printable height (`sheet.render_pages`,
in its worker processes: the same engraver as the SVG sheet music); those
pages are laid out on A4 sheets here, as SVG, one under the other, so that
short tunes share a sheet and a long one goes on over several; a tune starts
on a new sheet only when its first system does not fit on the current one.
Each sheet is turned into PDF by cairosvg (cairo's vector PDF, through
Debian's libcairo2), and the sheets are joined into one file by pypdf. No
network, and the same tunes give the same bytes (no dates in the file).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Callable
from xml.sax.saxutils import escape

from ..errors import TunesmithError
from .sheet import DEFAULT_WIDTH, render_pages
from .sheet_pool import SheetPool

PAGE_WIDTH, PAGE_HEIGHT = DEFAULT_WIDTH, 2970  # A4 in verovio's units: tenths of a millimetre
MARGIN = 120            # top and bottom of a sheet, beyond the 4 mm verovio leaves around each system block
PRINTABLE = PAGE_HEIGHT - 2 * MARGIN
_VIEWBOX = re.compile(r'viewBox="0 0 ([\d.]+) ([\d.]+)"')
_GLYPH = re.compile(r'<g id="([^"]+)">(.*?)</g>', re.DOTALL)
_USE = re.compile(r'<use xlink:href="#([^"]+)"([^>]*?)/>')


@dataclass(frozen=True)
class Block:
    """One page of one tune as verovio engraved it, to be placed on a sheet."""

    svg: str
    height: float  # in sheet units, at the sheet's width


def blocks_of(abc: str, timeout: float = 20.0, arrived: float | None = None,
              pool: SheetPool | None = None) -> list[Block]:
    """One tune's pages from verovio, each at most the printable height of a sheet (`sheet.render_pages`'s
    deadline and pool: the CLI's by default, the web app's own)."""
    blocks = []
    for svg in render_pages(abc, PRINTABLE, timeout=timeout, arrived=arrived, pool=pool):
        svg = inline_glyphs(svg)
        size = _VIEWBOX.search(svg)
        if size is None:
            raise TunesmithError("pdf: verovio's page has no size (viewBox)")
        width, height = float(size.group(1)), float(size.group(2))
        blocks.append(Block(svg, height * PAGE_WIDTH / width))
    return blocks


def inline_glyphs(svg: str) -> str:
    """Verovio's SVG with each `<use>` of a glyph replaced by the glyph's own path.

    Verovio draws every note head, clef and accidental as a `<use>` of a glyph
    in `<defs>`; cairosvg looks each one up by searching the whole document,
    which made a sheet of a few tunes take a minute. The same drawing, inlined,
    takes a second.
    """
    defs_end = svg.find("</defs>")
    if defs_end < 0:
        return svg
    glyphs = {m.group(1): m.group(2) for m in _GLYPH.finditer(svg, 0, defs_end)}

    def inline(use: re.Match) -> str:
        glyph = glyphs.get(use.group(1))
        return use.group() if glyph is None else f"<g{use.group(2)}>{glyph}</g>"

    return svg[:defs_end] + _USE.sub(inline, svg[defs_end:])


def lay_out(tunes: list[list[Block]]) -> list[list[tuple[Block, float]]]:
    """Sheets of (block, top): blocks in order, each under the last, a new sheet when one does not fit."""
    sheets: list[list[tuple[Block, float]]] = [[]]
    top = MARGIN
    for blocks in tunes:
        for block in blocks:
            if sheets[-1] and top + block.height > PAGE_HEIGHT - MARGIN:
                sheets.append([])
                top = MARGIN
            sheets[-1].append((block, top))
            top += block.height
    return sheets if sheets[-1] else sheets[:-1]


def sheet_svg(placed: list[tuple[Block, float]], number: int, pages: int) -> str:
    """One A4 sheet as SVG: its blocks at their places, and "n / N" at the foot when there are several sheets."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" '
             f'width="210mm" height="297mm" viewBox="0 0 {PAGE_WIDTH} {PAGE_HEIGHT}">',
             f'<rect width="{PAGE_WIDTH}" height="{PAGE_HEIGHT}" fill="white"/>']
    for block, top in placed:
        inner = re.sub(r"^\s*<\?xml[^>]*>\s*", "", block.svg)
        parts.append(inner.replace("<svg ", f'<svg x="0" y="{top:.2f}" width="{PAGE_WIDTH}" '
                                            f'height="{block.height:.2f}" ', 1))
    if pages > 1:
        parts.append(f'<text x="{PAGE_WIDTH / 2:g}" y="{PAGE_HEIGHT - MARGIN / 2:g}" text-anchor="middle" '
                     f'font-family="serif" font-size="32">{number} / {pages}</text>')
    return "".join(parts) + "</svg>"


def sheets_to_pdf(sheets: list[str], title: str) -> bytes:
    """SVG sheets -> one PDF with a page each (cairosvg draws, pypdf joins); `title` in its metadata."""
    from pypdf import PdfReader, PdfWriter

    try:
        import cairosvg
    except OSError:  # cairocffi found no libcairo.so.2
        raise TunesmithError("pdf: the cairo library is missing; install Debian's libcairo2 "
                             "(`make tools`, or apt-get install libcairo2)") from None

    writer = PdfWriter()
    for svg in sheets:
        try:
            page = cairosvg.svg2pdf(bytestring=svg.encode("utf-8"))
        except Exception as exc:  # cairosvg raises plain errors on SVG it cannot draw
            raise TunesmithError(f"pdf: cairosvg could not draw the sheet ({type(exc).__name__}: {exc})") from None
        writer.append(PdfReader(io.BytesIO(page)))
    writer.add_metadata({"/Title": title, "/Producer": "tunesmith", "/Creator": "tunesmith (verovio, cairosvg)"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_pdf(abc: str, title: str = "") -> bytes:
    """One tune's sheet music as a PDF of one or more A4 pages."""
    return book_pdf([blocks_of(abc)], title)


def book_pdf(tunes: list[list[Block]], title: str) -> bytes:
    """The PDF of tunes already engraved (`blocks_of` each), laid out one after another."""
    if not any(tunes):
        raise TunesmithError("pdf: no tune to print")
    sheets = lay_out(tunes)
    return sheets_to_pdf([sheet_svg(placed, i + 1, len(sheets)) for i, placed in enumerate(sheets)], title)


def render_book(abc_texts: list[str], title: str,
                progress: Callable[[int, int], None] | None = None) -> tuple[bytes, list[tuple[int, str]]]:
    """A tunebook: every tune that engraves, in order, in one PDF; and (index, why) of each tune that did not.

    `progress(done, total)` is called after each tune is engraved. A book with no tune that
    engraves is a TunesmithError naming the first failure.
    """
    engraved, failed = [], []
    for i, abc in enumerate(abc_texts):
        try:
            engraved.append(blocks_of(abc))
        except TunesmithError as exc:
            failed.append((i, str(exc)))
        if progress is not None:
            progress(i + 1, len(abc_texts))
    if not engraved:
        raise TunesmithError(f"pdf: no tune could be engraved ({failed[0][1] if failed else 'no tunes'})")
    return book_pdf(engraved, title), failed


def title_of(text: str) -> str:
    """Text fit for a PDF's title field (escaped as XML would be harmless there; control characters dropped)."""
    return escape("".join(ch for ch in text if ch.isprintable()))[:200]
