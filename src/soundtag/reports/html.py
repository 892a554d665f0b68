"""A self-contained HTML report: tables and images embedded, readable offline in any browser."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from soundtag.fileio import atomic_write_text
from soundtag.reports.columns import column, definitions, readable_frame

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.3em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1em;margin:.4em 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.5em 0 1em;font-size:.95em}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:.4em 0;font-size:.85em;max-width:100%}
th,td{border:1px solid #ccc;padding:.2em .45em;text-align:right}
th{background:#f3f3f3;white-space:normal;vertical-align:bottom;max-width:7em;font-weight:600}
td{white-space:nowrap}td.text{white-space:normal;text-align:left;max-width:22em}
td:first-child,th:first-child{text-align:left}
tr.flag td{color:#b00020;background:#fdecee}
.side{display:flex;flex-wrap:wrap;gap:1em 2em;align-items:flex-start}.side>div{max-width:100%}
p.defs{font-size:.78em;color:#555;margin:.2em 0 .6em;max-width:60em}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
figure{margin:.4em 0;max-width:100%}figcaption{font-size:.85em;color:#555}img{max-width:100%}
figure.half{max-width:560px}
p.note{color:#444;font-size:.9em}p.warn{color:#b00020;font-weight:600;font-size:.9em}
"""


TEXT_CELL = ' class="text"'  # words wrap and sit left; numbers stay on one line, right-aligned


@dataclass
class Table:
    """A captioned table of raw columns (named in words and formatted by :mod:`soundtag.reports.columns`)
    with a line defining its columns; ``flagged`` maps row positions to why each is shown in red."""

    caption: str
    frame: pd.DataFrame
    flagged: dict[int, str] = field(default_factory=dict)


@dataclass
class Section:
    """A heading with paragraphs (``warnings`` in red), tables (captioned) and pictures (captioned PNG
    files; ``half`` pictures shown at half width)."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame] | Table] = field(default_factory=list)
    images: list[tuple[str, Path]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    half: list[tuple[str, Path]] = field(default_factory=list)


def image_tag(path: Path, caption: str, css_class: str = "") -> str:
    """An <img> with the PNG embedded as base64."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    attribute = f' class="{css_class}"' if css_class else ""
    return (f'<figure{attribute}><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def table_tag(table: Table | pd.DataFrame, caption: str | None = None) -> str:
    """A captioned HTML table, its columns named in words, its numbers formatted by kind, flagged rows
    in red, and a line defining its columns below it."""
    if not isinstance(table, Table):
        table = Table(caption or "", table)
    shown = readable_frame(table.frame)
    kinds = [column(key).kind for key in table.frame.columns]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in shown.columns)
    rows = []
    for position, values in enumerate(shown.itertuples(index=False)):
        flag = ' class="flag"' if position in table.flagged else ""
        cells = "".join(f"<td{TEXT_CELL if kind == 'text' and i else ''}>{html.escape(value)}</td>"
                        for i, (value, kind) in enumerate(zip(values, kinds)))
        rows.append(f"<tr{flag}>{cells}</tr>")
    defined = "; ".join(f"<b>{html.escape(name)}</b>: {html.escape(meaning)}"
                        for name, meaning in definitions(list(table.frame.columns)))
    below = f"<p class='defs'>{defined}</p>" if defined else ""
    return (f"<div><h3>{html.escape(table.caption)}</h3><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{below}</div>")


def render_report(title: str, sections: list[Section], facts: list[tuple[str, str]] | None = None) -> str:
    """The whole page: the title, ``facts`` (name, value) as a header, then the sections."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if facts:
        parts.append("<dl class='facts'>" + "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd>"
                                                    for name, value in facts) + "</dl>")
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p class='warn'>{html.escape(warning)}</p>" for warning in section.warnings]
        parts += [f"<p class='note'>{html.escape(note)}</p>" for note in section.notes]
        if section.tables:
            parts.append("<div class='side'>" + "".join(
                table_tag(t) if isinstance(t, Table) else table_tag(t[1], t[0]) for t in section.tables) + "</div>")
        figures = [image_tag(path, caption) for caption, path in section.images if Path(path).is_file()]
        figures += [image_tag(path, caption, "half") for caption, path in section.half if Path(path).is_file()]
        if figures:
            parts.append("<div class='figs'>" + "".join(figures) + "</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | Path, title: str, sections: list[Section], facts: list[tuple[str, str]] | None = None
                 ) -> None:
    """Write the report atomically."""
    atomic_write_text(path, render_report(title, sections, facts))
