"""Reports stage: plots and tables people read instead of logs."""

from soundtag.reports.plots import plot_confusion, plot_training_curves

__all__ = ["plot_confusion", "plot_training_curves"]
