"""The feature registry: a kind declared in one place (its config and its transform, registered
together) loads by name, builds, and tells the other stages what they need, with no other file touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

from soundtag.config import AT_LEAST_ONE, FeatureConfig, LogMelConfig, feature_types, load_config, save_config, setting
from soundtag.errors import ConfigError
from soundtag.features import FeatureTransform, Raw, build_transform, extract_batch, register_feature
from soundtag.features.registry import TRANSFORMS, transform_type
from soundtag.labels.autoencoder import input_frames
from soundtag.training import window_frames


@pytest.fixture
def toy_kinds():
    """Two kinds registered the way a new one is, and unregistered afterwards: frame energy in dB
    (spectral, one row, optionally resized to ``width`` frames) and the rectified waveform (1-D)."""
    saved = dict(TRANSFORMS)

    @dataclass
    class FrameEnergyConfig(FeatureConfig):
        name: ClassVar[str] = "frame_energy"
        frame: int = setting(400, AT_LEAST_ONE)
        width: int | None = setting(None, AT_LEAST_ONE)

    @register_feature(FrameEnergyConfig)
    class FrameEnergy(FeatureTransform):
        config: FrameEnergyConfig
        in_db = True

        def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
            n = self.num_frames(waveforms.shape[1])
            framed = waveforms[:, : n * self.config.frame].reshape(len(waveforms), n, self.config.frame)
            return 10 * torch.log10(framed.pow(2).mean(dim=2) + 1e-10).unsqueeze(1)

        def finish(self, frames: torch.Tensor) -> torch.Tensor:
            width = self.config.width
            return frames if width is None else torch.nn.functional.interpolate(frames, size=width, mode="linear")

        def num_frames(self, num_samples: int) -> int:
            return num_samples // self.config.frame

        @property
        def fixed_frames(self) -> int | None:
            return self.config.width

        @property
        def num_bins(self) -> int:
            return 1

        @property
        def frame_hop(self) -> int:
            return self.config.frame

        @property
        def frame_context(self) -> int:
            return 0

    @dataclass
    class RectifiedConfig(FeatureConfig):
        name: ClassVar[str] = "rectified"

    @register_feature(RectifiedConfig)
    class Rectified(Raw):
        def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
            return super().frames(waveforms).abs()

    yield FrameEnergyConfig, FrameEnergy, RectifiedConfig
    TRANSFORMS.clear()
    TRANSFORMS.update(saved)


def test_a_registered_kind_loads_by_name_with_its_fields_checked(toy_kinds, tmp_path):
    config_type, _, _ = toy_kinds
    config = load_config(None, ["features.name=frame_energy", "features.width=50"])
    assert type(config.features) is config_type
    assert config.features == config_type(frame=400, width=50)
    assert feature_types()["frame_energy"] is config_type
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config
    with pytest.raises(ConfigError, match=r"^features.frame must be >= 1, got 0$"):
        load_config(None, ["features.name=frame_energy", "features.frame=0"])
    with pytest.raises(ConfigError, match="'features.n_mels'.*frame, width"):
        load_config(None, ["features.name=frame_energy", "features.n_mels=64"])
    with pytest.raises(ConfigError) as info:
        load_config(None, ["features.name=melspec"])
    assert "frame_energy" in str(info.value) and "rectified" in str(info.value)


def test_a_registered_kind_builds_and_extracts(toy_kinds):
    config_type, transform_cls, _ = toy_kinds
    transform = build_transform(config_type(frame=100), 16000)
    assert type(transform) is transform_cls and transform.sample_rate == 16000
    rng = np.random.default_rng(0)
    clips = [rng.uniform(-1, 1, n).astype(np.float32) for n in (950, 3000, 100, 1234)]
    together = extract_batch(transform, clips)
    for clip, out in zip(clips, together):
        assert out.shape == (1, len(clip) // 100)
        np.testing.assert_allclose(out, extract_batch(transform, [clip])[0], rtol=0, atol=1e-5)


def test_the_other_stages_read_the_transforms_properties(toy_kinds):
    # window_frames (training) and input_frames (autoencoder) know nothing of the kind
    fixed = load_config(None, ["features.name=frame_energy", "features.width=50"])
    assert window_frames(fixed) == input_frames(fixed) == 50
    free = load_config(None, ["features.name=frame_energy", "train.crop_seconds=1.5"])
    assert window_frames(free) == 1.5 * 32000 // 400
    assert input_frames(free) == free.autoencoder.input_frames


def test_validation_across_sections_reads_the_transforms_properties(toy_kinds):
    # in dB: a gain is added; spectral: a 2-D model takes it, even with a single row
    load_config(None, ["features.name=frame_energy", "train.augment.gain_db=6", "model.name=vgg_small"])
    with pytest.raises(ConfigError, match=r"1-D and needs the waveform \(features.name: raw or rectified\), "
                                          "not frame_energy"):
        load_config(None, ["features.name=frame_energy", "model.name=cnn1d_raw"])
    # a second waveform kind: the 1-D model takes it, a 2-D model does not
    load_config(None, ["features.name=rectified", "model.name=cnn1d_raw", "train.augment.gain_db=6"])
    with pytest.raises(ConfigError, match=r"2-D and needs spectral features.*features.name: rectified"):
        load_config(None, ["features.name=rectified"])
    with pytest.raises(ConfigError, match="features.name frame_energy or logmel or raw or rectified, not mfcc"):
        load_config(None, ["features.name=mfcc", "train.augment.gain_db=6"])


def test_the_registry_is_restored_after_a_toy_kind():
    assert "frame_energy" not in feature_types()
    assert set(feature_types()) == {"logmel", "mfcc", "raw", "spectrogram"}


def test_a_name_is_registered_once():
    @dataclass
    class Again(LogMelConfig):
        name: ClassVar[str] = "logmel"

    with pytest.raises(ValueError, match="'logmel' is registered already"):
        register_feature(Again)(FeatureTransform)
    with pytest.raises(ValueError, match="needs a name"):
        register_feature(FeatureConfig)(FeatureTransform)
    assert TRANSFORMS["logmel"].config_type is LogMelConfig


def test_a_config_class_that_was_not_registered_has_no_transform():
    @dataclass
    class Unregistered(LogMelConfig):  # a subclass with its parent's name is not the parent's kind
        pass

    with pytest.raises(TypeError, match="Unregistered"):
        transform_type(Unregistered())
    with pytest.raises(TypeError):
        build_transform(FeatureConfig(), 16000)
