"""Command-line interface: a thin layer that parses arguments and calls the soundtag API."""
