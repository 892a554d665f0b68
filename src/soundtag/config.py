"""Typed run configuration: one source of truth per setting, loaded from YAML, saved beside outputs.

Every stage's settings are a dataclass; they nest into :class:`RunConfig`. Unknown keys are errors
that name the key, YAML is read with the safe loader, and ``--set a.b=value`` overrides a field.

>>> cfg = config_from_dict({"features": {"name": "mfcc", "n_mfcc": 13}})
>>> cfg.features.n_mfcc, cfg.audio.sample_rate
(13, 32000)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from soundtag.errors import ConfigError
from soundtag.fileio import atomic_write_text


@dataclass
class AudioConfig:
    """How audio is decoded: every clip is mixed to mono and resampled to ``sample_rate``."""

    sample_rate: int = 32000
    resample_quality: str = "HQ"

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ConfigError(f"audio.sample_rate must be positive, got {self.sample_rate}")
        if self.resample_quality not in ("QQ", "LQ", "MQ", "HQ", "VHQ"):
            raise ConfigError(
                f"audio.resample_quality must be one of QQ, LQ, MQ, HQ, VHQ, got {self.resample_quality!r}"
            )


@dataclass
class FeatureConfig:
    """Base of the feature settings; ``name`` picks the subclass from :attr:`registry`."""

    registry: ClassVar[dict[str, type[FeatureConfig]]] = {}
    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            FeatureConfig.registry[cls.name] = cls

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form with ``name`` first, as written to YAML."""
        return {"name": self.name, **dataclasses.asdict(self)}


@dataclass
class StftConfig(FeatureConfig):
    """Short-time Fourier transform framing shared by the spectral features."""

    n_fft: int = 1024
    hop_length: int = 320
    win_length: int | None = None

    def __post_init__(self) -> None:
        if self.n_fft < 16 or self.n_fft % 2 or self.hop_length < 1:  # odd: centred frames != 1 + samples // hop
            raise ConfigError(f"features: n_fft must be even and >= 16 and hop_length >= 1 ({self.name})")
        if self.win_length is not None and not 0 < self.win_length <= self.n_fft:
            raise ConfigError("features.win_length must be in 1..n_fft")


@dataclass
class SpectrogramConfig(StftConfig):
    """The seed's feature: STFT magnitude in dB re the clip's max, clipped, scaled to [0, 1]."""

    name: ClassVar[str] = "spectrogram"
    hop_length: int = 512
    top_db: float = 80.0
    n_frames: int | None = 439


@dataclass
class LogMelConfig(StftConfig):
    """Log-mel power spectrogram in dB with a floor: the default feature for new runs."""

    name: ClassVar[str] = "logmel"
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float | None = None
    amin: float = 1e-10
    top_db: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_mels < 1 or self.fmin < 0 or (self.fmax is not None and self.fmax <= self.fmin):
            raise ConfigError("features: need n_mels >= 1 and 0 <= fmin < fmax")


@dataclass
class MfccConfig(LogMelConfig):
    """MFCCs: DCT-II (orthonormal) of the log-mel spectrogram, with optional deltas."""

    name: ClassVar[str] = "mfcc"
    n_mfcc: int = 20
    top_db: float | None = 80.0
    deltas: int = 0
    delta_width: int = 9

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.n_mfcc <= self.n_mels:
            raise ConfigError("features.n_mfcc must be in 1..n_mels")
        if self.deltas not in (0, 1, 2) or self.delta_width < 3 or self.delta_width % 2 == 0:
            raise ConfigError("features.deltas must be 0, 1 or 2 and delta_width odd and >= 3")


@dataclass
class RawConfig(FeatureConfig):
    """The waveform itself, for 1-D CNNs."""

    name: ClassVar[str] = "raw"


@dataclass
class DataConfig:
    """Where the corpus and the feature cache are, and how features are extracted."""

    corpus: str = "data/demo"
    cache_dir: str | None = None
    num_workers: int = 2
    batch_size: int = 32


@dataclass
class ModelConfig:
    """Which classifier to build; empty ``channels`` / null ``fc_dim`` take the model's defaults."""

    name: str = "vgg_small"
    channels: list[int] = field(default_factory=list)
    fc_dim: int | None = None
    dropout: float = 0.3
    pooling: str = "meanmax"

    def __post_init__(self) -> None:
        if self.pooling not in ("meanmax", "attention"):
            raise ConfigError(f"model.pooling must be 'meanmax' or 'attention', got {self.pooling!r}")


@dataclass
class AugmentConfig:
    """Training-time augmentation, all off by default (the seed used none)."""

    mixup_alpha: float = 0.0
    time_masks: int = 0
    time_mask_width: int = 20
    freq_masks: int = 0
    freq_mask_width: int = 8
    gain_db: float = 0.0
    time_shift: bool = False

    def __post_init__(self) -> None:
        if min(self.mixup_alpha, self.gain_db) < 0 or min(self.time_masks, self.freq_masks) < 0:
            raise ConfigError("train.augment values must not be negative")


@dataclass
class TrainConfig:
    """How a classifier is trained and validated."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 8
    crop_seconds: float = 2.0
    pad_mode: str = "repeat"
    labels: str = "all"
    extra_labels: str | None = None
    val_fraction: float = 0.2
    val_from: str = "verified"
    device: str = "auto"
    num_workers: int = 0
    loss: str = "ce"
    gce_q: float = 0.7
    label_smoothing: float = 0.0
    unverified_weight: float = 1.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.loss not in ("ce", "gce"):
            raise ConfigError(f"train.loss must be 'ce' or 'gce', got {self.loss!r}")
        if not 0.0 < self.gce_q <= 1.0 or not 0.0 <= self.label_smoothing < 1.0 or self.unverified_weight < 0:
            raise ConfigError("need 0 < train.gce_q <= 1, 0 <= train.label_smoothing < 1, train.unverified_weight >= 0")
        if self.labels not in ("all", "verified"):
            raise ConfigError(f"train.labels must be 'all' or 'verified', got {self.labels!r}")
        if self.val_from not in ("all", "verified"):
            raise ConfigError(f"train.val_from must be 'all' or 'verified', got {self.val_from!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError("train.val_fraction must be between 0 and 1")
        if self.pad_mode not in ("repeat", "zeros", "min"):
            raise ConfigError("train.pad_mode must be repeat, zeros or min")
        if self.epochs < 1 or self.batch_size < 1 or self.crop_seconds <= 0:
            raise ConfigError("train.epochs, train.batch_size and train.crop_seconds must be positive")


@dataclass
class TagConfig:
    """How files are tagged: segment length and hop in seconds (null: the training window), top-k;
    ``framewise`` reads segment tags off the model's frame-wise outputs over ``block_seconds`` blocks."""

    segment: float | None = None
    hop: float | None = None
    top_k: int = 3
    batch_size: int = 32
    framewise: bool = False
    block_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.block_seconds <= 0:
            raise ConfigError("tag.block_seconds must be positive")


@dataclass
class AutoencoderConfig:
    """The convolutional autoencoder whose latents feed label spreading (seed: 4096-d, Adam 1e-5)."""

    latent_dim: int = 4096
    input_frames: int = 128
    channels: list[int] = field(default_factory=lambda: [16, 32, 64, 64])
    lr: float = 1e-5
    batch_size: int = 16
    epochs: int = 100
    patience: int = 5
    val_fraction: float = 0.1


@dataclass
class SpreadConfig:
    """scikit-learn LabelSpreading inside class groups (seed: rbf, gamma 20, alpha 0.2)."""

    method: str = "spreading"
    embedding: str = "latent"
    kernel: str = "rbf"
    gamma: float = 20.0
    n_neighbors: int = 7
    alpha: float = 0.2
    max_iter: int = 100000
    tol: float = 0.001
    pca_components: int | None = 20
    groups: str = "all"
    groups_file: str | None = None

    def __post_init__(self) -> None:
        if self.method not in ("spreading", "confident"):
            raise ConfigError("spread.method must be 'spreading' (LabelSpreading) or 'confident' (confident learning)")
        if self.embedding not in ("latent", "mfcc_stats"):
            raise ConfigError("spread.embedding must be 'latent' or 'mfcc_stats'")
        if self.kernel not in ("rbf", "knn"):
            raise ConfigError("spread.kernel must be 'rbf' or 'knn'")
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError("spread.alpha must be between 0 and 1")


@dataclass
class SelfTrainConfig:
    """Self-training rounds: clips whose top probability is in [lower, upper] join the training set;
    ``lower`` moves linearly from ``lower_start`` to ``lower_end`` over the rounds.
    """

    rounds: int = 3
    epochs_per_round: int = 10
    lower_start: float = 0.9
    lower_end: float = 0.7
    upper: float = 1.0
    label: str = "predicted"
    unlabelled_dir: str | None = None
    init_weights: str | None = None

    def __post_init__(self) -> None:
        if self.label not in ("predicted", "given"):
            raise ConfigError("selftrain.label must be 'predicted' or 'given'")
        if self.rounds < 1 or self.epochs_per_round < 1:
            raise ConfigError("selftrain.rounds and selftrain.epochs_per_round must be positive")
        if not 0.0 <= min(self.lower_start, self.lower_end) <= max(self.lower_start, self.lower_end) <= self.upper <= 1.0:
            raise ConfigError("selftrain bounds must satisfy 0 <= lower <= upper <= 1")


@dataclass
class EnsembleConfig:
    """How class probabilities of several runs are combined."""

    method: str = "geometric"
    min_score: float = 0.0
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.method not in ("arithmetic", "geometric", "weighted"):
            raise ConfigError("ensemble.method must be arithmetic, geometric or weighted")


@dataclass
class RecipeConfig:
    """A second recipe that ``soundtag experiment`` trains beside the seed's stages and reports side
    by side: ``members`` models (seeds seed, seed+1, ...) on the labels the ``cleaner`` trusts, with
    this config's settings changed by ``overrides`` (``--set`` syntax), combined by ``ensemble.method``.
    """

    members: int = 0
    cleaner: str = "confident"
    overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.members < 0:
            raise ConfigError("recipe.members must be 0 (no second recipe) or more")
        if self.cleaner not in ("none", "spreading", "confident"):
            raise ConfigError("recipe.cleaner must be none, spreading or confident")
        for text in self.overrides:
            keys, _ = parse_override(text)
            if keys[0] == "recipe":
                raise ConfigError(f"recipe.overrides: {text!r} may not change the recipe section itself")


@dataclass
class RunConfig:
    """Everything one soundtag run depends on."""

    seed: int = 2018
    audio: AudioConfig = field(default_factory=AudioConfig)
    features: FeatureConfig = field(default_factory=LogMelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tag: TagConfig = field(default_factory=TagConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    spread: SpreadConfig = field(default_factory=SpreadConfig)
    selftrain: SelfTrainConfig = field(default_factory=SelfTrainConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    recipe: RecipeConfig = field(default_factory=RecipeConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, the form written to ``config.yaml``."""
        return to_plain(self)


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
    """Pick the feature config class named by ``data['name']``."""
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"{where}: needs a 'name' ({', '.join(sorted(FeatureConfig.registry))})")
    name = data["name"]
    if name not in FeatureConfig.registry:
        known = ", ".join(sorted(FeatureConfig.registry))
        raise ConfigError(f"{where}.name: unknown feature '{name}' (known: {known})")
    return FeatureConfig.registry[name]


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
    if hint is Any:
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


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b=value`` into a key path and a YAML-parsed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
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
        data = yaml.safe_load(text)
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
    """Build a :class:`RunConfig`; relative paths are resolved against ``base_dir``."""
    config = build_dataclass(RunConfig, data, "")
    if base_dir is not None:
        _resolve_paths(config, Path(base_dir))
    return config


def _resolve_paths(config: RunConfig, base_dir: Path) -> None:
    """Make every path setting absolute so a saved config works from any directory."""
    for section, name in PATH_FIELDS:
        holder = getattr(config, section)
        value = getattr(holder, name)
        if value is not None:
            setattr(holder, name, str((base_dir / Path(value).expanduser()).resolve()))


PATH_FIELDS = (
    ("data", "corpus"),
    ("data", "cache_dir"),
    ("train", "extra_labels"),
    ("spread", "groups_file"),
    ("selftrain", "unlabelled_dir"),
    ("selftrain", "init_weights"),
)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load a config from YAML (or the defaults when ``path`` is None) and apply overrides.

    Paths in a file are relative to the file; paths given with ``--set`` to the working directory.
    """
    data = read_yaml(path) if path is not None else {}
    base_dir = Path(path).resolve().parent if path is not None else Path.cwd()
    config = config_from_dict(data, base_dir)
    if overrides:
        merged = apply_overrides(config.to_dict(), overrides)
        config = config_from_dict(merged, Path.cwd())
    return config


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write ``config`` as YAML at ``path`` atomically, in a form :func:`load_config` reads back."""
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
