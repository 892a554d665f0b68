"""Training with a review (``data.reviewed``): the clips a run learns from, and their labels and weights."""

from __future__ import annotations

from soundtag.config import load_config
from soundtag.labels.review.decisions import DecisionLog
from soundtag.training.run import prepare_training
from tests.helpers import REPO_ROOT


def test_reviewed_clips_train_as_verified_with_their_new_labels_and_none_is_left_out(tone_corpus, tmp_path):
    log = DecisionLog(tmp_path)
    log.record("u-Bark-2.wav", "relabel", "Bark")  # given Flute, truly Bark
    log.record("u-Cough-0.wav", "accept", "Cough")
    log.record("u-Flute-2.wav", "none")
    log.record("u-Cough-1.wav", "skip")
    config = load_config(REPO_ROOT / "configs" / "demo.yaml", [
        f"data.corpus={tone_corpus}", f"data.cache_dir={tmp_path / 'cache'}", f"data.reviewed={log.path}",
        "data.num_workers=0", "train.val_fraction=0.1", "train.unverified_weight=0.5", "features.n_mels=32"])
    prepared = prepare_training(config, progress=False)
    examples = {e.fname: e for e in prepared.data.train + prepared.data.val}
    labels = prepared.label_map
    assert "u-Flute-2.wav" not in examples and len(examples) == 20
    assert examples["u-Bark-2.wav"].target == labels.index("Bark")
    for fname in ("u-Bark-2.wav", "u-Cough-0.wav"):
        assert fname in {e.fname for e in prepared.data.val} or examples[fname].weight == 1.0
    assert examples["u-Cough-1.wav"].weight == 0.5 and examples["u-Cough-2.wav"].weight == 0.5


def test_the_experiment_report_says_how_many_labels_were_reviewed_and_changed(tone_corpus, tmp_path):
    from soundtag.reports.experiment import report_facts
    from soundtag.reports.summary import ExperimentSummary, StageScores

    log = DecisionLog(tmp_path)
    log.record("u-Bark-2.wav", "relabel", "Bark")
    log.record("u-Cough-0.wav", "accept", "Cough")
    summary = ExperimentSummary({"all_labels": StageScores(0.5, 0.4, 3)}, {}, "all", "latent", {}, {})
    facts = dict(report_facts(summary, str(tone_corpus), None, reviewed=str(log.path)))
    assert facts["reviewed labels"].startswith("2 labels reviewed by a person (1 accepted, 1 relabelled")
    assert "1 changed" in facts["reviewed labels"]
    assert "reviewed labels" not in dict(report_facts(summary, str(tone_corpus), None))
