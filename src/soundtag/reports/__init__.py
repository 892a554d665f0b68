"""Reports stage: plots, filter pictures, the experiment's summary and the HTML report people read
instead of logs."""

from soundtag.reports.cleaning import plot_autoencoder, plot_spreading
from soundtag.reports.experiment import latent_verdict, recipe_sections, write_experiment_report
from soundtag.reports.filters import filter_pictures, first_conv, first_layer_activations, first_layer_filters
from soundtag.reports.html import Section, Table, render_report, write_report
from soundtag.reports.plots import (
    plot_activations,
    plot_confusion,
    plot_filters,
    plot_reconstructions,
    plot_rounds,
    plot_run_curves,
    plot_training_curves,
    plot_tsne_panels,
)
from soundtag.reports.scores import Scored, plot_ensemble_confusion, plot_run_confusion, plot_scored_confusion
from soundtag.reports.summary import (
    ExperimentSummary,
    RecipeSummary,
    StageScores,
    cleaner_summary,
    map3_standard_error,
    spreading_summary,
    training_minutes,
)

__all__ = [
    "ExperimentSummary",
    "RecipeSummary",
    "Scored",
    "Section",
    "StageScores",
    "Table",
    "cleaner_summary",
    "filter_pictures",
    "first_conv",
    "first_layer_activations",
    "first_layer_filters",
    "latent_verdict",
    "map3_standard_error",
    "plot_activations",
    "plot_autoencoder",
    "plot_confusion",
    "plot_ensemble_confusion",
    "plot_filters",
    "plot_reconstructions",
    "plot_rounds",
    "plot_run_confusion",
    "plot_scored_confusion",
    "plot_spreading",
    "plot_run_curves",
    "plot_training_curves",
    "plot_tsne_panels",
    "recipe_sections",
    "render_report",
    "spreading_summary",
    "training_minutes",
    "write_experiment_report",
    "write_report",
]
