"""Training curves: every epoch is drawn, a single epoch too, on whole-epoch ticks."""

from __future__ import annotations

import pytest

from soundtag.reports import plots


@pytest.fixture
def drawn(monkeypatch):
    """The figures plots would save, kept instead of written."""
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig))
    return figures


def write_metrics(path, epochs: int):
    rows = "".join(f"{e},{2.0 - e / 10},0.1,2.1,0.2,0.3,1.0\n" for e in range(1, epochs + 1))
    path.write_text("epoch,loss,train_acc,val_loss,val_acc,val_map3,seconds\n" + rows)
    return path


@pytest.mark.parametrize("epochs", [1, 7])
def test_every_epoch_is_a_visible_point_on_whole_epoch_ticks(tmp_path, drawn, epochs):
    plots.plot_training_curves(write_metrics(tmp_path / "metrics.csv", epochs), tmp_path / "curves.png")
    (figure,) = drawn
    loss, scores = figure.axes
    assert [line.get_label() for line in loss.lines] == ["loss", "val loss"]
    assert [line.get_label() for line in scores.lines] == ["train acc", "val acc", "val map3"]
    for line in loss.lines + scores.lines:
        assert line.get_marker() == "." and len(line.get_xdata()) == epochs
    for ax in (loss, scores):
        low, high = ax.get_xlim()
        assert low < 1 and high > epochs
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)


def test_a_multi_label_run_draws_lwlrap_and_map(tmp_path, drawn):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss,val_loss,val_lwlrap,val_map,seconds\n1,0.7,0.6,0.4,0.3,1\n2,0.6,0.5,0.5,0.4,1\n")
    plots.plot_training_curves(path, tmp_path / "curves.png")
    (figure,) = drawn
    assert [line.get_label() for line in figure.axes[1].lines] == ["val lwlrap", "val map"]
    assert figure.axes[1].get_title() == "lwlrap and mAP"


def test_a_title_names_the_stage_in_every_panel(tmp_path, drawn):
    plots.plot_training_curves(write_metrics(tmp_path / "metrics.csv", 1), tmp_path / "curves.png", "promoted")
    (figure,) = drawn
    assert [ax.get_title() for ax in figure.axes] == ["promoted: loss", "promoted: accuracy and MAP@3"]


def test_drawing_never_chooses_a_backend_for_the_host_program(tmp_path):
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('pdf'); from soundtag.reports import plots; "
            f"plots.plot_training_curves({str(write_metrics(tmp_path / 'm.csv', 2))!r}, {str(tmp_path / 'c.png')!r}); "
            "import sys; print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["pdf", "False"]
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
