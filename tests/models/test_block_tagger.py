"""What fine-tuning needs of every model: the per-class output layer by name, and frozen conv blocks whose
weights and BatchNorm statistics do not move in training steps while the rest of the model learns."""

from __future__ import annotations

import pytest
import torch

from soundtag.config import ModelConfig
from soundtag.models import MODELS, BlockTagger, build_model, count_parameters, model_summary


def small_config(name: str) -> ModelConfig:
    if name == "mobilenet":
        return ModelConfig(name=name, width=0.25, fc_dim=8)
    return ModelConfig(name=name, channels=[4, 4, 4, 4] if name == "cnn1d_raw" else [4, 8, 8], fc_dim=8)


def small(name: str, n_classes: int = 3) -> BlockTagger:
    torch.manual_seed(0)
    return build_model(small_config(name), 1 if name == "cnn1d_raw" else 12, n_classes)


def batch(name: str) -> torch.Tensor:
    return torch.randn(6, 1, 4096) if name == "cnn1d_raw" else torch.randn(6, 12, 24) * 2 + 1


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_names_its_per_class_output_layer(name):
    model = small(name, n_classes=5)
    assert isinstance(model, BlockTagger)
    state = model.state_dict()
    assert [tuple(state[k].shape)[0] for k in model.output_state_keys] == [5, 5]
    assert model.output_layer is model.get_submodule(model.output_layer_name)
    # no other weight depends on the number of classes
    other = build_model(small_config(name), 1 if name == "cnn1d_raw" else 12, 2).state_dict()
    assert {k: v.shape for k, v in state.items() if k not in model.output_state_keys} == \
           {k: v.shape for k, v in other.items() if k not in model.output_state_keys}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_frozen_blocks_keep_weights_and_statistics_through_training_steps(name):
    model = small(name)
    model.freeze_blocks(2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=0.01)
    model.train()
    assert not model.features[0].training and not model.features[1].training and model.features[2].training
    for _ in range(3):
        optimizer.zero_grad()
        model(batch(name)).logsumexp(dim=1).mean().backward()
        optimizer.step()
    after = model.state_dict()
    frozen = [k for k in after if k.startswith(("features.0.", "features.1."))]
    assert any(k.endswith("running_var") for k in frozen)
    for key in frozen:
        assert torch.equal(after[key], before[key]), key
    learning = [next(k for k in after if k.startswith("features.2.") and k.endswith(end))
                for end in ("running_mean", "weight")]
    for key in (*learning, "classifier.out.weight", "input_norm.running_mean"):
        assert not torch.equal(after[key], before[key]), key


def test_freezing_counts_in_the_summary_and_zero_unfreezes():
    model = small("vgg_small")
    total = count_parameters(model)
    model.freeze_blocks(1)
    assert count_parameters(model) == total - sum(p.numel() for p in model.features[0].parameters())
    assert model_summary("vgg_small", model) == (f"model vgg_small: {total:,} parameters, {count_parameters(model):,} "
                                                 "trainable (first 1 conv block frozen)")
    model.eval()
    model.train()
    assert not model.features[0].training
    model.freeze_blocks(0)
    assert count_parameters(model) == total and model.features[0].training
    assert model_summary("vgg_small", model) == f"model vgg_small: {total:,} parameters"


def test_freezing_more_blocks_than_the_model_has_is_refused():
    with pytest.raises(ValueError, match="the model has 3 conv blocks; cannot freeze 4"):
        small("vgg_small").freeze_blocks(4)
