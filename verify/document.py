"""A small document model rendered to both Markdown and standalone HTML.

The report is built once as a list of blocks (headings, paragraphs, tables, images, code) whose
inline text is a list of spans (plain text, code, links). Rendering the same blocks twice is what
keeps ``report.md`` and ``index.html`` equal in content. The HTML escapes every text with
``html.escape``, carries its CSS inline and links only relative paths, so it opens from disk
without network access.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["Link", "Code", "Heading", "Paragraph", "Table", "Image", "CodeBlock", "Anchor",
           "BulletList", "render_markdown", "render_html", "anchor_id"]


@dataclass(frozen=True)
class Link:
    """An inline link; ``href`` is a relative path or a ``#anchor``."""

    text: str
    href: str


@dataclass(frozen=True)
class Code:
    """Inline code (a command, a file name, a formula in plain text)."""

    text: str


Inline = str | Link | Code


@dataclass
class Heading:
    """A section heading; ``anchor`` is the id links point to."""

    level: int
    text: str
    anchor: str | None = None


@dataclass
class Paragraph:
    """A paragraph of inline spans."""

    spans: list


@dataclass
class BulletList:
    """An unordered list; each item is a list of inline spans."""

    items: list


@dataclass
class Table:
    """A table with a header row; each cell is a list of inline spans (or a plain string)."""

    header: list
    rows: list
    css_class: str = ""


@dataclass
class Image:
    """An image file given by a path relative to the report folder."""

    src: str
    alt: str


@dataclass
class CodeBlock:
    """Preformatted text (tracebacks, commands)."""

    text: str


@dataclass
class Anchor:
    """A link target without visible content."""

    name: str


@dataclass
class Document:
    """The report: a title and its blocks in order."""

    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks):
        self.blocks.extend(blocks)


def anchor_id(prefix: str, key: str) -> str:
    """Return an HTML id made of letters, digits and hyphens, e.g. ("claim", "thm3.1") -> "claim-thm3-1"."""
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in key.lower())
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return f"{prefix}-{cleaned.strip('-')}"


def _spans(value) -> list:
    if isinstance(value, (str, Link, Code)):
        return [value]
    return list(value)


# ---------------------------------------------------------------------------------------------
# Markdown

# Characters that start Markdown syntax anywhere in a line; "#", ">", "-" and "+" only at its start.
_MD_SPECIAL = "\\`*_[]<|"


def _md_escape(text: str) -> str:
    out = []
    for ch in text.replace("\n", " "):
        out.append("\\" + ch if ch in _MD_SPECIAL else ch)
    escaped = "".join(out)
    if escaped[:1] in ("#", ">", "-", "+"):
        escaped = "\\" + escaped  # a backslash before ASCII punctuation is a valid CommonMark escape
    return escaped


def _md_code(text: str) -> str:
    text = text.replace("\n", " ")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_inline(value, in_table: bool = False) -> str:
    parts = []
    for span in _spans(value):
        if isinstance(span, Link):
            parts.append(f"[{_md_escape(span.text)}]({span.href.replace(' ', '%20')})")
        elif isinstance(span, Code):
            code = _md_code(span.text)
            # GFM splits table cells at every unescaped pipe, code spans included.
            parts.append(code.replace("|", "\\|") if in_table else code)
        else:
            parts.append(_md_escape(str(span)))
    return "".join(parts)


def render_markdown(doc: Document) -> str:
    """Render ``doc`` as GitHub-flavoured Markdown (anchors as inline ``<a id>`` tags)."""
    lines = [f"# {_md_escape(doc.title)}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            if block.anchor:
                lines.append(f'<a id="{block.anchor}"></a>')
                lines.append("")
            lines.extend([f"{'#' * block.level} {_md_escape(block.text)}", ""])
        elif isinstance(block, Anchor):
            lines.extend([f'<a id="{block.name}"></a>', ""])
        elif isinstance(block, Paragraph):
            lines.extend([_md_inline(block.spans), ""])
        elif isinstance(block, BulletList):
            lines.extend([f"- {_md_inline(item)}" for item in block.items])
            lines.append("")
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(_md_inline(h, in_table=True) for h in block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            for row in block.rows:
                lines.append("| " + " | ".join(_md_inline(cell, in_table=True) for cell in row) + " |")
            lines.append("")
        elif isinstance(block, Image):
            lines.extend([f"![{_md_escape(block.alt)}]({block.src.replace(' ', '%20')})", ""])
        elif isinstance(block, CodeBlock):
            fence = "```"
            while fence in block.text:
                fence += "`"
            lines.extend([fence, block.text.rstrip("\n"), fence, ""])
        else:
            raise TypeError(f"unknown block type {type(block).__name__}")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
body { font-family: sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #1a1a1a; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
code, pre { font-family: monospace; background: #f4f4f4; }
pre { padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
img { max-width: 100%; border: 1px solid #ddd; }
.verdict-holds { color: #0a6b0a; font-weight: bold; }
.verdict-holds-corrected { color: #8a5a00; font-weight: bold; }
.verdict-fails { color: #b00000; font-weight: bold; }
.verdict-inconclusive { color: #555; font-weight: bold; }
.verdict-error { color: #b00000; font-weight: bold; }
"""

VERDICT_WORDS = ("holds", "holds-corrected", "fails", "inconclusive", "error")


def _html_inline(value) -> str:
    parts = []
    for span in _spans(value):
        if isinstance(span, Link):
            parts.append(f'<a href="{html.escape(span.href, quote=True)}">{html.escape(span.text)}</a>')
        elif isinstance(span, Code):
            parts.append(f"<code>{html.escape(span.text)}</code>")
        else:
            text = str(span)
            if text in VERDICT_WORDS:
                parts.append(f'<span class="verdict-{text}">{html.escape(text)}</span>')
            else:
                parts.append(html.escape(text))
    return "".join(parts)


def render_html(doc: Document) -> str:
    """Render ``doc`` as one standalone HTML page (inline CSS, no scripts, relative links only)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(doc.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(doc.title)}</h1>",
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            ident = f' id="{html.escape(block.anchor, quote=True)}"' if block.anchor else ""
            out.append(f"<h{level}{ident}>{html.escape(block.text)}</h{level}>")
        elif isinstance(block, Anchor):
            out.append(f'<a id="{html.escape(block.name, quote=True)}"></a>')
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_html_inline(block.spans)}</p>")
        elif isinstance(block, BulletList):
            out.append("<ul>")
            out.extend(f"<li>{_html_inline(item)}</li>" for item in block.items)
            out.append("</ul>")
        elif isinstance(block, Table):
            cls = f' class="{html.escape(block.css_class, quote=True)}"' if block.css_class else ""
            out.append(f"<table{cls}>")
            out.append("<tr>" + "".join(f"<th>{_html_inline(h)}</th>" for h in block.header) + "</tr>")
            for row in block.rows:
                out.append("<tr>" + "".join(f"<td>{_html_inline(cell)}</td>" for cell in row) + "</tr>")
            out.append("</table>")
        elif isinstance(block, Image):
            out.append(f'<p><img src="{html.escape(block.src, quote=True)}" alt="{html.escape(block.alt, quote=True)}"></p>')
        elif isinstance(block, CodeBlock):
            out.append(f"<pre>{html.escape(block.text)}</pre>")
        else:
            raise TypeError(f"unknown block type {type(block).__name__}")
    out.extend(["</body>", "</html>"])
    return "\n".join(out) + "\n"
