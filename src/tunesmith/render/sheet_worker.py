"""The process that runs verovio: `python -m tunesmith.render.sheet_worker`.

Verovio is C++ and aborts or segfaults on some malformed ABC (an unclosed
chord symbol, text with no tune), which would take the caller down with it;
so it runs here, and `sheet_pool.py` restarts this process when it dies.

Protocol: one JSON object per line each way. Request `{"abc": ..., "width": ...,
"alarm": seconds}`; answer `{"svg": ...}` or `{"error": ...}`. A request with
`"page_height"` asks for printed pages of that height instead (PDF export):
the answer is `{"pages": [svg, ...]}`. Nothing else may reach the answer pipe,
so verovio's own output goes to stderr.

`alarm` is how long this process may live with the tune: the pool kills it at
the tune's deadline, and the alarm (SIGALRM, whose default action ends the
process even while verovio holds the GIL) ends it should the pool be gone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys

NICENESS = 10  # added to the server's priority (see main)

# Options for a score on a web page or a file: one page as tall as the tune,
# no page footer, the title from T:, notes at a size that reads on a screen.
OPTIONS = {
    "inputFrom": "abc",
    "adjustPageHeight": True,
    "pageHeight": 60000,      # verovio's maximum: every tune fits on one page
    "pageMarginTop": 40, "pageMarginBottom": 40, "pageMarginLeft": 40, "pageMarginRight": 40,
    "footer": "none",
    "header": "auto",
    "scale": 40,
    "breaks": "auto",
    "svgViewBox": True,       # scales to whatever box the page gives it
    # Each note's pitch on its SVG element (data-pname, data-oct): what render/notemap.py matches the
    # ABC text's notes against. Ids from the tune's checksum: the same tune engraves to the same file.
    "svgAdditionalAttribute": ["note@pname", "note@oct"],
    "xmlIdChecksum": True,
}

# For printed pages (render/pdf.py): systems broken into pages of the height asked for, each page as tall
# as its music (so that short tunes can share a sheet), and side margins of 15 mm on a 210 mm wide page.
PAGED_OPTIONS = {**OPTIONS, "pageMarginLeft": 150, "pageMarginRight": 150}


def render(toolkit, abc: str, width: int, page_height: int | None = None) -> dict:
    """One tune's answer: its SVG (or with `page_height`, its pages), or why verovio could not read it.

    The text is ABC, or a MusicXML score (a tune of several voices: `sheet._engraver_text`).
    """
    reading = {"inputFrom": "musicxml" if abc.startswith("<?xml") else "abc"}
    if page_height is None:
        toolkit.setOptions({**OPTIONS, "pageWidth": width, **reading})
    else:
        toolkit.setOptions({**PAGED_OPTIONS, "pageWidth": width, "pageHeight": page_height, **reading})
    if not toolkit.loadData(abc):
        return {"error": "verovio could not read the tune"}
    pages = toolkit.getPageCount()
    if pages < 1:
        return {"error": "verovio found no music in the tune"}
    if page_height is not None:
        return {"pages": [toolkit.renderToSVG(n) for n in range(1, pages + 1)]}
    if pages == 1:
        return {"svg": toolkit.renderToSVG(1)}
    return {"svg": stack([toolkit.renderToSVG(n) for n in range(1, pages + 1)])}


def stack(pages: list[str]) -> str:
    """One SVG of several pages, one under the other (only a tune of tens of thousands of characters needs it)."""
    sizes = [re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', page) for page in pages]
    width = max(float(size.group(1)) for size in sizes)
    out, top = [], 0.0
    for page, size in zip(pages, sizes):
        out.append(page.replace("<svg ", f'<svg x="0" y="{top:g}" width="{size.group(1)}" height="{size.group(2)}" ', 1))
        top += float(size.group(2))
    return (f'<svg viewBox="0 0 {width:g} {top:g}" version="1.1" xmlns="http://www.w3.org/2000/svg" '
            f'xmlns:xlink="http://www.w3.org/1999/xlink">' + "".join(out) + "</svg>")


def main() -> None:
    """Answer render requests from stdin until it closes."""
    # A tune that hangs verovio spins a core until its deadline; at a lower priority it slows no generation
    # or page of the server beside it (a render that does not hang takes milliseconds either way).
    os.nice(NICENESS)
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything verovio prints goes to stderr, not into the answers
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    answers.write(json.dumps({"ready": toolkit.getVersion()}) + "\n")
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        signal.alarm(int(request.get("alarm", 0)))
        height = request.get("page_height")
        answer = render(toolkit, request["abc"], int(request.get("width", 2100)),
                        None if height is None else int(height))
        signal.alarm(0)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
