"""Entry point for ``python -m soundtag``."""

from soundtag.cli.main import main

raise SystemExit(main())
