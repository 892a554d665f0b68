"""Reports stage: plots, filter pictures and the HTML report people read instead of logs."""

from soundtag.reports.filters import first_conv, first_layer_activations, first_layer_filters
from soundtag.reports.html import Section, render_report, write_report
from soundtag.reports.plots import (
    plot_activations,
    plot_confusion,
    plot_filters,
    plot_reconstructions,
    plot_rounds,
    plot_training_curves,
    plot_tsne_panels,
)

__all__ = [
    "Section",
    "first_conv",
    "first_layer_activations",
    "first_layer_filters",
    "plot_activations",
    "plot_confusion",
    "plot_filters",
    "plot_reconstructions",
    "plot_rounds",
    "plot_training_curves",
    "plot_tsne_panels",
    "render_report",
    "write_report",
]
