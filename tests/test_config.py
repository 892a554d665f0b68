"""soundtag.config: defaults, YAML round trip, --set overrides, errors that name the key, safe YAML."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
import yaml

import soundtag.config
from soundtag.config import (
    AudioConfig,
    DataConfig,
    FeatureConfig,
    LogMelConfig,
    MfccConfig,
    RawConfig,
    RunConfig,
    SpectrogramConfig,
    apply_overrides,
    config_from_dict,
    load_config,
    parse_override,
    save_config,
)
from soundtag.errors import ConfigError, SoundtagError

BUILTIN_FEATURES = {"spectrogram": SpectrogramConfig, "logmel": LogMelConfig, "mfcc": MfccConfig, "raw": RawConfig}


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
        f"features.name={feature}",
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
    assert data["audio"] == {"sample_rate": 32000, "resample_quality": "HQ"}


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
    config = load_config(None, [f"features.name={feature}"])
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
    for name, cls in BUILTIN_FEATURES.items():
        assert FeatureConfig.registry[name] is cls
        assert cls.name == name
        assert cls().to_dict()["name"] == name
    for name, cls in FeatureConfig.registry.items():
        assert cls.name == name


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
