"""Typed run configuration: one source of truth per setting, loaded from YAML, saved beside outputs.

Every stage's settings are a dataclass; they nest into :class:`RunConfig`. Each field declares what it
accepts once: a ``Literal`` type lists its choices, :func:`setting` its range. A section checks its own
fields when it is built; :func:`validate` checks what spans sections, and the loader calls it, so a
config that loads is a config that runs. Unknown keys are errors that name the key, YAML is read with
a safe loader, and ``--set a.b=value`` overrides a field.

The ``features:`` section is any kind registered in :mod:`soundtag.features` (its config class and its
transform together), found by ``name``.

>>> cfg = config_from_dict({"features": {"name": "mfcc", "n_mfcc": 13}})
>>> cfg.features.n_mfcc, cfg.audio.sample_rate
(13, 32000)
>>> choices(TrainConfig, "loss")
('ce', 'gce')
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import yaml

from soundtag.errors import ConfigError

# --- what a field accepts -------------------------------------------------------------------------


class Allowed(Protocol):
    """What :func:`setting` takes: ``value in allowed``, and ``str(allowed)`` completes "must be ..."."""

    def __contains__(self, value: object) -> bool: ...


@dataclass(frozen=True)
class Range:
    """Finite numbers between optional bounds, each open or closed, optionally of one parity.

    >>> str(Range(0, 1, high_open=True)), 0.5 in Range(0, 1, high_open=True), float("nan") in Range(0)
    ('in [0, 1)', True, False)
    >>> str(Range(16, parity="even")), 1023 in Range(16, parity="even")
    ('even and >= 16', False)
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    parity: Literal["even", "odd"] | None = None

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return self.parity is None or (isinstance(value, int) and value % 2 == (self.parity == "odd"))

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            text = f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        elif self.low is not None:
            text = f"{'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text = f"{'<' if self.high_open else '<='} {self.high:g}"
        else:
            text = "a finite number"
        return f"{self.parity} and {text}" if self.parity else text


@dataclass(frozen=True)
class Matching:
    """Strings matching ``pattern`` whole, described to the user as ``text``."""

    pattern: str
    text: str

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None

    def __str__(self) -> str:
        return self.text


POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_ONE = Range(1)
FRACTION = Range(0, 1, high_open=True)  # [0, 1)
OPEN_UNIT = Range(0, 1, low_open=True, high_open=True)  # (0, 1)
UNIT = Range(0, 1)  # [0, 1]
DEVICE = Matching(r"auto|cpu|mps|cuda(:[0-9]+)?", "auto, cpu, cuda, cuda:N or mps")


def setting(default: Any = dataclasses.MISSING, allowed: Allowed | None = None, *,
            factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value, or each item of a list value, must be ``in allowed`` (None passes
    where the type allows it); floats must be finite whether or not a range is given.
    """
    return field(default=default, default_factory=factory, metadata={"allowed": allowed})


def choices(cls: type, name: str) -> tuple[Any, ...]:
    """The values field ``name`` of config class ``cls`` may take, from its ``Literal`` type.

    >>> choices(EnsembleConfig, "method")
    ('arithmetic', 'geometric', 'weighted')
    """
    values = _literal_values(typing.get_type_hints(cls)[name])
    if not values:
        raise TypeError(f"{cls.__name__}.{name} is not a Literal field")
    return values


def _literal_values(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(v for option in typing.get_args(hint) for v in _literal_values(option))
    return ()


@functools.cache
def _declarations(cls: type) -> list[tuple[str, tuple[Any, ...], Allowed | None]]:
    """(field, Literal choices, declared range) of each field of ``cls``."""
    hints = typing.get_type_hints(cls)
    return [(f.name, _literal_values(hints[f.name]), f.metadata.get("allowed"))
            for f in dataclasses.fields(cls) if f.init]


def check_settings(section: Section) -> None:
    """Check every field of ``section`` against its declared choices and range; one line naming the
    key, the value and what is allowed on the first that fails.
    """
    for name, options, allowed in _declarations(type(section)):
        value = getattr(section, name)
        key = _join(section.section, name)
        if value is None:
            continue
        if options and not any(value == option and type(value) is type(option) for option in options):
            raise ConfigError(f"{key} must be one of {', '.join(map(str, options))}, got {value!r}")
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            where = key if index is None else f"{key}[{index}]"
            if allowed is not None and item not in allowed:
                raise ConfigError(f"{where} must be {allowed}, got {item!r}")
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"{where} must be a finite number, got {item!r}")


@dataclass
class Section:
    """Base of the config sections: building one checks its fields (:func:`check_settings`); a
    subclass with checks across its own fields runs them after ``super().__post_init__()``.
    """

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_settings(self)


# --- the sections ---------------------------------------------------------------------------------

ResampleQuality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
Clips = Literal["all", "verified"]
CleanMethod = Literal["spreading", "confident"]
ConfidentFilter = Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given",
                          "low_normalized_margin", "low_self_confidence"]
EnsembleMethod = Literal["arithmetic", "geometric", "weighted"]


@dataclass
class AudioConfig(Section):
    """How audio is decoded: every clip is mixed to mono and resampled to ``sample_rate`` (unless its
    features are computed at the file's own rate: ``features.resample: false``); feature extraction
    (features, train, evaluate) uses the first ``max_seconds`` of a longer file, with a warning naming
    it (null: no limit); tagging streams files of any length and ignores it."""

    section: ClassVar[str] = "audio"
    sample_rate: int = setting(32000, AT_LEAST_ONE)
    resample_quality: ResampleQuality = "HQ"
    max_seconds: float | None = setting(600.0, POSITIVE)


@dataclass
class FeatureConfig(Section):
    """Base of the feature settings. A kind subclasses it with its ``name`` and registers it with
    its transform in :mod:`soundtag.features` (:func:`soundtag.features.register_feature`).
    """

    section: ClassVar[str] = "features"
    name: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form with ``name`` first, as written to YAML."""
        return {"name": self.name, **dataclasses.asdict(self)}

    def check_loaded(self) -> None:
        """What :func:`validate` refuses in a loaded config beyond what the constructor refuses (settings
        that compute but are surely a mistake); nothing by default.
        """


def feature_types() -> dict[str, type[FeatureConfig]]:
    """The registered feature config classes by name (importing :mod:`soundtag.features`, which needs
    torch, on first use rather than with this module).
    """
    from soundtag.features.registry import TRANSFORMS

    return {name: transform.config_type for name, transform in TRANSFORMS.items()}


def __getattr__(name: str) -> Any:
    """``from soundtag.config import LogMelConfig``: the built-in feature configs live with their
    transforms in :mod:`soundtag.features.transforms`.
    """
    if name.endswith("Config"):
        from soundtag.features import transforms

        found = getattr(transforms, name, None)
        if isinstance(found, type) and issubclass(found, FeatureConfig):
            return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class DataConfig(Section):
    """Where the corpus and the feature cache are, and how features are extracted."""

    section: ClassVar[str] = "data"
    corpus: str = "data/demo"
    cache_dir: str | None = None
    num_workers: int = setting(2, NON_NEGATIVE)
    batch_size: int = setting(32, AT_LEAST_ONE)
    reviewed: str | None = None
    """A ``reviewed.csv`` of ``soundtag review`` whose decisions training applies to the train clips
    (:mod:`soundtag.data.reviewed`)."""


@dataclass
class ModelConfig(Section):
    """Which classifier to build; empty ``channels`` / null ``fc_dim`` take the model's defaults.
    ``name`` is a key of :data:`soundtag.models.MODELS` (checked by :func:`validate`)."""

    section: ClassVar[str] = "model"
    name: str = "vgg_small"
    channels: list[int] = setting(allowed=AT_LEAST_ONE, factory=list)
    fc_dim: int | None = setting(None, AT_LEAST_ONE)
    dropout: float = setting(0.3, FRACTION)
    pooling: Literal["meanmax", "attention"] = "meanmax"
    width: float = setting(1.0, POSITIVE)
    """Width multiplier of the ``mobilenet`` model's channels (1.0: 16 to 160 channels); others ignore it."""


@dataclass
class ChainAugmentConfig(Section):
    """Augmentation of the recording chain (:mod:`soundtag.data.variants`): ``variants`` copies of each
    training clip's waveform, each through its own random chain (seeded by ``seed``), are featurised once
    and cached beside the clean features; each epoch trains a clip on its clean features (probability
    ``clean_share``) or on one of its variants. An ingredient's value is the probability that a variant
    gets it, all 0 by default (no variants made); a ``[low, high]`` pair is the range a setting is drawn from.
    """

    section: ClassVar[str] = "train.augment.chain"
    variants: int = setting(4, AT_LEAST_ONE)
    clean_share: float = setting(0.5, FRACTION)
    seed: int = 0
    reverb: float = setting(0.0, UNIT)
    """Room reverberation: one of ``rirs`` simulated shoebox rooms with reverberation time in ``rt60`` (s)."""
    rt60: list[float] = setting(allowed=Range(0.05, 3.0), factory=lambda: [0.2, 0.8])
    rirs: int = setting(24, AT_LEAST_ONE)
    eq: float = setting(0.0, UNIT)
    """Microphone colouring: a smooth random EQ curve within ±``eq_db``."""
    eq_db: float = setting(6.0, Range(0, 24, low_open=True))
    band_limit: float = setting(0.0, UNIT)
    """Band limits: a high pass with cutoff in ``highpass_hz`` and a low pass with cutoff in ``lowpass_hz``."""
    highpass_hz: list[float] = setting(allowed=POSITIVE, factory=lambda: [50.0, 400.0])
    lowpass_hz: list[float] = setting(allowed=POSITIVE, factory=lambda: [3000.0, 12000.0])
    saturation: float = setting(0.0, UNIT)
    """Soft clipping: peaks driven up to ``drive_db`` into a tanh."""
    drive_db: float = setting(12.0, POSITIVE)
    codec: float = setting(0.0, UNIT)
    """A lossy round trip, MP3 or Ogg Vorbis, at a compression level in ``codec_compression`` (0: the best
    quality, 1: the lowest bit rate)."""
    codec_compression: list[float] = setting(allowed=UNIT, factory=lambda: [0.5, 0.99])
    noise: float = setting(0.0, UNIT)
    """Background mixed in at an SNR (dB) in ``snr_db``: the audio of ``noise_folder``, or (null) the corpus's
    own quiet parts."""
    snr_db: list[float] = setting(allowed=Range(-20, 100), factory=lambda: [5.0, 30.0])
    noise_folder: str | None = None
    pitch: float = setting(0.0, UNIT)
    """Pitch shift by up to ±``pitch_semitones``, for clips of ``pitched_classes`` (empty: every class)."""
    pitch_semitones: float = setting(2.0, Range(0, 12, low_open=True))
    stretch: float = setting(0.0, UNIT)
    """Time stretch by a rate in 1 ± ``stretch_max``, for clips of ``pitched_classes`` (empty: every class)."""
    stretch_max: float = setting(0.15, Range(0, 0.5, low_open=True))
    pitched_classes: list[str] = field(default_factory=list)

    INGREDIENTS: ClassVar[tuple[str, ...]] = ("pitch", "stretch", "reverb", "noise", "eq", "band_limit",
                                              "saturation", "codec")
    INTERVALS: ClassVar[tuple[str, ...]] = ("rt60", "highpass_hz", "lowpass_hz", "codec_compression", "snr_db")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self.INTERVALS:
            pair = getattr(self, name)
            if len(pair) != 2 or pair[0] > pair[1]:
                raise ConfigError(f"{self.section}.{name} must be [low, high] with low <= high, got {pair!r}")

    @property
    def enabled(self) -> bool:
        """Whether any ingredient is on (else no variants are made)."""
        return any(getattr(self, name) > 0 for name in self.INGREDIENTS)


@dataclass
class AugmentConfig(Section):
    """Training-time augmentation, all off by default (the 2018 recipe used none)."""

    section: ClassVar[str] = "train.augment"
    mixup_alpha: float = setting(0.0, NON_NEGATIVE)
    time_masks: int = setting(0, NON_NEGATIVE)
    time_mask_width: int = setting(20, NON_NEGATIVE)
    freq_masks: int = setting(0, NON_NEGATIVE)
    freq_mask_width: int = setting(8, NON_NEGATIVE)
    gain_db: float = setting(0.0, NON_NEGATIVE)
    time_shift: bool = False
    chain: ChainAugmentConfig = field(default_factory=ChainAugmentConfig)


@dataclass
class TrainConfig(Section):
    """How a classifier is trained and validated."""

    section: ClassVar[str] = "train"
    epochs: int = setting(30, AT_LEAST_ONE)
    batch_size: int = setting(16, AT_LEAST_ONE)
    lr: float = setting(1e-3, POSITIVE)
    weight_decay: float = setting(0.0, NON_NEGATIVE)
    patience: int = setting(8, AT_LEAST_ONE)
    crop_seconds: float = setting(2.0, POSITIVE)
    crop_activity_floor_db: float | None = setting(None, POSITIVE)
    """Silence-aware crops: a crop start is drawn in proportion to the crop's activity, the summed dB by
    which its frames lie above a floor this many dB below the clip's loudest frame
    (:func:`soundtag.data.activity.activity_crop_offset`); needs features in dB. null: uniform crops."""
    random_crop_share: float = setting(0.25, UNIT)
    """With ``crop_activity_floor_db``, the share of crops still drawn uniformly at random (1: as without it)."""
    pad_mode: Literal["repeat", "zeros", "min"] = "repeat"
    labels: Clips = "all"
    extra_labels: str | None = None
    val_fraction: float = setting(0.2, OPEN_UNIT)
    val_from: Clips = "verified"
    device: str = setting("auto", DEVICE)
    num_workers: int = setting(0, NON_NEGATIVE)
    multi_label: Literal["auto", "yes", "no"] = "auto"
    """Sigmoid outputs and binary cross-entropy (any number of labels per clip, none included): ``auto``
    when the corpus has clips with other than one label, ``yes`` always, ``no`` never."""
    loss: Literal["ce", "gce"] = "ce"
    gce_q: float = setting(0.7, Range(0, 1, low_open=True))
    label_smoothing: float = setting(0.0, FRACTION)
    unverified_weight: float = setting(1.0, NON_NEGATIVE)
    init_from: str | None = None
    """A run folder whose ``best.pt`` this run starts from (fine-tuning; :mod:`soundtag.training.finetune`)."""
    freeze_blocks: int = setting(0, NON_NEGATIVE)
    """How many of the first conv blocks do not learn (weights and BatchNorm statistics); needs ``init_from``."""
    schedule: Literal["constant", "cosine"] = "constant"
    """The learning rate over the epochs: ``constant`` at ``lr``, or ``cosine`` decay from ``lr`` at epoch 1
    towards 0 after ``epochs`` (set per epoch from its number alone, so a resumed run follows it exactly)."""
    swa_start: float | None = setting(None, OPEN_UNIT)
    """Stochastic weight averaging from this fraction of ``epochs`` on (null: off): the weights after each
    epoch from there are averaged, the average's BatchNorm statistics recomputed on training crops, and
    its validation score, not the last weights', decides ``best.pt`` (:class:`soundtag.training.trainer.Trainer`)."""
    teacher: str | None = None
    """Distillation: a CSV of soft targets (``fname`` and one probability column per class, as
    :func:`soundtag.training.distill.write_teacher` writes it) whose probabilities of the training clips the
    model also learns from; null: off. Single-label runs only."""
    distill_alpha: float = setting(0.5, UNIT)
    """With ``teacher``: the loss is (1 - alpha) x the label loss + alpha x T² x KL(teacher || model), both
    at temperature T = ``distill_temperature``."""
    distill_temperature: float = setting(2.0, POSITIVE)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class EventsConfig(Section):
    """How ``soundtag tag --events`` reads sound events off the model's frame-wise probabilities
    (:mod:`soundtag.inference.events`): a class's event starts where its probability reaches
    ``threshold`` (null: the class's threshold of a multi-label run, its ``thresholds.json``, else
    0.5) and lasts while it stays at or above ``threshold * hysteresis``; events of a class at most
    ``merge_gap`` seconds apart are joined, and those shorter than ``min_duration`` seconds dropped."""

    section: ClassVar[str] = "tag.events"
    threshold: float | None = setting(None, UNIT)
    thresholds: dict[str, float] = field(default_factory=dict)
    """Per-class thresholds (label: threshold) that replace ``threshold`` for the classes they name."""
    hysteresis: float = setting(0.5, Range(0, 1, low_open=True))
    min_duration: float = setting(0.0, NON_NEGATIVE)
    merge_gap: float = setting(0.0, NON_NEGATIVE)

    def __post_init__(self) -> None:
        super().__post_init__()
        for label, value in self.thresholds.items():
            if not isinstance(label, str) or value not in UNIT:
                raise ConfigError(f"tag.events.thresholds: {label!r}: {value!r} must be a threshold {UNIT}")
        self.thresholds = {label: float(value) for label, value in self.thresholds.items()}


@dataclass
class TagConfig(Section):
    """How files are tagged: segment length and hop in seconds (null: the training window), top-k;
    ``framewise`` reads segment tags off the model's frame-wise outputs over ``block_seconds`` blocks;
    ``events`` how ``--events`` reads sound events off them."""

    section: ClassVar[str] = "tag"
    segment: float | None = setting(None, POSITIVE)
    hop: float | None = setting(None, POSITIVE)
    top_k: int = setting(3, AT_LEAST_ONE)
    batch_size: int = setting(32, AT_LEAST_ONE)
    framewise: bool = False
    block_seconds: float = setting(30.0, POSITIVE)
    window_floor_db: float | None = setting(None, POSITIVE)
    """Silence-aware scores: a clip's (file's) probabilities are the mean over its windows whose energy
    lies within this many dB of its loudest window's, quieter ones left out (a clip silent throughout:
    all of them); evaluation and ``soundtag tag``'s file-level tags, not validation. Needs features in
    dB. null: every window (default)."""
    events: EventsConfig = field(default_factory=EventsConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.segment is not None and self.hop is not None and self.hop > self.segment:
            raise ConfigError(f"tag.hop must be <= tag.segment ({self.segment:g}), got {self.hop:g}: "
                              "audio between segments would go untagged")


@dataclass
class AutoencoderConfig(Section):
    """The convolutional autoencoder whose latents feed label spreading (2018 recipe: 4096-d, Adam 1e-5)."""

    section: ClassVar[str] = "autoencoder"
    latent_dim: int = setting(4096, AT_LEAST_ONE)
    input_frames: int = setting(128, AT_LEAST_ONE)
    channels: list[int] = setting(allowed=AT_LEAST_ONE, factory=lambda: [16, 32, 64, 64])
    lr: float = setting(1e-5, POSITIVE)
    batch_size: int = setting(16, AT_LEAST_ONE)
    epochs: int = setting(100, AT_LEAST_ONE)
    patience: int = setting(5, AT_LEAST_ONE)
    val_fraction: float = setting(0.1, FRACTION)


@dataclass
class CleanConfig(Section):
    """scikit-learn LabelSpreading inside class groups (2018 recipe: rbf, gamma 20, alpha 0.2), or confident
    learning (``method: confident``)."""

    section: ClassVar[str] = "clean"
    method: CleanMethod = "spreading"
    embedding: Literal["latent", "mfcc_stats"] = "latent"
    kernel: Literal["rbf", "knn"] = "rbf"
    gamma: float = setting(20.0, POSITIVE)
    n_neighbors: int = setting(7, AT_LEAST_ONE)
    alpha: float = setting(0.2, OPEN_UNIT)
    max_iter: int = setting(100000, AT_LEAST_ONE)
    tol: float = setting(0.001, POSITIVE)
    pca_components: int | None = setting(20, AT_LEAST_ONE)
    groups: str = "all"
    groups_file: str | None = None
    filter_by: ConfidentFilter = "low_normalized_margin"
    """Which clips confident learning flags (``cleanlab.filter.find_label_issues``'s ``filter_by``); the default
    scored best on fsd-mini (precision and recall of wrong labels both above cleanlab's own default)."""


@dataclass
class SelfTrainConfig(Section):
    """Self-training rounds: clips whose top probability is in [lower, upper] join the training set;
    ``lower`` moves linearly from ``lower_start`` to ``lower_end`` over the rounds.
    """

    section: ClassVar[str] = "selftrain"
    rounds: int = setting(3, AT_LEAST_ONE)
    epochs_per_round: int = setting(10, AT_LEAST_ONE)
    lower_start: float = setting(0.9, UNIT)
    lower_end: float = setting(0.7, UNIT)
    upper: float = setting(1.0, UNIT)
    label: Literal["predicted", "given"] = "predicted"
    unlabelled_dir: str | None = None
    init_weights: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if max(self.lower_start, self.lower_end) > self.upper:
            raise ConfigError(f"selftrain.lower_start and selftrain.lower_end must be <= selftrain.upper "
                              f"({self.upper:g}), got {self.lower_start:g} and {self.lower_end:g}")


@dataclass
class EnsembleConfig(Section):
    """How class probabilities of several runs are combined: runs whose validation MAP@3 is at least
    ``min_score``, with one weight per run for ``method: weighted``; ``soundtag experiment`` leaves
    out collapsed runs (best epoch the first of several, or one class for most clips) unless
    ``keep_collapsed``."""

    section: ClassVar[str] = "ensemble"
    method: EnsembleMethod = "geometric"
    min_score: float = setting(0.0, UNIT)
    weights: list[float] = setting(allowed=NON_NEGATIVE, factory=list)
    keep_collapsed: bool = False


@dataclass
class RecipeConfig(Section):
    """A second recipe that ``soundtag experiment`` trains beside the DCASE 2018 recipe's stages and reports side
    by side: ``members`` models (seeds seed, seed+1, ...) on the labels the ``cleaner`` trusts, with
    this config's settings changed by ``overrides`` (``--set`` syntax), combined by ``ensemble.method``.
    """

    section: ClassVar[str] = "recipe"
    members: int = setting(0, NON_NEGATIVE)
    cleaner: Literal["none", CleanMethod] = "confident"
    overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        for text in self.overrides:
            keys, _ = parse_override(text)
            if keys[0] == "recipe":
                raise ConfigError(f"recipe.overrides: {text!r} may not change the recipe section itself")


def _default_features() -> FeatureConfig:
    return feature_types()["logmel"]()


@dataclass
class RunConfig:
    """Everything one soundtag run depends on."""

    seed: int = 2018
    audio: AudioConfig = field(default_factory=AudioConfig)
    features: FeatureConfig = field(default_factory=_default_features)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tag: TagConfig = field(default_factory=TagConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    selftrain: SelfTrainConfig = field(default_factory=SelfTrainConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    recipe: RecipeConfig = field(default_factory=RecipeConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, the form written to ``config.yaml``."""
        return to_plain(self)


MULTI_LABEL_GCE = ("train.loss=gce is a softmax loss (one label per clip); a multi-label run learns with "
                   "binary cross-entropy: set train.loss=ce (or train.multi_label=no for a single-label corpus)")


def validate(config: RunConfig) -> None:
    """The checks that span sections (each section checks its own fields, and fields against each
    other, when built): the feature against the sample rate, the augmentation and the model; the
    recipe's overrides against the whole. The loader calls it, so a config that loads is a config that
    runs; ``tag.top_k`` against the number of classes waits for the label map, which no config holds.
    """
    from soundtag.features import build_transform  # torch: loaded with the first config, not this module
    from soundtag.features.registry import TRANSFORMS
    from soundtag.models.registry import takes_waveform

    config.features.check_loaded()
    transform = build_transform(config.features, config.audio.sample_rate)  # refuses bands above Nyquist
    feature = config.features.name
    if config.train.augment.gain_db > 0 and transform.spectral and not transform.in_db:
        fits = " or ".join(sorted(n for n, t in TRANSFORMS.items() if t.in_db or not t.spectral))
        raise ConfigError(f"train.augment.gain_db needs features in dB (gain added) or the waveform (gain "
                          f"multiplied): features.name {fits}, not {feature}")
    for key, value in (("train.crop_activity_floor_db", config.train.crop_activity_floor_db),
                       ("tag.window_floor_db", config.tag.window_floor_db)):
        if value is not None and not transform.in_db:  # energy is read off the features
            fits = " or ".join(sorted(n for n, t in TRANSFORMS.items() if t.in_db))
            raise ConfigError(f"{key} measures energy on features in dB (features.name {fits}), not {feature}")
    one_d = takes_waveform(config.model.name)  # refuses an unknown model name too
    if one_d and transform.spectral:
        waveforms = " or ".join(sorted(n for n, t in TRANSFORMS.items() if not t.spectral))
        raise ConfigError(f"model {config.model.name} is 1-D and needs the waveform (features.name: "
                          f"{waveforms}), not {feature}")
    if not one_d and not transform.spectral:
        raise ConfigError(f"model {config.model.name} is 2-D and needs spectral features, not the waveform "
                          f"(features.name: {feature})")
    if config.train.freeze_blocks and not config.train.init_from:  # here, not in the section: --init-from may add it
        raise ConfigError(f"train.freeze_blocks={config.train.freeze_blocks} freezes blocks of a trained run: "
                          "set train.init_from (or --init-from RUN_DIR) too")
    if config.train.loss == "gce" and config.train.multi_label == "yes":  # "auto" is checked with the corpus
        raise ConfigError(MULTI_LABEL_GCE)
    if config.train.teacher and config.train.multi_label == "yes":  # "auto" is checked by the trainer
        raise ConfigError("train.teacher: distillation needs a single-label run (softmax outputs); "
                          "train.multi_label is yes")
    if config.recipe.overrides:
        try:
            recipe_member_config(config)
        except ConfigError as exc:
            raise ConfigError(f"recipe.overrides: {exc}") from None


# --- loading --------------------------------------------------------------------------------------


def to_plain(obj: Any) -> Any:
    """Convert nested config dataclasses into plain dicts (feature configs keep their ``name``)."""
    if isinstance(obj, FeatureConfig):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def build_dataclass(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types by name."""
    if isinstance(cls, type) and issubclass(cls, FeatureConfig):
        cls = _feature_class(data, where)
        data = {k: v for k, v in data.items() if k != "name"}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown config key '{_join(where, key)}' (known here: {known})")
    kwargs = {key: _coerce(hints[key], value, _join(where, key)) for key, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def _feature_class(data: Any, where: str) -> type[FeatureConfig]:
    """Pick the registered feature config class named by ``data['name']``."""
    kinds = feature_types()
    known = ", ".join(sorted(kinds))
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"{where}: needs a 'name' ({known})")
    name = data["name"]
    if not isinstance(name, str) or name not in kinds:
        raise ConfigError(f"{where}.name: unknown feature '{name}' (known: {known})")
    return kinds[name]


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Check ``value`` against type ``hint``, converting ints to floats where a float is wanted."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)[:1] or (Any,)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is Any or origin is Literal:  # a Literal's choices are checked by its section (check_settings)
        return value
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, where)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


class ConfigSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that ``1e-3`` and ``5E+4`` are floats (YAML 1.2) rather than the
    strings YAML 1.1 makes of exponents without a dot, and that only ``true`` and ``false`` are
    booleans (YAML 1.2): ``yes``, ``no``, ``on`` and ``off`` stay words (``train.multi_label: no``).
    """


ConfigSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ConfigSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
ConfigSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b=value`` into a key path and a YAML-parsed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        value = yaml.load(raw, Loader=ConfigSafeLoader) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``key=value`` override applied.

    Switching ``features.name`` starts that section from the new feature's defaults (one feature's
    settings do not carry over to another); other ``features.*`` overrides then apply on top.
    """
    result = _deep_copy(data)
    parsed = [parse_override(text) for text in overrides]
    parsed = [(list(translate_renamed({keys[0]: None}, f"--set {text}")) + keys[1:], value)
              for text, (keys, value) in zip(overrides, parsed)]
    for keys, value in parsed:
        section = result.get("features")
        if keys == ["features", "name"] and isinstance(section, dict) and section.get("name") != value:
            result["features"] = {"name": value}
    for text, (keys, value) in zip(overrides, parsed):
        node = result
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text}: '{key}' is not a section")
            node = child
        node[keys[-1]] = value
    return result


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with the safe loader, reporting problems as one line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=ConfigSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{at}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of settings")
    return data


def config_from_dict(data: dict[str, Any], base_dir: str | Path | None = None) -> RunConfig:
    """Build and :func:`validate` a :class:`RunConfig`; relative paths are resolved against ``base_dir``."""
    config = _build(data, base_dir)
    validate(config)
    return config


# Sections renamed since earlier versions (old name -> new name): configs and run folders written
# before still load, and ``--set old.key=...`` still works, each with a one-line note.
RENAMED_SECTIONS = {"spread": "clean"}


def translate_renamed(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` with renamed sections under their new names, noting each translation once."""
    for old, new in RENAMED_SECTIONS.items():
        if old not in data:
            continue
        if new in data:
            raise ConfigError(f"{source}: both '{old}' and '{new}' are given; '{old}' is the old name of '{new}'")
        logging.getLogger("soundtag.config").warning("%s: section '%s' is now called '%s'; read as '%s'",
                                                     source, old, new, new)
        data = {(new if key == old else key): value for key, value in data.items()}
    return data


def _build(data: dict[str, Any], base_dir: str | Path | None, source: str = "config") -> RunConfig:
    config = build_dataclass(RunConfig, translate_renamed(data, source), "")
    if base_dir is not None:
        _resolve_paths(config, Path(base_dir))
    return config


def _resolve_paths(config: RunConfig, base_dir: Path) -> None:
    """Make every path setting absolute so a saved config works from any directory."""
    for section, name in PATH_FIELDS:
        holder = functools.reduce(getattr, section.split("."), config)
        value = getattr(holder, name)
        if value is not None:
            setattr(holder, name, str((base_dir / Path(value).expanduser()).resolve()))


PATH_FIELDS = (
    ("data", "corpus"),
    ("data", "cache_dir"),
    ("data", "reviewed"),
    ("train", "extra_labels"),
    ("train", "init_from"),
    ("train.augment.chain", "noise_folder"),
    ("clean", "groups_file"),
    ("selftrain", "unlabelled_dir"),
    ("selftrain", "init_weights"),
)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load a config from YAML (or the defaults when ``path`` is None) and apply overrides.

    Paths in a file are relative to the file; paths given with ``--set`` to the working directory.
    """
    data = read_yaml(path) if path is not None else {}
    base_dir = Path(path).resolve().parent if path is not None else Path.cwd()
    config = _build(data, base_dir, str(path) if path is not None else "config")
    if overrides:  # the file's sections first, so its paths resolve against it; then the overrides
        config = _build(apply_overrides(config.to_dict(), overrides), Path.cwd())
    validate(config)  # once, on the result: an override may mend what the file alone got wrong
    return config


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write ``config`` as YAML at ``path`` atomically, in a form :func:`load_config` reads back."""
    from soundtag.fileio import atomic_write_text  # here: it loads numpy, which the CLI's parser need not

    text = yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)
    atomic_write_text(path, text)


def recipe_member_config(config: RunConfig, member: int = 0) -> RunConfig:
    """The config of member ``member`` of ``config``'s second recipe: ``recipe.overrides`` applied,
    the seed advanced by ``member``, and no recipe section of its own.
    """
    data = config.to_dict()
    data.pop("recipe")
    data = apply_overrides(data, config.recipe.overrides)
    data["seed"] = int(data["seed"]) + member
    return config_from_dict(data, Path.cwd())
