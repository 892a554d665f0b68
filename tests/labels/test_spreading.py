"""Label spreading: promotion on a constructed case, group schemes, tables and truth scoring."""

from __future__ import annotations

import numpy as np
import pytest

from soundtag.config import CleanConfig
from soundtag.errors import ConfigError
from soundtag.labels import SCHEMES, load_group_schemes, prepare_embeddings, scheme_for, spread_labels


def two_clusters(seed: int = 0):
    """Two tight, far-apart clusters: A around (0, 0), B around (10, 10); a few verified in each."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 0.1, (10, 2))
    b = rng.normal(10, 0.1, (10, 2))
    vectors = np.vstack([a, b])
    truth = np.array(["A"] * 10 + ["B"] * 10)
    labels = truth.copy()
    labels[[8, 9]] = "B"  # two unverified clips of cluster A carry the wrong label B
    verified = np.zeros(20, dtype=bool)
    verified[[0, 1, 2, 10, 11, 12]] = True
    return vectors, labels, verified, truth


def test_unverified_clip_is_promoted_only_when_spread_label_agrees():
    vectors, labels, verified, truth = two_clusters()
    result = spread_labels(vectors, labels, verified, {"A": "g", "B": "g"}, CleanConfig(pca_components=None), truth)
    assert list(result.spread_labels) == list(truth)
    expected = ~verified & (labels == truth)
    assert result.promoted.tolist() == expected.tolist()
    total = result.table.iloc[-1]
    assert total["promoted"] == 12 and total["verified_after"] == 18
    assert total["promoted_precision"] == 1.0
    assert total["wrong_labels"] == 2 and total["wrong_caught_pct"] == 100.0


def test_groups_spread_separately():
    vectors, labels, verified, truth = two_clusters()
    groups = {"A": "first", "B": "second"}
    result = spread_labels(vectors, labels, verified, groups, CleanConfig(pca_components=None), truth)
    # inside group "second" only B is known, so the wrong-labelled A clips are spread to B and promoted
    assert result.promoted[8] and result.promoted[9]
    assert list(result.table["group"]) == ["first", "second", "total"]
    assert result.table.set_index("group").loc["second", "promoted_precision"] < 1.0


def test_table_counts_and_percentages():
    vectors, labels, verified, _ = two_clusters()
    table = spread_labels(vectors, labels, verified, {"A": "g", "B": "g"}, CleanConfig(pca_components=None)).table
    total = table.iloc[-1]
    assert total["clips"] == 20 and total["verified"] == 6 and total["verified_pct"] == 30.0
    assert total["promoted_pct"] == round(100 * total["promoted"] / 14, 1)
    assert "promoted_precision" not in table.columns


def test_embedding_scale_does_not_depend_on_dimension():
    rng = np.random.default_rng(1)
    for dim in (8, 512):
        x = prepare_embeddings(rng.normal(size=(50, dim)), CleanConfig(pca_components=None))
        assert np.mean(np.sum(x**2, axis=1)) == pytest.approx(1.0)


def test_shipped_schemes_cover_the_41_classes_once():
    schemes = load_group_schemes()
    assert set(SCHEMES) <= set(schemes)
    for scheme in SCHEMES:
        assert len(schemes[scheme]) == 41
    assert len(set(schemes["music2"].values())) == 2
    assert sum(1 for g in schemes["music2"].values() if g == "music") == 19
    assert len(set(schemes["groups3"].values())) == 3
    assert len(set(schemes["groups5"].values())) == 5


def test_scheme_must_cover_every_class(tmp_path):
    with pytest.raises(ConfigError, match="Not_a_class"):
        scheme_for(["Cello", "Not_a_class"], "all")
    custom = tmp_path / "groups.yaml"
    custom.write_text("mine:\n  low: [Cello]\n  high: [Flute]\n")
    assert scheme_for(["Cello", "Flute"], "mine", custom) == {"Cello": "low", "Flute": "high"}
    with pytest.raises(ConfigError, match="unknown group scheme"):
        scheme_for(["Cello"], "nope", custom)


def test_class_in_two_groups_is_an_error(tmp_path):
    bad = tmp_path / "groups.yaml"
    bad.write_text("mine:\n  a: [Cello]\n  b: [Cello]\n")
    with pytest.raises(ConfigError, match="two groups"):
        load_group_schemes(bad)
