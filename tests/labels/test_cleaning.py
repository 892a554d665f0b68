"""The cleaning stage on a corpus (labels/cleaning.py): single-label embeddings keep one label a clip and
write ``promoted.csv`` as ``fname,label``; a multi-label corpus's embeddings carry label sets, confident
learning cleans them and ``promoted.csv`` is ``fname,labels``, which a multi-label training run reads as
trusted clips. The last test drives ``soundtag spread --method confident`` on soundscapes made by
``scripts/make_soundscapes.py`` and trains on what it promoted.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from soundtag.cli.main import main
from soundtag.config import load_config
from soundtag.data import Clip, Corpus, read_corpus, read_extra_labels
from soundtag.errors import SoundtagError
from soundtag.labels import Embeddings, spread, spreading_embeddings
from soundtag.labels.autoencoder import LATENTS_FILE, Latents
from soundtag.labels.confident import label_set_array
from soundtag.runs import RunFolder
from soundtag.training import start_run
from tests.helpers import REPO_ROOT, make_soundscapes, read_rows
from tests.training.tiny_run import shared_cache_dir, single_thread_torch, tiny_config

DEMO_CONFIG = REPO_ROOT / "configs" / "demo.yaml"


def clusters(seed: int = 0) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Clips whose vector is the sum of their classes' centres plus noise, with their label sets."""
    rng = np.random.default_rng(seed)
    names = ["a", "b", "c"]
    sets = [tuple(sorted(rng.choice(names, size=rng.integers(0, 3), replace=False).tolist())) for _ in range(60)]
    centres = dict(zip(names, np.eye(3) * 4))
    vectors = np.array([sum((centres[n] for n in clip), np.zeros(3)) for clip in sets]) + rng.normal(0, 0.3, (60, 3))
    return vectors, sets


def cleaning_config(*overrides: str):
    return load_config(DEMO_CONFIG, ["clean.method=confident", "clean.pca_components=null", *overrides])


def test_spread_writes_label_sets_of_a_multi_label_corpus_as_a_manifest_does(tmp_path):
    vectors, sets = clusters()
    sets[7] = ("a", "b", "c") if sets[7] == () else ()  # a wrong set, never promoted
    fnames = np.array([f"{i}.wav" for i in range(len(sets))])
    verified = np.arange(len(sets)) % 4 == 0
    embeddings = Embeddings(fnames, label_set_array(sets), verified, vectors, None, multi_label=True)
    result = spread(cleaning_config(), embeddings, "all", tmp_path / "out")
    assert result.promoted.any() and not result.promoted[verified].any() and not result.promoted[7]
    rows = read_rows(tmp_path / "out" / "promoted.csv")
    assert list(rows[0]) == ["fname", "labels"]
    assert [(r["fname"], tuple(filter(None, r["labels"].split(",")))) for r in rows] == \
        [(str(f), sets[i]) for i, f in enumerate(fnames) if result.promoted[i]]
    assert any(len(sets[i]) > 1 for i in np.flatnonzero(result.promoted))  # quoted sets: the csv module reads them
    table = pd.read_csv(tmp_path / "out" / "groups.csv")
    assert table["classes"].tolist() == [3, 3] and "promoted_precision" not in table.columns
    # what a multi-label training run reads back: the same sets, a clip without label included
    corpus = Corpus(tmp_path, [Clip(str(f), tmp_path / str(f), s, bool(v)) for f, s, v in zip(fnames, sets, verified)],
                    [], ["a", "b", "c"])
    assert corpus.multi_label
    extra = read_extra_labels(tmp_path / "out" / "promoted.csv", corpus)
    assert extra == {str(f): sets[i] for i, f in enumerate(fnames) if result.promoted[i]}


def test_spread_of_a_single_label_corpus_still_writes_one_label_a_clip(tmp_path):
    rng = np.random.default_rng(1)
    vectors = np.vstack([rng.normal(0, 0.3, (15, 3)), rng.normal(4, 0.3, (15, 3))])
    labels = np.array(["x"] * 15 + ["y"] * 15)
    verified = np.arange(30) % 3 == 0
    embeddings = Embeddings(np.array([f"{i}.wav" for i in range(30)]), labels, verified, vectors, labels.copy())
    result = spread(cleaning_config(), embeddings, "all", tmp_path)
    rows = read_rows(tmp_path / "promoted.csv")
    assert list(rows[0]) == ["fname", "label"] and len(rows) == result.promoted.sum() == 20
    assert result.table.iloc[-1]["promoted_precision"] == 1.0


def test_label_spreading_of_label_sets_is_refused(tmp_path):
    vectors, sets = clusters()
    embeddings = Embeddings(np.array([f"{i}.wav" for i in range(60)]), label_set_array(sets), np.zeros(60, bool),
                            vectors, None, multi_label=True)
    config = cleaning_config("clean.method=spreading")
    with pytest.raises(SoundtagError, match="label spreading is single-label; use clean.method: confident"):
        spread(config, embeddings, "all", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- soundscapes through the command line -------------------------------------------------------------


@pytest.fixture(scope="module")
def soundscapes(tmp_path_factory):
    """40 training (27 unverified) and 6 test soundscapes of 2 seconds, made by scripts/make_soundscapes.py."""
    out = make_soundscapes(tmp_path_factory.mktemp("soundscapes") / "set", "--train", "40", "--test", "6",
                           "--seconds", "2", "--sample-rate", "16000")
    return out / "manifest.csv"


def test_embeddings_of_a_manifest_carry_each_clips_label_set(soundscapes, tmp_path):
    config = cleaning_config(f"data.corpus={soundscapes}", "clean.embedding=mfcc_stats",
                             f"data.cache_dir={tmp_path / 'cache'}", "data.num_workers=1")
    embeddings = spreading_embeddings(config, None, progress=False)
    corpus = read_corpus(soundscapes)
    assert corpus.multi_label and embeddings.multi_label and embeddings.truth is None
    assert embeddings.fnames.tolist() == [c.fname for c in corpus.train]
    assert embeddings.labels.tolist() == [c.labels for c in corpus.train]
    assert embeddings.verified.tolist() == [c.verified for c in corpus.train]
    with pytest.raises(SoundtagError, match="label spreading is single-label"):
        spreading_embeddings(replace(config, clean=replace(config.clean, method="spreading")), None, progress=False)


def test_latents_of_a_multi_label_corpus_take_its_label_sets(soundscapes, tmp_path):
    """A latents file keeps one label string a clip: a multi-label corpus's sets come from the corpus."""
    corpus = read_corpus(soundscapes)
    fnames = np.array([c.fname for c in corpus.train])
    given = np.array([str(c.label) for c in corpus.train])  # as train_autoencoder writes them: 'None' for a set
    verified = np.array([bool(c.verified) for c in corpus.train])
    vectors = np.random.default_rng(0).normal(size=(len(fnames), 8))
    Latents(fnames, given, verified, vectors).save(tmp_path / LATENTS_FILE)
    config = cleaning_config(f"data.corpus={soundscapes}")
    embeddings = spreading_embeddings(config, tmp_path, progress=False)
    assert embeddings.multi_label and embeddings.labels.tolist() == [c.labels for c in corpus.train]
    Latents(np.array(["elsewhere.wav"]), np.array(["x"]), np.array([True]), np.zeros((1, 8))).save(
        tmp_path / LATENTS_FILE)
    with pytest.raises(SoundtagError, match="clip 'elsewhere.wav' is not a train clip of .*; run `soundtag "
                                            "autoencode` again"):
        spreading_embeddings(config, tmp_path, progress=False)


@pytest.mark.e2e
def test_spread_confident_on_soundscapes_then_train_on_the_promoted_clips(soundscapes, tmp_path_factory, tmp_path,
                                                                            capsys):
    cache = shared_cache_dir(tmp_path_factory)
    ae_dir = tmp_path / "ae"  # only its config is read: MFCC statistics need no autoencoder
    RunFolder(ae_dir).path.mkdir()
    RunFolder(ae_dir).write_config(load_config(DEMO_CONFIG, [f"data.corpus={soundscapes}", "data.num_workers=1",
                                                             f"data.cache_dir={cache}"]))
    # 'both' promotes 7 of the 27 unverified soundscapes of this tiny set, 3 of them with several labels
    # (the default filter promotes 6 with one label each: 40 clips teach a logistic regression little)
    assert main(["spread", str(ae_dir), "--method", "confident", "--set", "clean.embedding=mfcc_stats",
                 "--set", "clean.filter_by=both", "--quiet"]) == 0
    assert "promoted.csv" in capsys.readouterr().out
    out = ae_dir / "confident"
    assert {"promoted.csv", "groups.csv", "groups.md", "tsne-before.png", "tsne-after.png"} <= \
        {p.name for p in out.iterdir()}
    promoted = read_rows(out / "promoted.csv")
    assert promoted and list(promoted[0]) == ["fname", "labels"]
    assert any("," in row["labels"] for row in promoted)
    given = {r["fname"]: r for r in read_rows(soundscapes)}
    for row in promoted:  # unverified train clips, with the labels the manifest gives them
        assert given[row["fname"]]["split"] == "train" and given[row["fname"]]["verified"] == "0"
        assert row["labels"] == given[row["fname"]]["labels"]

    with single_thread_torch():
        config = tiny_config(cache, f"data.corpus={soundscapes}", "train.epochs=1", "train.labels=verified",
                             f"train.extra_labels={out / 'promoted.csv'}", "train.unverified_weight=0.5")
        _, prepared = start_run(config, tmp_path / "run", progress=False)
    assert prepared.data.multi_label and RunFolder(tmp_path / "run").is_multi_label()
    labels = prepared.label_map
    weights = {e.fname: (e.weight, {labels.label(t) for t in e.targets}) for e in prepared.data.train}
    for row in promoted:  # trusted: weight 1, learnt with their whole label set
        assert weights[row["fname"]] == (1.0, set(filter(None, row["labels"].split(","))))
    assert not {r["fname"] for r in promoted} & {e.fname for e in prepared.data.val}
    assert len(prepared.data.train) + len(prepared.data.val) == \
        len(promoted) + sum(r["verified"] == "1" for r in given.values() if r["split"] == "train")
