"""Fine-tuning: a run that starts from another run's weights (``train.init_from``), optionally with its
first conv blocks frozen (``train.freeze_blocks``).

The source run's ``best.pt`` gives the whole backbone (everything but the per-class output layer). The
output layer is built for the new run's classes: the weight row and bias entry of a class the source
run also had (same name) are copied, the others keep their fresh initialisation. This is row surgery
on the :attr:`~soundtag.models.BlockTagger.output_layer`, the same for single- and multi-label runs.
The feature settings (the ``features`` section and ``audio.sample_rate``) and the architecture
(``model.name``, ``channels``, ``fc_dim``, ``pooling``) must be the source run's.

A resumed run never re-applies the initial weights: its ``last.pt`` holds what it learnt since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from soundtag.config import RunConfig
from soundtag.data import LabelMap
from soundtag.errors import ConfigError, SoundtagError
from soundtag.models import BlockTagger
from soundtag.runs import RunFolder, differing_keys, file_digest, flatten
from soundtag.training.checkpoint import checkpoint_weights, load_checkpoint, weights_mismatch

ARCHITECTURE_KEYS = ("model.name", "model.channels", "model.fc_dim", "model.pooling")
"""The model settings a fine-tuned run shares with its source (dropout, the head's classes may differ)."""


def must_match_source(key: str) -> bool:
    """Whether config key ``key`` (dotted) must be the same in a fine-tuned run and its source."""
    return key.startswith("features.") or key == "audio.sample_rate" or key in ARCHITECTURE_KEYS


@dataclass(frozen=True)
class InitialWeights:
    """Where a fine-tuned run's first weights came from, and which classes kept their output rows."""

    source: RunFolder
    best_sha256: str
    """SHA-256 of the source's ``best.pt`` as it was read."""
    kept: tuple[str, ...]
    """Classes whose output rows came from the source run (in the new run's order)."""
    new: tuple[str, ...]
    """Classes the source run did not have: their rows start fresh."""

    def describe(self) -> str:
        """One log line."""
        return (f"initialised from {self.source.best_path} (sha256 {self.best_sha256[:12]}): output rows of "
                f"{len(self.kept)} shared class(es) kept, {len(self.new)} new class(es) start fresh")


def source_run(config: RunConfig) -> RunFolder:
    """The run folder named by ``train.init_from``, checked: a run with a ``best.pt`` whose feature settings
    and architecture are ``config``'s (else one line naming the first key that differs)."""
    folder = RunFolder(config.train.init_from)
    where = f"train.init_from {folder.path}"
    if not folder.path.is_dir() or not folder.config_path.is_file():
        raise SoundtagError(f"{where}: not a run folder (no {folder.config_path.name}); give a trained run's folder")
    if not folder.best_path.is_file():
        raise SoundtagError(f"{where}: has no {folder.best_path.name}; train it first (or give another run)")
    source = folder.read_config()
    differ = [key for key in differing_keys(source, config) if must_match_source(key)]
    if differ:
        key = differ[0]
        theirs, ours = flatten(source.to_dict()).get(key), flatten(config.to_dict()).get(key)
        raise SoundtagError(f"{where}: its {key} is {theirs!r}, this run's is {ours!r}; a fine-tuned run keeps "
                            "the source run's features and model architecture")
    return folder


def check_freeze(config: RunConfig, model: BlockTagger) -> None:
    """Refuse ``train.freeze_blocks`` above the model's number of conv blocks."""
    count = config.train.freeze_blocks
    if count > model.num_blocks:
        raise ConfigError(f"train.freeze_blocks must be <= {model.num_blocks} (the conv blocks of model "
                          f"{config.model.name} with model.channels={config.model.channels or 'default'}), got {count}")


def check_fine_tuning(config: RunConfig, model: BlockTagger) -> None:
    """Before any work: ``train.freeze_blocks`` fits ``model`` and ``train.init_from`` (when set) is a run
    this one can start from."""
    check_freeze(config, model)
    if config.train.init_from:
        source_run(config)


def load_initial_weights(model: BlockTagger, config: RunConfig, label_map: LabelMap) -> InitialWeights | None:
    """Load ``train.init_from``'s ``best.pt`` into the freshly built ``model`` for the classes of
    ``label_map`` (see the module's docstring); None when the config starts from scratch."""
    if not config.train.init_from:
        return None
    folder = source_run(config)
    source_labels = folder.read_label_map().labels
    digest = file_digest(folder.best_path)
    weights = checkpoint_weights(folder.best_path, load_checkpoint(folder.best_path))
    kept = transfer_weights(model, weights, source_labels, label_map.labels, str(folder.best_path))
    new = tuple(label for label in label_map.labels if label not in set(kept))
    return InitialWeights(folder, digest, tuple(kept), new)


def transfer_weights(model: BlockTagger, weights: dict[str, torch.Tensor], source_labels: Sequence[str],
                     labels: Sequence[str], where: str = "source weights") -> list[str]:
    """Load ``weights`` (a state dict of a model of the same architecture for ``source_labels``) into
    ``model`` (built for ``labels``): every weight but the output layer's, and the output rows of the
    classes both have, matched by name. Returns those classes, in ``labels``' order.

    >>> from soundtag.models.cnn import VGG2d
    >>> source = VGG2d(8, 3, channels=(4,), fc_dim=4)
    >>> target = VGG2d(8, 2, channels=(4,), fc_dim=4)
    >>> transfer_weights(target, source.state_dict(), ["a", "b", "c"], ["c", "z"])
    ['c']
    """
    own = model.state_dict()
    head = model.output_state_keys
    missing = [key for key in head if key not in weights]
    if missing:
        raise SoundtagError(f"{where}: holds the weights of another model (no {missing[0]!r})")
    for key in head:
        shape, expected = tuple(weights[key].shape), (len(source_labels), *own[key].shape[1:])
        if shape != expected:
            raise SoundtagError(f"{where}: {key!r} is {list(shape)}, but {len(source_labels)} classes with this "
                                f"architecture need {list(expected)}")
    merged: dict[str, Any] = {**weights, **{key: own[key].clone() for key in head}}
    problem = weights_mismatch(model, merged)
    if problem:
        raise SoundtagError(f"{where}: holds the weights of another model ({problem})")
    row_of = {label: row for row, label in enumerate(source_labels)}
    kept = [label for label in labels if label in row_of]
    for row, label in enumerate(labels):
        if label in row_of:
            for key in head:
                merged[key][row] = weights[key][row_of[label]]
    model.load_state_dict(merged)
    return kept


def freeze_blocks(model: BlockTagger, config: RunConfig) -> None:
    """Freeze the first ``train.freeze_blocks`` conv blocks of ``model`` (weights and BatchNorm statistics,
    see :meth:`~soundtag.models.BlockTagger.freeze_blocks`); applied on every start, resumed or not."""
    check_freeze(config, model)
    model.freeze_blocks(config.train.freeze_blocks)
