"""Stream cached features in batches: fixed-width crops for training, whole clips for evaluation.

Only the items of the current batch are in memory, whatever the corpus size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from soundtag.data.activity import activity_crop_offset
from soundtag.data.cache import FeatureCache
from soundtag.errors import AudioError

PAD_MODES = ("repeat", "zeros", "min")

#: Appended to (seed, epoch, index) to seed the choice of variant, a stream apart from the crops'.
VARIANT_DRAW = 1


@dataclass(frozen=True)
class Example:
    """One clip to feed a model: its audio path, class index (-1 when unknown, or when the clip has
    several labels or none), name, the weight of its loss (e.g. lower for unverified labels), and the
    class indices of all its labels (``targets``; empty for a clip with none of the classes).

    >>> Example("a.wav", -1, "a.wav", targets=(0, 2)).targets
    (0, 2)
    """

    path: str
    target: int = -1
    fname: str = ""
    weight: float = 1.0
    targets: tuple[int, ...] = ()


def fit_width(features: np.ndarray, width: int, offset: int, pad_mode: str = "repeat") -> np.ndarray:
    """Crop (from ``offset``) or pad a (bins, frames) array to exactly ``width`` frames."""
    frames = features.shape[-1]
    if frames >= width:
        return features[..., offset : offset + width]
    if pad_mode == "repeat":
        reps = -(-width // frames)
        return np.tile(features, (1,) * (features.ndim - 1) + (reps,))[..., :width]
    value = 0.0 if pad_mode == "zeros" else float(features.min())
    pad = [(0, 0)] * (features.ndim - 1) + [(0, width - frames)]
    return np.pad(features, pad, constant_values=value)


class FeatureDataset(Dataset):
    """Cached features of ``examples``; with ``width`` each item is cropped or padded to it.

    An item is ``(features, target)``: the example's class index, or with ``multi_label`` a float32
    multi-hot vector of length ``n_classes`` with ones at the example's ``targets``.

    Random crops are drawn from a generator seeded by (seed, epoch, index), so a run is repeatable
    and a resumed run sees the same crops as an uninterrupted one. They are uniform, or with
    ``activity_floor_db`` drawn where the clip has energy (:func:`~soundtag.data.activity.activity_crop_offset`)
    except for a ``random_share`` of uniform ones (a share of 1 gives the uniform crops themselves).

    With ``variants`` (caches of augmented copies of the clips, :mod:`soundtag.data.variants`), each
    epoch reads an item from its clean features with probability ``clean_share``, else from one of its
    variants, drawn from (seed, epoch, index) too; a variant that is missing falls back to the clean ones.
    """

    def __init__(
        self,
        cache: FeatureCache,
        examples: Sequence[Example],
        width: int | None = None,
        random_crop: bool = False,
        pad_mode: str = "repeat",
        seed: int = 0,
        multi_label: bool = False,
        n_classes: int | None = None,
        activity_floor_db: float | None = None,
        random_share: float = 1.0,
        variants: Sequence[FeatureCache] = (),
        clean_share: float = 1.0,
    ) -> None:
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}")
        if multi_label:
            if n_classes is None or n_classes < 1:
                raise ValueError("a multi-label FeatureDataset needs n_classes (the length of its multi-hot targets)")
            outside = [e.fname or e.path for e in examples if any(not 0 <= t < n_classes for t in e.targets)]
            if outside:
                raise ValueError(f"targets of {outside[0]!r} lie outside 0..{n_classes - 1}")
        self.cache = cache
        self.examples = list(examples)
        self.width = width
        self.random_crop = random_crop
        self.pad_mode = pad_mode
        self.seed = seed
        self.multi_label = multi_label
        self.n_classes = n_classes
        self.activity_floor_db = activity_floor_db
        self.random_share = random_share
        self.variants = list(variants)
        self.clean_share = clean_share
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the crops of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.examples)

    def load(self, index: int) -> np.ndarray:
        """The whole cached feature array of item ``index`` (this epoch's variant of it, if it draws one)."""
        example = self.examples[index]
        variant = self.variant(index)
        features = variant.load(example.path) if variant is not None else None
        if features is None:
            features = self.cache.load(example.path)
        if features is None:
            raise AudioError(example.path, "has no cached features (run `soundtag features` first)")
        return features

    def variant(self, index: int) -> FeatureCache | None:
        """The cache of the variant item ``index`` is read from this epoch, or None for its clean features."""
        if not self.variants:
            return None
        rng = np.random.default_rng([self.seed, self.epoch, index, VARIANT_DRAW])
        return None if rng.random() < self.clean_share else self.variants[int(rng.integers(len(self.variants)))]

    def target(self, index: int) -> int | torch.Tensor:
        """The target of item ``index``: its class index, or its multi-hot vector (``multi_label``)."""
        example = self.examples[index]
        if not self.multi_label:
            return example.target
        hot = torch.zeros(int(self.n_classes or 0), dtype=torch.float32)
        hot[list(example.targets)] = 1.0
        return hot

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        features = self.load(index)
        if self.width is not None:
            excess = max(0, features.shape[-1] - self.width)
            offset = excess // 2
            if self.random_crop and excess:
                offset = self.random_offset(features, np.random.default_rng([self.seed, self.epoch, index]))
            features = fit_width(features, self.width, offset, self.pad_mode)
        return torch.from_numpy(np.ascontiguousarray(features)), self.target(index)

    def random_offset(self, features: np.ndarray, rng: np.random.Generator) -> int:
        """A random crop start in ``features`` (longer than the width): uniform, or drawn by activity."""
        width = int(self.width or 0)
        if self.activity_floor_db is None or self.random_share >= 1 or rng.random() < self.random_share:
            return int(rng.integers(0, features.shape[-1] - width + 1))
        return activity_crop_offset(features, width, self.activity_floor_db, rng)


def collate_whole(batch: list[tuple[torch.Tensor, int | torch.Tensor]]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Keep whole clips of different lengths as a list beside a tensor of targets (class indices, or
    multi-hot rows stacked into a matrix)."""
    targets = [target for _, target in batch]
    stacked = torch.stack(targets) if targets and isinstance(targets[0], torch.Tensor) else torch.tensor(targets)
    return [item for item, _ in batch], stacked


def make_loader(
    dataset: FeatureDataset,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader over ``dataset``; fixed-width datasets batch as tensors, whole clips as lists."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        collate_fn=None if dataset.width is not None else collate_whole,
        persistent_workers=num_workers > 0,
    )


def examples_from(paths: Sequence[str | Path], targets: Sequence[int] | None = None) -> list[Example]:
    """Examples from paths (and targets), named by file name."""
    targets = list(targets) if targets is not None else [-1] * len(paths)
    return [Example(str(p), t, Path(p).name) for p, t in zip(paths, targets, strict=True)]
