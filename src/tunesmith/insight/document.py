"""A tiny document model written out as both Markdown and HTML, so the two reports say the same."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

_HTML_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:13px}
code{background:#f3f3f3;padding:0 3px}
"""


@dataclass
class Document:
    """Blocks in order: ("h", level, text), ("p", text), ("table", header, rows), ("img", file, alt), ("pre", text)."""

    title: str
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        """A section title (level 2 and below; the document title is level 1)."""
        self.blocks.append(("h", level, text))

    def para(self, text: str) -> None:
        """A paragraph; `code` in backquotes is kept as code in both formats."""
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        """A table; cells that look like numbers are right-aligned in HTML."""
        self.blocks.append(("table", header, rows))

    def image(self, file: str, alt: str) -> None:
        """A picture stored beside the report."""
        self.blocks.append(("img", file, alt))

    def pre(self, text: str) -> None:
        """Preformatted text (a model card, tunes)."""
        self.blocks.append(("pre", text))

    def markdown(self) -> str:
        """The document as Markdown."""
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out += ["#" * block[1] + " " + block[2], ""]
            elif kind == "p":
                out += [block[1], ""]
            elif kind == "table":
                header, rows = block[1], block[2]
                cell = lambda s: str(s).replace("|", "\\|")  # noqa: E731
                out.append("| " + " | ".join(cell(h) for h in header) + " |")
                out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
                out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
                out.append("")
            elif kind == "img":
                out += [f"![{block[2]}]({block[1]})", ""]
            elif kind == "pre":
                out += ["```", block[1].rstrip("\n"), "```", ""]
        return "\n".join(out).rstrip("\n") + "\n"

    def html(self) -> str:
        """The document as one HTML page (pictures referenced beside it)."""
        parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_inline(self.title)}</title>'
                 f"<style>{_HTML_STYLE}</style></head><body><h1>{_inline(self.title)}</h1>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                parts.append(f"<h{block[1]}>{_inline(block[2])}</h{block[1]}>")
            elif kind == "p":
                parts.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "table":
                head = "".join(f"<th>{_inline(str(h))}</th>" for h in block[1])
                rows = "".join("<tr>" + "".join(_td(str(c)) for c in row) + "</tr>" for row in block[2])
                parts.append(f"<table><tr>{head}</tr>{rows}</table>")
            elif kind == "img":
                parts.append(f'<p><img src="{html.escape(block[1])}" alt="{html.escape(block[2])}"></p>')
            elif kind == "pre":
                parts.append(f"<pre>{html.escape(block[1])}</pre>")
        return "".join(parts) + "</body></html>\n"


def _inline(text: str) -> str:
    """Escape, then turn `code` and **bold** into tags."""
    out, code = [], False
    for i, piece in enumerate(html.escape(text).split("`")):
        if i:
            code = not code
        if code:
            out.append(f"<code>{piece}</code>")
        else:
            bold = piece.split("**")
            out.append("".join(f"<b>{b}</b>" if j % 2 else b for j, b in enumerate(bold)))
    return "".join(out)


def _td(text: str) -> str:
    numeric = text.replace(".", "").replace("%", "").replace(",", "").replace("+", "").replace("-", "").strip()
    cls = ' class="num"' if numeric.isdigit() else ""
    return f"<td{cls}>{_inline(text)}</td>"
