"""soundtag.config: defaults, YAML round trip, --set overrides, errors that name the key, declared
choices and ranges, the checks across sections, safe YAML with YAML 1.2 exponent floats."""

from __future__ import annotations

import dataclasses
import doctest
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import soundtag.config
from soundtag.config import (
    AudioConfig,
    DataConfig,
    EnsembleConfig,
    LogMelConfig,
    MfccConfig,
    ModelConfig,
    RawConfig,
    RunConfig,
    SelfTrainConfig,
    SpectrogramConfig,
    CleanConfig,
    TagConfig,
    TrainConfig,
    apply_overrides,
    choices,
    config_from_dict,
    feature_types,
    load_config,
    parse_override,
    read_yaml,
    save_config,
)
from soundtag.errors import ConfigError, SoundtagError

BUILTIN_FEATURES = {"spectrogram": SpectrogramConfig, "logmel": LogMelConfig, "mfcc": MfccConfig, "raw": RawConfig}


def feature_overrides(feature: str) -> list[str]:
    """``--set`` lines that switch to ``feature`` (the raw waveform needs the 1-D model)."""
    return [f"features.name={feature}"] + (["model.name=cnn1d_raw"] if feature == "raw" else [])


def write_yaml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults -------------------------------------------------------------------------------------


def test_defaults():
    config = RunConfig()
    assert config.seed == 2018
    assert config.audio == AudioConfig(sample_rate=32000, resample_quality="HQ")
    assert type(config.features) is LogMelConfig
    f = config.features
    assert (f.n_fft, f.hop_length, f.win_length, f.n_mels, f.fmin, f.fmax) == (1024, 320, None, 64, 50.0, None)
    assert (f.amin, f.top_db) == (1e-10, None)
    assert config.data == DataConfig(corpus="data/demo", cache_dir=None, num_workers=2, batch_size=32)


def test_feature_defaults_match_the_documented_recipes():
    spec = SpectrogramConfig()
    assert (spec.n_fft, spec.hop_length, spec.top_db, spec.n_frames) == (1024, 512, 80.0, 439)
    mfcc = MfccConfig()
    assert (mfcc.n_mfcc, mfcc.top_db, mfcc.deltas, mfcc.delta_width, mfcc.n_mels) == (20, 80.0, 0, 9, 64)


def test_load_config_without_a_file_gives_defaults_with_corpus_resolved_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.features == LogMelConfig()
    assert config.audio == AudioConfig()
    assert Path(config.data.corpus) == (tmp_path / "data" / "demo").resolve()


def test_empty_config_file_gives_defaults(tmp_path):
    path = write_yaml(tmp_path / "empty.yaml", "")
    config = load_config(path)
    assert config.features == LogMelConfig()
    assert config.seed == 2018


def test_config_from_dict_doc_example():
    config = config_from_dict({"features": {"name": "mfcc", "n_mfcc": 13}})
    assert isinstance(config.features, MfccConfig)
    assert config.features.n_mfcc == 13
    assert config.features.n_mels == 64  # the rest keeps the mfcc defaults
    assert config.features.top_db == 80.0


def test_docstring_examples_run():
    result = doctest.testmod(soundtag.config, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


# --- YAML round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("feature", sorted(BUILTIN_FEATURES))
def test_save_then_load_gives_the_same_config(tmp_path, feature):
    overrides = [
        *feature_overrides(feature),
        "seed=7",
        "audio.sample_rate=16000",
        "audio.resample_quality=VHQ",
        f"data.cache_dir={tmp_path / 'cache'}",
        "data.num_workers=0",
    ]
    config = load_config(None, overrides)
    path = tmp_path / "out" / "config.yaml"
    save_config(config, path)

    loaded = load_config(path)
    assert loaded == config
    assert type(loaded.features) is BUILTIN_FEATURES[feature]
    assert loaded.to_dict() == config.to_dict()
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]  # no temp file left


def test_saved_yaml_is_plain_and_names_the_feature_first(tmp_path):
    config = load_config(None, ["features.name=mfcc", "features.deltas=2"])
    path = tmp_path / "config.yaml"
    save_config(config, path)
    text = path.read_text(encoding="utf-8")
    assert "!!" not in text  # no python tags: readable by any YAML loader
    data = yaml.safe_load(text)
    assert list(data["features"])[0] == "name"
    assert data["features"]["name"] == "mfcc"
    assert data["features"]["deltas"] == 2
    assert data["audio"] == {"sample_rate": 32000, "resample_quality": "HQ", "max_seconds": 600.0}


def test_save_config_overwrites_an_older_file(tmp_path):
    path = write_yaml(tmp_path / "config.yaml", "seed: 1\n")
    save_config(load_config(None, ["seed=99"]), path)
    assert load_config(path).seed == 99


# --- --set overrides ------------------------------------------------------------------------------


def test_overrides_set_nested_fields():
    config = load_config(
        None, ["features.n_mels=128", "audio.sample_rate=16000", "features.fmax=8000", "data.batch_size=4", "seed=1"]
    )
    assert config.features.n_mels == 128
    assert config.features.fmax == 8000.0 and isinstance(config.features.fmax, float)  # int coerced to float
    assert config.audio.sample_rate == 16000
    assert config.data.batch_size == 4
    assert config.seed == 1


def test_override_with_null_and_empty_value_clears_an_optional_field(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "data:\n  cache_dir: somewhere\nfeatures:\n  name: logmel\n  fmax: 9000\n")
    config = load_config(path, ["data.cache_dir=null", "features.fmax="])
    assert config.data.cache_dir is None
    assert config.features.fmax is None


def test_overrides_apply_on_top_of_a_config_file(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "seed: 5\nfeatures:\n  name: logmel\n  n_mels: 96\n  fmin: 20\n")
    config = load_config(path, ["features.fmin=0"])
    assert config.seed == 5
    assert config.features.n_mels == 96  # from the file
    assert config.features.fmin == 0.0  # overridden


def test_later_override_wins():
    assert load_config(None, ["seed=1", "seed=2"]).seed == 2


@pytest.mark.parametrize("feature", sorted(BUILTIN_FEATURES))
def test_switching_feature_name_gives_that_features_defaults(feature):
    config = load_config(None, feature_overrides(feature))
    assert type(config.features) is BUILTIN_FEATURES[feature]
    assert config.features == BUILTIN_FEATURES[feature]()  # nothing carried over from logmel


def test_switching_to_mfcc_keeps_mfccs_own_top_db():
    # logmel's default top_db is None; mfcc's is 80: the switch must not smuggle logmel's in.
    assert load_config(None, ["features.name=mfcc"]).features.top_db == 80.0


@pytest.mark.parametrize(
    "overrides",
    [
        ["features.name=spectrogram", "features.n_frames=100"],
        ["features.n_frames=100", "features.name=spectrogram"],
    ],
    ids=["name-first", "name-last"],
)
def test_switching_feature_name_accepts_that_features_fields_in_any_order(overrides):
    config = load_config(None, overrides)
    assert config.features == SpectrogramConfig(n_frames=100)


def test_switching_feature_away_from_a_config_file_section(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "features:\n  name: logmel\n  n_mels: 128\n")
    assert load_config(path, ["features.name=spectrogram"]).features == SpectrogramConfig()
    # naming the same feature again is not a switch: the file's settings stay
    assert load_config(path, ["features.name=logmel"]).features.n_mels == 128


def test_config_file_picks_feature_by_name(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "features:\n  name: spectrogram\n  n_frames: null\n")
    assert load_config(path).features == SpectrogramConfig(n_frames=None)


@pytest.mark.parametrize("text", ["features.n_mels", "=5", "", " =1"])
def test_malformed_override_is_a_config_error(text):
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, [text])


def test_parse_override_reads_yaml_values():
    assert parse_override("a.b=1") == (["a", "b"], 1)
    assert parse_override("a=1.5") == (["a"], 1.5)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=x=y") == (["a"], "x=y")
    assert parse_override("a=") == (["a"], None)


def test_apply_overrides_does_not_modify_its_input():
    data = {"audio": {"sample_rate": 1}}
    result = apply_overrides(data, ["audio.sample_rate=2", "new.section=3"])
    assert data == {"audio": {"sample_rate": 1}}
    assert result == {"audio": {"sample_rate": 2}, "new": {"section": 3}}


def test_override_through_a_value_is_an_error():
    with pytest.raises(ConfigError, match="sample_rate"):
        load_config(None, ["audio.sample_rate.x=1"])


# --- unknown keys and wrong types -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["features.n_mel=64"], "features.n_mel"),
        (["audio.rate=16000"], "audio.rate"),
        (["sed=1"], "sed"),
        (["features.name=spectrogram", "features.n_mels=64"], "features.n_mels"),
        (["data.corpus_dir=x"], "data.corpus_dir"),
    ],
)
def test_unknown_key_via_set_names_the_key(overrides, key):
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    assert f"'{key}'" in str(info.value)


def test_unknown_key_in_file_names_the_key_and_the_known_ones(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "features:\n  name: logmel\n  n_mel: 64\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "'features.n_mel'" in message
    assert "n_mels" in message  # the known keys are listed to help the user


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["audio.sample_rate=abc"], "audio.sample_rate"),
        (["audio.sample_rate=16000.5"], "audio.sample_rate"),
        (["seed=true"], "seed"),
        (["features.n_mels=[64]"], "features.n_mels"),
        (["features.fmin=low"], "features.fmin"),
        (["features.fmax=high"], "features.fmax"),
        (["data.num_workers=two"], "data.num_workers"),
        (["audio.resample_quality=3"], "audio.resample_quality"),
        (["data.cache_dir=[a]"], "data.cache_dir"),
    ],
)
def test_wrong_type_names_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, overrides)


@pytest.mark.parametrize(
    "text",
    ["audio: 5\n", "audio: [1, 2]\n", "features: logmel\n", "features:\n  n_mels: 64\n", "data: text\n"],
)
def test_section_of_the_wrong_shape_is_an_error(tmp_path, text):
    path = write_yaml(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError, match="audio|features|data"):
        load_config(path)


@pytest.mark.parametrize(
    "overrides",
    [
        ["audio.sample_rate=0"],
        ["audio.sample_rate=-8000"],
        ["audio.resample_quality=best"],
        ["features.n_fft=8"],
        ["features.hop_length=0"],
        ["features.win_length=4096"],
        ["features.n_mels=0"],
        ["features.fmax=20"],  # below fmin=50
        ["features.name=mfcc", "features.n_mfcc=65"],
        ["features.name=mfcc", "features.deltas=3"],
        ["features.name=mfcc", "features.delta_width=4"],
    ],
)
def test_invalid_values_are_config_errors(overrides):
    with pytest.raises(ConfigError):
        load_config(None, overrides)


def test_config_errors_are_soundtag_errors():
    assert issubclass(ConfigError, SoundtagError)


# --- feature registry -----------------------------------------------------------------------------


def test_feature_registry_has_the_builtin_features():
    kinds = feature_types()
    for name, cls in BUILTIN_FEATURES.items():
        assert kinds[name] is cls
        assert cls.name == name
        assert cls().to_dict()["name"] == name
    for name, cls in kinds.items():
        assert cls.name == name


def test_importing_the_config_does_not_load_torch():
    # the CLI builds its parser (whose choices come from here) without paying for torch
    code = "import sys, soundtag.config; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_feature_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["features.name=melspec"])
    message = str(info.value)
    assert "melspec" in message
    for name in BUILTIN_FEATURES:
        assert name in message


def test_features_section_without_name_is_an_error():
    with pytest.raises(ConfigError, match="name"):
        config_from_dict({"features": {"n_mels": 64}})


# --- paths ----------------------------------------------------------------------------------------


def test_relative_paths_in_a_file_are_resolved_against_its_folder(tmp_path, monkeypatch):
    path = write_yaml(tmp_path / "configs" / "run.yaml", "data:\n  corpus: ../corpora/demo\n  cache_dir: cache\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(path)
    assert Path(config.data.corpus) == (tmp_path / "corpora" / "demo").resolve()
    assert Path(config.data.cache_dir) == (tmp_path / "configs" / "cache").resolve()


def test_relative_config_path_argument_is_resolved_too(tmp_path, monkeypatch):
    write_yaml(tmp_path / "configs" / "run.yaml", "data:\n  corpus: audio\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("configs/run.yaml")
    assert Path(config.data.corpus) == (tmp_path / "configs" / "audio").resolve()


def test_absolute_and_home_paths_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write_yaml(
        tmp_path / "c.yaml", f"data:\n  corpus: {tmp_path / 'abs' / 'corpus'}\n  cache_dir: ~/soundtag-cache\n"
    )
    config = load_config(path)
    assert Path(config.data.corpus) == (tmp_path / "abs" / "corpus").resolve()
    assert Path(config.data.cache_dir) == (tmp_path / "home" / "soundtag-cache").resolve()


def test_relative_paths_given_with_set_are_resolved_against_cwd(tmp_path, monkeypatch):
    path = write_yaml(tmp_path / "configs" / "run.yaml", "data:\n  corpus: ../from-file\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    config = load_config(path, ["data.cache_dir=my-cache"])
    assert Path(config.data.corpus) == (tmp_path / "from-file").resolve()  # still relative to the file
    assert Path(config.data.cache_dir) == (work / "my-cache").resolve()
    config = load_config(path, ["data.corpus=here"])
    assert Path(config.data.corpus) == (work / "here").resolve()


def test_saved_config_works_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None, ["data.corpus=corpus"])
    save_config(config, tmp_path / "run" / "config.yaml")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    assert Path(load_config(tmp_path / "run" / "config.yaml").data.corpus) == (tmp_path / "corpus").resolve()


# --- reading YAML safely --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "seed: !!python/object/apply:os.system ['touch {marker}']\n",
        "!!python/object:soundtag.config.RunConfig {{}}\n",
        "data: !!python/object/new:soundtag.config.DataConfig {{}}\n",
        "seed: !!python/name:os.system\n",
    ],
)
def test_python_tags_are_refused(tmp_path, text):
    marker = tmp_path / "pwned"
    path = write_yaml(tmp_path / "evil.yaml", text.format(marker=marker))
    with pytest.raises(ConfigError, match="evil.yaml"):
        load_config(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("seed: [1, 2\n", "invalid YAML"),
        ("features:\n  name: logmel\n n_mels: 3\n", "invalid YAML"),
        ("- 1\n- 2\n", "mapping"),
        ("just a string\n", "mapping"),
    ],
)
def test_malformed_config_file_is_one_config_error_naming_the_file(tmp_path, text, problem):
    path = write_yaml(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert problem in message
    assert "\n" not in message


def test_invalid_yaml_error_gives_the_line(tmp_path):
    path = write_yaml(tmp_path / "bad.yaml", "seed: 1\naudio:\n  sample_rate: [1\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_path_that_is_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


# --- declared choices -----------------------------------------------------------------------------


def literal_fields() -> list[tuple[list[str], str, tuple]]:
    """(--set lines that reach it, key, choices) of every Literal field of every section and feature kind."""
    found = []
    for section in dataclasses.fields(RunConfig):
        default = getattr(RunConfig(), section.name)
        if not dataclasses.is_dataclass(default) or section.name == "features":
            continue
        holders = [(section.name, type(default))] + [
            (f"{section.name}.{f.name}", type(getattr(default, f.name)))
            for f in dataclasses.fields(default) if dataclasses.is_dataclass(getattr(default, f.name))
        ]
        for prefix, cls in holders:
            for f in dataclasses.fields(cls):
                try:
                    found.append(([], f"{prefix}.{f.name}", choices(cls, f.name)))
                except TypeError:
                    pass
    for name, cls in sorted(feature_types().items()):
        for f in dataclasses.fields(cls):
            try:
                found.append(([f"features.name={name}"], f"features.{f.name}", choices(cls, f.name)))
            except TypeError:
                pass
    return found


LITERALS = literal_fields()


def test_the_vocabularies_are_declared():
    keys = {key for _, key, _ in LITERALS}
    assert keys >= {
        "audio.resample_quality", "model.pooling", "train.pad_mode", "train.labels", "train.val_from", "train.loss",
        "clean.method", "clean.embedding", "clean.kernel", "selftrain.label", "ensemble.method",
        "recipe.cleaner", "features.deltas",
    }
    assert choices(TrainConfig, "loss") == ("ce", "gce")
    assert choices(MfccConfig, "deltas") == (0, 1, 2)


@pytest.mark.parametrize(("before", "key", "allowed"), LITERALS, ids=[key for _, key, _ in LITERALS])
@pytest.mark.parametrize("bad", ["banana", 7, True])
def test_every_choice_refuses_other_values_listing_the_vocabulary(before, key, allowed, bad):
    with pytest.raises(ConfigError) as info:
        load_config(None, [*before, f"{key}={str(bad).lower()}"])
    message = str(info.value)
    assert message.startswith(f"{key} must be one of {', '.join(map(str, allowed))}, got ")
    assert "\n" not in message


@pytest.mark.parametrize(("before", "key", "allowed"), LITERALS, ids=[key for _, key, _ in LITERALS])
def test_every_choice_is_accepted(before, key, allowed):
    for value in allowed:
        config = load_config(None, [*before, f"{key}={value}"])
        holder = config
        for part in key.split(".")[:-1]:
            holder = getattr(holder, part)
        assert getattr(holder, key.split(".")[-1]) == value


def test_the_ensemble_methods_and_the_cli_choices_come_from_the_config():
    import argparse

    from soundtag.cli.main import build_parser
    from soundtag.ensemble.combine import METHODS

    def option_choices(command: str, dest: str):
        (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
        (option,) = [a for a in commands.choices[command]._actions if a.dest == dest]
        return tuple(option.choices)

    assert METHODS == choices(EnsembleConfig, "method") == option_choices("ensemble", "method")
    assert choices(CleanConfig, "method") == option_choices("spread", "method") == ("spreading", "confident")


# --- declared ranges ------------------------------------------------------------------------------

# (--set lines, the key named, what the message says is allowed): each range class, at its edges
BAD_VALUES = [
    (["train.lr=.nan"], "train.lr", "> 0"),
    (["train.lr=.inf"], "train.lr", "> 0"),
    (["train.lr=-1e-3"], "train.lr", "> 0"),
    (["train.lr=0"], "train.lr", "> 0"),
    (["train.weight_decay=-0.1"], "train.weight_decay", ">= 0"),
    (["model.dropout=1.5"], "model.dropout", "in [0, 1)"),
    (["model.dropout=1"], "model.dropout", "in [0, 1)"),
    (["model.dropout=-0.1"], "model.dropout", "in [0, 1)"),
    (["model.channels=[0, 16]"], "model.channels[0]", ">= 1"),
    (["model.channels=[16, -4]"], "model.channels[1]", ">= 1"),
    (["model.fc_dim=0"], "model.fc_dim", ">= 1"),
    (["train.device=banana"], "train.device", "auto, cpu, cuda, cuda:N or mps"),
    (["train.device=cuda:x"], "train.device", "auto, cpu, cuda, cuda:N or mps"),
    (["train.epochs=0"], "train.epochs", ">= 1"),
    (["train.batch_size=0"], "train.batch_size", ">= 1"),
    (["train.patience=0"], "train.patience", ">= 1"),
    (["train.crop_seconds=0"], "train.crop_seconds", "> 0"),
    (["train.val_fraction=0"], "train.val_fraction", "in (0, 1)"),
    (["train.val_fraction=1"], "train.val_fraction", "in (0, 1)"),
    (["train.num_workers=-1"], "train.num_workers", ">= 0"),
    (["train.gce_q=0"], "train.gce_q", "in (0, 1]"),
    (["train.label_smoothing=1"], "train.label_smoothing", "in [0, 1)"),
    (["train.unverified_weight=-1"], "train.unverified_weight", ">= 0"),
    (["train.augment.gain_db=-3"], "train.augment.gain_db", ">= 0"),
    (["train.augment.mixup_alpha=.nan"], "train.augment.mixup_alpha", ">= 0"),
    (["train.augment.time_masks=-1"], "train.augment.time_masks", ">= 0"),
    (["train.augment.chain.reverb=1.5"], "train.augment.chain.reverb", "in [0, 1]"),
    (["train.augment.chain.variants=0"], "train.augment.chain.variants", ">= 1"),
    (["train.augment.chain.clean_share=1"], "train.augment.chain.clean_share", "in [0, 1)"),
    (["train.augment.chain.rt60=[0.2, 9]"], "train.augment.chain.rt60[1]", "in [0.05, 3]"),
    (["train.augment.chain.pitch_semitones=0"], "train.augment.chain.pitch_semitones", "in (0, 12]"),
    (["train.crop_activity_floor_db=0"], "train.crop_activity_floor_db", "> 0"),
    (["train.random_crop_share=1.5"], "train.random_crop_share", "in [0, 1]"),
    (["tag.window_floor_db=-10"], "tag.window_floor_db", "> 0"),
    (["tag.segment=-1"], "tag.segment", "> 0"),
    (["tag.segment=.inf"], "tag.segment", "> 0"),
    (["tag.hop=0"], "tag.hop", "> 0"),
    (["tag.top_k=0"], "tag.top_k", ">= 1"),
    (["tag.batch_size=0"], "tag.batch_size", ">= 1"),
    (["tag.block_seconds=0"], "tag.block_seconds", "> 0"),
    (["autoencoder.latent_dim=0"], "autoencoder.latent_dim", ">= 1"),
    (["autoencoder.input_frames=0"], "autoencoder.input_frames", ">= 1"),
    (["autoencoder.channels=[16, 0]"], "autoencoder.channels[1]", ">= 1"),
    (["autoencoder.lr=-1e-5"], "autoencoder.lr", "> 0"),
    (["autoencoder.batch_size=0"], "autoencoder.batch_size", ">= 1"),
    (["autoencoder.epochs=0"], "autoencoder.epochs", ">= 1"),
    (["autoencoder.patience=0"], "autoencoder.patience", ">= 1"),
    (["autoencoder.val_fraction=1"], "autoencoder.val_fraction", "in [0, 1)"),
    (["clean.gamma=0"], "clean.gamma", "> 0"),
    (["clean.alpha=0"], "clean.alpha", "in (0, 1)"),
    (["clean.alpha=1"], "clean.alpha", "in (0, 1)"),
    (["clean.n_neighbors=0"], "clean.n_neighbors", ">= 1"),
    (["clean.max_iter=0"], "clean.max_iter", ">= 1"),
    (["clean.tol=0"], "clean.tol", "> 0"),
    (["clean.pca_components=0"], "clean.pca_components", ">= 1"),
    (["selftrain.rounds=0"], "selftrain.rounds", ">= 1"),
    (["selftrain.epochs_per_round=0"], "selftrain.epochs_per_round", ">= 1"),
    (["selftrain.lower_start=-0.1"], "selftrain.lower_start", "in [0, 1]"),
    (["selftrain.upper=1.5"], "selftrain.upper", "in [0, 1]"),
    (["ensemble.min_score=2"], "ensemble.min_score", "in [0, 1]"),
    (["ensemble.min_score=.nan"], "ensemble.min_score", "in [0, 1]"),
    (["ensemble.weights=[1, -1]"], "ensemble.weights[1]", ">= 0"),
    (["recipe.members=-1"], "recipe.members", ">= 0"),
    (["audio.sample_rate=0"], "audio.sample_rate", ">= 1"),
    (["data.num_workers=-1"], "data.num_workers", ">= 0"),
    (["data.batch_size=0"], "data.batch_size", ">= 1"),
    (["features.n_fft=1023"], "features.n_fft", "even and >= 16"),
    (["features.n_fft=8"], "features.n_fft", "even and >= 16"),
    (["features.hop_length=0"], "features.hop_length", ">= 1"),
    (["features.win_length=0"], "features.win_length", ">= 1"),
    (["features.n_mels=0"], "features.n_mels", ">= 1"),
    (["features.fmin=-1"], "features.fmin", ">= 0"),
    (["features.fmax=.nan"], "features.fmax", "> 0"),
    (["features.top_db=0"], "features.top_db", "> 0"),
    (["features.amin=0"], "features.amin", "> 0"),
    (["features.name=mfcc", "features.n_mfcc=0"], "features.n_mfcc", ">= 1"),
    (["features.name=mfcc", "features.delta_width=4"], "features.delta_width", "odd and >= 3"),
    (["features.name=mfcc", "features.delta_width=1"], "features.delta_width", "odd and >= 3"),
    (["features.name=spectrogram", "features.n_frames=0"], "features.n_frames", ">= 1"),
    (["features.name=spectrogram", "features.top_db=-80"], "features.top_db", "> 0"),
]


@pytest.mark.parametrize(("overrides", "key", "allowed"), BAD_VALUES, ids=[" ".join(o) for o, _, _ in BAD_VALUES])
def test_out_of_range_values_are_one_line_naming_key_value_and_range(overrides, key, allowed):
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    message = str(info.value)
    assert message.startswith(f"{key} must be {allowed}, got "), message
    assert "\n" not in message
    expected = parse_override(overrides[-1])[1]
    if key.endswith("]"):  # a list names its item
        expected = expected[int(key.rpartition("[")[2][:-1])]
    got = message.rpartition(", got ")[2]
    if isinstance(expected, str):
        assert got == repr(expected)
    else:
        assert str(float(got)) == str(float(expected))


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.dropout=0", "train.weight_decay=0", "train.label_smoothing=0", "train.gce_q=1"],
        ["train.device=cpu"], ["train.device=cuda"], ["train.device=cuda:3"], ["train.device=mps"],
        ["tag.segment=null", "tag.hop=null"], ["tag.segment=4", "tag.hop=4"], ["tag.hop=0.5"],
        ["features.fmin=0", "features.top_db=null", "features.win_length=1024"],
        ["clean.pca_components=null", "clean.alpha=0.99"],
        ["selftrain.lower_start=0", "selftrain.lower_end=0", "selftrain.upper=0"],
        ["ensemble.weights=[0, 1]", "ensemble.min_score=1"],
        ["autoencoder.val_fraction=0", "recipe.members=0", "data.num_workers=0"],
        ["model.channels=[]", "model.fc_dim=null"],
    ],
)
def test_values_at_the_edges_of_their_ranges_load(overrides):
    load_config(None, overrides)


def test_a_file_is_checked_like_set(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "model:\n  channels: [0, 16]\n")
    with pytest.raises(ConfigError, match=r"^model\.channels\[0\] must be >= 1, got 0$"):
        load_config(path)


def test_sections_check_their_fields_when_built_directly():
    with pytest.raises(ConfigError, match="train.lr must be > 0, got nan"):
        TrainConfig(lr=float("nan"))
    with pytest.raises(ConfigError, match=r"model.dropout must be in \[0, 1\), got 1.5"):
        ModelConfig(dropout=1.5)
    with pytest.raises(ConfigError, match="train.device"):
        TrainConfig(device="banana")
    with pytest.raises(ConfigError, match="features.n_fft must be even and >= 16, got 1023"):
        LogMelConfig(n_fft=1023)
    with pytest.raises(ConfigError, match="features.deltas must be one of 0, 1, 2, got True"):
        MfccConfig(deltas=True)


# --- checks within a section and across sections --------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["features.win_length=2048"], ["features.win_length must be <= n_fft (1024), got 2048"]),
        (["features.fmax=20"], ["features.fmax must be > fmin (50), got 20"]),
        (["features.n_fft=64"], ["features.n_mels must be <= n_fft // 2 + 1 (33), got 64"]),
        (["features.name=mfcc", "features.n_mfcc=65"], ["features.n_mfcc must be <= n_mels (64), got 65"]),
        (["tag.segment=1", "tag.hop=2"], ["tag.hop must be <= tag.segment (1), got 2"]),
        (["selftrain.lower_end=0.95", "selftrain.upper=0.9"], ["selftrain.lower_start and selftrain.lower_end",
                                                               "<= selftrain.upper (0.9)"]),
        (["audio.sample_rate=16000", "features.fmax=12000"], ["half the sample rate (8000 Hz)"]),
        (["audio.sample_rate=16000", "features.fmin=9000"], ["half the sample rate (8000 Hz)"]),
        (["train.augment.gain_db=6", "features.name=mfcc"],
         ["train.augment.gain_db", "features.name logmel or raw, not mfcc"]),
        (["train.augment.gain_db=6", "features.name=spectrogram"], ["features.name logmel or raw, not spectrogram"]),
        (["train.crop_activity_floor_db=40", "features.name=mfcc"],
         ["train.crop_activity_floor_db measures energy on features in dB (features.name logmel), not mfcc"]),
        (["tag.window_floor_db=20", "features.name=raw", "model.name=cnn1d_raw"],
         ["tag.window_floor_db", "not raw"]),
        (["model.name=cnn1d_raw"], ["model cnn1d_raw is 1-D", "features.name: raw", "not logmel"]),
        (["features.name=raw"], ["model vgg_small is 2-D and needs spectral features", "features.name: raw"]),
        (["model.name=resnet9000"], ["model.name: unknown model 'resnet9000'", "cnn1d_raw", "vgg_small"]),
        (["recipe.overrides=[recipe.members=2]"], ["recipe.overrides", "may not change the recipe section"]),
        (["recipe.overrides=[train.lr=-1]"], ["recipe.overrides: train.lr must be > 0, got -1"]),
        (["recipe.overrides=[model.name=cnn1d_raw]"], ["recipe.overrides: model cnn1d_raw is 1-D"]),
        (["recipe.overrides=[train.lrr=1]"], ["recipe.overrides: unknown config key 'train.lrr'"]),
    ],
)
def test_inconsistent_settings_are_refused_at_load(overrides, fragments):
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    "overrides",
    [
        ["train.augment.gain_db=6"],  # logmel: added in dB
        ["train.augment.gain_db=6", "features.name=raw", "model.name=cnn1d_raw"],  # the waveform: multiplied
        ["audio.sample_rate=16000", "features.fmax=8000"],
        ["recipe.overrides=[train.lr=5e-4, features.name=mfcc]"],
        ["train.crop_activity_floor_db=40", "train.random_crop_share=0", "tag.window_floor_db=20"],  # logmel
    ],
)
def test_consistent_settings_load(overrides):
    load_config(None, overrides)


def test_an_override_may_mend_what_the_file_alone_gets_wrong(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "model:\n  name: cnn1d_raw\n")  # with the default logmel features
    with pytest.raises(ConfigError, match="cnn1d_raw"):
        load_config(path)
    assert load_config(path, ["features.name=raw"]).model.name == "cnn1d_raw"


def test_config_from_dict_validates_too():
    with pytest.raises(ConfigError, match="features.name: raw"):
        config_from_dict({"model": {"name": "cnn1d_raw"}})


# --- YAML 1.1 exponent floats ---------------------------------------------------------------------


def test_exponent_floats_without_a_dot_are_floats_in_a_file(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "train:\n  lr: 1e-3\n  weight_decay: 5E-4\nautoencoder:\n  lr: 1e+0\n")
    config = load_config(path)
    assert config.train.lr == 0.001 and isinstance(config.train.lr, float)
    assert config.train.weight_decay == 0.0005
    assert config.autoencoder.lr == 1.0
    assert read_yaml(path)["train"]["lr"] == 0.001


def test_exponent_floats_given_with_set_are_floats():
    assert load_config(None, ["train.lr=5e-4"]).train.lr == 0.0005
    assert parse_override("a=1e-3") == (["a"], 0.001)
    assert parse_override("a=-2E+2") == (["a"], -200.0)
    assert parse_override("a=[1e-3, 2]") == (["a"], [0.001, 2])
    # the rest of YAML's scalars are as before
    assert parse_override("a=1000") == (["a"], 1000)
    assert parse_override("a=1_000") == (["a"], 1000)
    assert parse_override("a=e5") == (["a"], "e5")
    assert parse_override("a=1e") == (["a"], "1e")
    assert parse_override("a=.5") == (["a"], 0.5)
    assert parse_override("a=0x10") == (["a"], 16)
    assert yaml.safe_load("1e-3") == "1e-3"  # PyYAML's own safe loader is left alone


def test_exponent_floats_survive_a_round_trip(tmp_path):
    config = load_config(None, ["train.lr=1e-5", "features.amin=1e-12"])
    save_config(config, tmp_path / "config.yaml")
    loaded = load_config(tmp_path / "config.yaml")
    assert (loaded.train.lr, loaded.features.amin) == (1e-5, 1e-12)


def test_a_config_of_an_earlier_version_with_a_spread_section_loads_as_clean(tmp_path, caplog):
    path = tmp_path / "old.yaml"
    path.write_text("spread:\n  gamma: 10\n  method: confident\n")
    with caplog.at_level("WARNING", logger="soundtag.config"):
        config = load_config(path, ["spread.alpha=0.5"])
    assert (config.clean.gamma, config.clean.method, config.clean.alpha) == (10.0, "confident", 0.5)
    notes = [r.getMessage() for r in caplog.records]
    assert notes == [f"{path}: section 'spread' is now called 'clean'; read as 'clean'",
                     "--set spread.alpha=0.5: section 'spread' is now called 'clean'; read as 'clean'"]
    assert "spread" not in config.to_dict()


def test_old_and_new_names_of_one_section_together_are_refused(tmp_path):
    path = tmp_path / "both.yaml"
    path.write_text("spread: {gamma: 10}\nclean: {gamma: 5}\n")
    with pytest.raises(ConfigError, match="both 'spread' and 'clean'"):
        load_config(path)
