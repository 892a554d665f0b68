"""Lazy package names: imported on first use, kept afterwards, unknown names refused as Python does."""

from __future__ import annotations

import pytest

from soundtag.lazy import lazy_attributes


def test_a_lazy_name_is_imported_once_and_kept_in_the_namespace():
    namespace: dict = {}
    getattr_, dir_ = lazy_attributes("pkg", {"sqrt": "math"}, namespace)
    import math

    assert getattr_("sqrt") is math.sqrt
    assert namespace == {"sqrt": math.sqrt}
    assert dir_() == ["sqrt"]


def test_an_unknown_name_raises_attribute_error_naming_the_package():
    getattr_, _ = lazy_attributes("pkg", {}, {})
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")


def test_dir_lists_the_given_names_when_there_are_some():
    _, dir_ = lazy_attributes("pkg", {"sqrt": "math"}, {"hidden": 1}, listed=["b", "a"])
    assert dir_() == ["a", "b"]
