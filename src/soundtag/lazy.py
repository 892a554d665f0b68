"""Lazy names of a package (PEP 562): a stage's package imports a module only when one of its names is
first used, so ``import soundtag`` and the torch-free tagging path stay light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_attributes(
    package: str, lazy: dict[str, str], namespace: dict[str, Any], listed: Iterable[str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``lazy`` is imported from its
    module on first use and kept in ``namespace`` (the package's globals), so the next look-up is
    direct; ``__dir__`` lists ``listed``, or else the globals and the lazy names."""

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(listed if listed is not None else {*namespace, *lazy})

    return __getattr__, __dir__
