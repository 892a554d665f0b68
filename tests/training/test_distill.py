"""Distillation: the teacher's file, its temperature, the loss, and a trainer that learns from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundtag.data import Example
from soundtag.errors import SoundtagError
from soundtag.training.distill import distill_losses, read_teacher, soften, write_teacher
from soundtag.training.trainer import Trainer
from tests.training.test_trainer import N_CLASSES, synthetic, unit_config, unit_model  # noqa: F401 (fixture)
from tests.training.tiny_run import assert_same_run


def examples(*names: str) -> list[Example]:
    return [Example(f"/audio/{n}", 0, n) for n in names]


def test_the_teacher_is_read_back_in_the_examples_order_and_the_runs_class_order(tmp_path):
    path = tmp_path / "teacher.csv"
    write_teacher(path, ["a.wav", "b.wav"], ["dog", "cat"], np.array([[0.75, 0.25], [0.1, 0.9]]))
    got = read_teacher(path, examples("b.wav", "a.wav"), ["cat", "dog"])
    np.testing.assert_allclose(got, [[0.9, 0.1], [0.25, 0.75]], rtol=1e-6)


@pytest.mark.parametrize(("labels", "clips", "message"), [
    (["dog", "bird"], ("a.wav",), "no column 'bird'"),
    (["dog"], ("a.wav", "c.wav"), "no probabilities for training clip 'c.wav'"),
])
def test_a_teacher_without_a_class_or_a_clip_is_refused_naming_it(tmp_path, labels, clips, message):
    path = tmp_path / "teacher.csv"
    write_teacher(path, ["a.wav"], ["dog"], np.array([[1.0]]))
    with pytest.raises(SoundtagError, match=message):
        read_teacher(path, examples(*clips), labels)


def test_temperature_one_keeps_the_probabilities_and_higher_ones_flatten_them():
    p = torch.tensor([[0.7, 0.2, 0.1]])
    torch.testing.assert_close(soften(p, 1.0), p)
    assert soften(p, 4.0).max() < soften(p, 2.0).max() < 0.7


def test_the_distillation_loss_is_zero_where_the_model_agrees_with_the_teacher():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]])
    agreeing = torch.softmax(logits, dim=1)
    losses = distill_losses(logits, agreeing, 3.0)
    torch.testing.assert_close(losses, torch.zeros(2), atol=1e-6, rtol=0)
    assert (distill_losses(logits, agreeing.flip(1), 3.0) > 0.1).all()


def test_alpha_zero_trains_exactly_as_without_a_teacher(synthetic, tmp_path):  # noqa: F811
    mix = dict(augment={"mixup_alpha": 0.4})
    plain, taught = tmp_path / "plain", tmp_path / "taught"
    plain.mkdir()
    taught.mkdir()
    Trainer(unit_config(epochs=2, **mix), unit_model(), synthetic, plain, progress=False).fit()
    synthetic.teacher = np.full((len(synthetic.train), N_CLASSES), 1 / N_CLASSES, dtype=np.float32)
    Trainer(unit_config(epochs=2, distill_alpha=0.0, **mix), unit_model(), synthetic, taught, progress=False).fit()
    assert_same_run(plain, taught)


def test_a_model_distilled_from_the_teacher_alone_follows_it(synthetic, tmp_path):  # noqa: F811
    """With alpha 1 the labels are ignored: a teacher that says class 0 for every clip is what is learnt."""
    synthetic.teacher = np.tile(np.array([[0.98, 0.01, 0.01]], dtype=np.float32), (len(synthetic.train), 1))
    (tmp_path / "run").mkdir()
    trainer = Trainer(unit_config(epochs=4, lr=0.02, distill_alpha=1.0, distill_temperature=1.0), unit_model(),
                      synthetic, tmp_path / "run", progress=False)
    trainer.fit()
    assert (trainer.validation_probabilities().argmax(axis=1) == 0).mean() > 0.8


def test_distillation_is_refused_for_a_multi_label_run(synthetic, tmp_path):  # noqa: F811
    synthetic.multi_label, synthetic.teacher = True, np.ones((len(synthetic.train), N_CLASSES), dtype=np.float32)
    with pytest.raises(SoundtagError, match="single-label"):
        Trainer(unit_config(), unit_model(), synthetic, tmp_path, progress=False)


def test_a_config_with_a_teacher_and_multi_label_outputs_is_refused():
    from soundtag.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="train.teacher"):
        config_from_dict({"train": {"teacher": "t.csv", "multi_label": "yes"}})
