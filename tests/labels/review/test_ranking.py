"""The ranking of unverified clips: wrong labels first, suggestions, verdicts, and the saved table."""

from __future__ import annotations

import numpy as np
import pytest

from soundtag.config import AudioConfig, CleanConfig
from soundtag.data import read_corpus
from soundtag.labels.review.ranking import (
    ModelProbabilities,
    rank_unverified,
    ranking_key,
    read_ranking,
    write_ranking,
)
from tests.labels.review.corpus import TONES, WRONG, make_review_corpus

AUDIO = AudioConfig(sample_rate=16000)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return read_corpus(make_review_corpus(tmp_path_factory.mktemp("review-corpus")))


@pytest.fixture(scope="module")
def ranking(corpus, tmp_path_factory):
    return rank_unverified(corpus, CleanConfig(pca_components=None), AUDIO, str(tmp_path_factory.mktemp("cache")),
                           num_workers=0, progress=False)


def test_the_wrongly_labelled_clips_come_first_with_their_true_class_suggested(ranking):
    assert len(ranking) == 9 and set(ranking["fname"]) == {f"u-{c}-{i}.wav" for c in TONES for i in range(3)}
    assert set(ranking["fname"][:3]) == set(WRONG)
    assert ranking["doubt"].is_monotonic_decreasing
    for _, row in ranking.head(3).iterrows():
        assert row["suggestion_1"] == row["fname"].split("-")[1]  # the class its tone is
        assert row["cl_doubts"] and row["spread_doubts"] == 1
    assert not ranking["cl_doubts"][3:].any()
    assert np.isnan(ranking["model_probability"]).all()


def test_a_model_s_probabilities_join_the_doubt_and_give_the_suggestions(corpus, ranking, tmp_path):
    fnames = list(ranking["fname"])
    classes = sorted(TONES)
    probs = np.full((len(fnames), len(classes)), 0.1)
    probs[:, classes.index("Flute")] = 0.8  # a model that calls everything Flute
    model = ModelProbabilities(fnames, probs, classes)
    ranked = rank_unverified(corpus, CleanConfig(pca_components=None), AUDIO, str(tmp_path), num_workers=0,
                             model=model, progress=False)
    flute = ranked[ranked["given"] == "Flute"]
    assert (flute["model_probability"] == 0.8).all() and not flute["model_doubts"].any()
    assert (ranked["suggestion_1"] == "Flute").all() and (ranked["probability_1"] == 0.8).all()
    assert ranked[ranked["given"] != "Flute"]["model_doubts"].all()


def test_an_experiment_s_promoted_clips_replace_the_spreading_verdict(corpus, tmp_path):
    promoted = {"spread_doubts": {"u-Bark-0.wav"}}
    ranked = rank_unverified(corpus, CleanConfig(pca_components=None), AUDIO, str(tmp_path), num_workers=0,
                             promoted=promoted, progress=False)
    doubted = dict(zip(ranked["fname"], ranked["spread_doubts"]))
    assert doubted["u-Bark-0.wav"] == 0 and all(v == 1 for f, v in doubted.items() if f != "u-Bark-0.wav")


def test_a_saved_ranking_is_read_back_only_for_the_same_inputs(corpus, ranking, tmp_path):
    key = ranking_key(corpus, None, None)
    write_ranking(ranking, tmp_path, key)
    again = read_ranking(tmp_path, key)
    assert again is not None
    assert again.columns.tolist() == ranking.columns.tolist()
    assert again["fname"].tolist() == ranking["fname"].tolist()
    assert again["cl_doubts"].dtype == bool and np.isnan(again["model_probability"]).all()
    assert read_ranking(tmp_path, {**key, "clips": "other"}) is None
    assert read_ranking(tmp_path / "missing", key) is None
