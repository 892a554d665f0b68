"""A self-contained HTML report: tables and images embedded, readable offline in any browser."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from soundtag.fileio import atomic_write_text

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.side{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.side>div{overflow-x:auto;max-width:100%}
figure{margin:.6em 0}figcaption{font-size:.85em;color:#555}img{max-width:100%}
p.note{color:#555;font-size:.9em}
"""


@dataclass
class Section:
    """A heading with paragraphs, tables (captioned) and pictures (captioned PNG files)."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    images: list[tuple[str, Path]] = field(default_factory=list)


def image_tag(path: Path, caption: str) -> str:
    """An <img> with the PNG embedded as base64."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def table_tag(frame: pd.DataFrame, caption: str) -> str:
    """A captioned HTML table."""
    body = frame.to_html(index=False, border=0, na_rep="–", float_format=lambda v: f"{v:.4g}")
    return f"<div><h3>{html.escape(caption)}</h3>{body}</div>"


def render_report(title: str, sections: list[Section]) -> str:
    """The whole page."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p class='note'>{html.escape(note)}</p>" for note in section.notes]
        if section.tables:
            parts.append("<div class='side'>" + "".join(table_tag(t, c) for c, t in section.tables) + "</div>")
        parts += [image_tag(path, caption) for caption, path in section.images if Path(path).is_file()]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | Path, title: str, sections: list[Section]) -> None:
    """Write the report atomically."""
    atomic_write_text(path, render_report(title, sections))
