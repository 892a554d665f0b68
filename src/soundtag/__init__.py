"""soundtag: train, evaluate and run general-purpose audio taggers from noisily labelled sound."""

__version__ = "0.1.0"
