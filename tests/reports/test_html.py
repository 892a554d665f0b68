"""The HTML report embeds every table and picture and needs nothing else to open."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from soundtag.reports import Section, plot_confusion, render_report, write_report


def test_report_embeds_tables_and_images(tmp_path):
    image = tmp_path / "c.png"
    plot_confusion(np.array([[3, 1], [0, 4]]), ["Bark", "Cough"], image)
    table = pd.DataFrame({"stage": ["all_labels", "verified"], "map3": [0.81, 0.77]})
    sections = [Section("Method comparison", ["a note"], [("stages", table)], [("confusion", image)])]
    page = render_report("title", sections)
    assert "<h2>Method comparison</h2>" in page and "all_labels" in page and "0.81" in page
    assert base64.b64encode(image.read_bytes()).decode()[:200] in page
    assert "src=\"http" not in page and "<link" not in page
    out = tmp_path / "report.html"
    write_report(out, "title", sections)
    assert out.read_text() == page
