"""A bank of augmented variants of the training clips: each clip's waveform through ``variants`` random
recording chains (``train.augment.chain``), featurised once and cached beside the clean features.

Why a cached bank and not augmentation on the fly: training reads cached features, and one pass of
fsd-mini's training set takes a few seconds, while a chain costs tens of milliseconds per second of
audio (pitch shift and codecs the most; ``benchmarks/augment.py``): done on the fly, it would make
every epoch several times slower; cached, it is paid once and shared by every run with the same chain.

The variant ``v`` of a clip is drawn from a generator seeded by (``chain.seed``, ``v``, the clip's cache
key), each ingredient from its own child generator, so turning one ingredient on or off leaves the
others' draws as they were. A variant is made of at most the first :data:`VARIANT_SECONDS` of a
clip. The bank lives under ``cache_dir/variants/<key>/``: the key hashes the audio, feature and
chain settings and the background noise pool, so changing any of them starts another bank;
``rirs.npy`` and ``noise.npy`` there hold the simulated room responses and the noise pool.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundtag.audio import display_name, load_audio
from soundtag.audio.augment import (
    MP3_RATES,
    band_limit,
    codec_round_trip,
    mix_at_snr,
    pitch_shift,
    quiet_parts,
    random_eq,
    reverberate,
    room_simulator,
    saturate,
    shoebox_rir,
    time_stretch,
)
from soundtag.config import AudioConfig, ChainAugmentConfig, FeatureConfig, to_plain
from soundtag.data.cache import FeatureCache, default_cache_dir, file_key
from soundtag.data.corpus import Clip, find_audio_files
from soundtag.data.extract import ChunkResult, ExtractionReport, cache_features, shared_transform
from soundtag.errors import AudioError, SoundtagError
from soundtag.features import extract_batch
from soundtag.fileio import atomic_save_npy

VARIANT_FORMAT = 1

#: A variant is made of at most this many seconds from the start of its clip.
VARIANT_SECONDS = 30.0

#: The background pool takes at most this many files (clips of the corpus, or of the noise folder),
#: and at most NOISE_SECONDS of each.
NOISE_FILES = 64
NOISE_SECONDS = 10.0

log = logging.getLogger("soundtag.audio")


class VariantCache(FeatureCache):
    """The features of variant ``index`` of every clip of a bank, under ``<bank>/v<index>/``; an
    entry's name says whether its clip may be pitch-shifted and stretched (``pitched``), so a clip that
    changes class gets another entry."""

    def __init__(self, bank: VariantBank, index: int) -> None:
        self.root = bank.root / f"v{index}"
        self.audio = bank.audio
        self.features = bank.features
        self.index = index
        self.pitched = bank.pitched

    def entry(self, path: str | Path) -> Path:
        """Where the features of this variant of ``path`` live."""
        key = file_key(path)
        return self.root / key[:2] / f"{key}-{'p' if str(path) in self.pitched else 'n'}.npy"


@dataclass(frozen=True)
class VariantBank:
    """Where a bank lives and how its variants are made: ``pitched`` holds the clips (paths) that may
    be pitch-shifted and stretched."""

    root: Path
    chain: ChainAugmentConfig
    audio: AudioConfig
    features: FeatureConfig
    pitched: frozenset[str]

    def caches(self) -> list[VariantCache]:
        """One cache per variant."""
        return [VariantCache(self, index) for index in range(self.chain.variants)]

    def contains(self, path: str | Path) -> bool:
        """True when every variant of ``path`` is cached."""
        return all(cache.contains(path) for cache in self.caches())

    def augment(self, path: str | Path, signal: np.ndarray, index: int) -> np.ndarray:
        """Variant ``index`` of ``path``'s decoded ``signal``."""
        rng = np.random.default_rng([self.chain.seed, index, int(file_key(path), 16)])
        rirs = _read_array(str(self.root / "rirs.npy")) if self.chain.reverb > 0 else None
        noise = _read_array(str(self.root / "noise.npy")) if self.chain.noise > 0 else None
        return augment_chain(signal, rng, self.chain, self.audio.sample_rate, rirs, noise, str(path) in self.pitched)


@functools.lru_cache(maxsize=4)
def _read_array(path: str) -> np.ndarray:
    """A bank's ``rirs.npy`` or ``noise.npy``, read once per process."""
    return np.load(path, allow_pickle=False)


def augment_chain(signal: np.ndarray, rng: np.random.Generator, chain: ChainAugmentConfig, sample_rate: int,
                  rirs: np.ndarray | None, noise: np.ndarray | None, pitched: bool) -> np.ndarray:
    """``signal`` through one random recording chain, in the order sound meets it: the source's pitch
    and tempo (``pitched`` clips only), the room, the background, the microphone's colour and band,
    saturation, the codec. Each ingredient is on with its probability in ``chain``, and draws from its
    own child of ``rng``."""
    draws = dict(zip(chain.INGREDIENTS, rng.spawn(len(chain.INGREDIENTS))))

    def on(name: str) -> np.random.Generator | None:
        r = draws[name]
        return r if r.random() < getattr(chain, name) else None

    if pitched and (r := on("pitch")):
        signal = pitch_shift(signal, sample_rate, r.uniform(-chain.pitch_semitones, chain.pitch_semitones))
    if pitched and (r := on("stretch")):
        signal = time_stretch(signal, r.uniform(1 - chain.stretch_max, 1 + chain.stretch_max))
    if rirs is not None and (r := on("reverb")):
        signal = reverberate(signal, rirs[r.integers(len(rirs))])
    if noise is not None and len(noise) and (r := on("noise")):
        piece = np.take(noise, np.arange(len(signal)) + r.integers(len(noise)), mode="wrap")
        signal = mix_at_snr(signal, piece, r.uniform(*chain.snr_db))
    if r := on("eq"):
        signal = random_eq(signal, r, sample_rate, chain.eq_db)
    if r := on("band_limit"):
        signal = band_limit(signal, sample_rate, _log_uniform(r, chain.highpass_hz), _log_uniform(r, chain.lowpass_hz))
    if r := on("saturation"):
        signal = saturate(signal, r.uniform(0.0, chain.drive_db))
    if r := on("codec"):
        codec = "mp3" if sample_rate in MP3_RATES and r.random() < 0.5 else "ogg"
        signal = codec_round_trip(signal, sample_rate, codec, r.uniform(*chain.codec_compression))
    return signal


def _log_uniform(rng: np.random.Generator, interval: Sequence[float]) -> float:
    """A number drawn uniformly on a log scale between the ends of ``interval``."""
    return float(np.exp(rng.uniform(np.log(interval[0]), np.log(interval[1]))))


# --- the bank's shared parts: room responses and the background pool --------------------------------


def room_responses(chain: ChainAugmentConfig, sample_rate: int) -> np.ndarray:
    """``chain.rirs`` simulated room impulse responses (:func:`~soundtag.audio.augment.shoebox_rir`),
    reverberation times uniform in ``chain.rt60``, zero-padded into one (rirs, samples) array."""
    rng = np.random.default_rng([chain.seed, 1 << 20])  # a stream apart from the variants'
    rirs = [shoebox_rir(rng, sample_rate, rng.uniform(*chain.rt60)) for _ in range(chain.rirs)]
    bank = np.zeros((len(rirs), max(map(len, rirs))), dtype=np.float32)
    for row, rir in zip(bank, rirs):
        row[: len(rir)] = rir
    return bank


def noise_pool(chain: ChainAugmentConfig, clips: Sequence[str], audio: AudioConfig) -> np.ndarray:
    """The background to mix in, joined into one signal: the audio files of ``chain.noise_folder``, or
    without it the quiet parts (:func:`~soundtag.audio.augment.quiet_parts`) of ``clips``; at most
    :data:`NOISE_FILES` files, drawn with ``chain.seed``, :data:`NOISE_SECONDS` of each."""
    folder = chain.noise_folder
    sources = [str(p) for p in find_audio_files([folder])] if folder else sorted(clips)
    if folder and not sources:
        raise SoundtagError(f"{folder}: train.augment.chain.noise_folder holds no audio files")
    rng = np.random.default_rng([chain.seed, 1 << 21])
    chosen = sorted(rng.choice(sources, min(NOISE_FILES, len(sources)), replace=False)) if sources else []
    pieces = []
    for path in chosen:
        signal = load_audio(path, audio.sample_rate, quality=audio.resample_quality, max_seconds=NOISE_SECONDS)
        pieces.append(signal if folder else quiet_parts(signal, audio.sample_rate))
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, dtype=np.float32)


def bank_key(chain: ChainAugmentConfig, audio: AudioConfig, features: FeatureConfig, noise: np.ndarray | None) -> str:
    """A short hash of everything that changes a variant's values: the audio, feature and chain settings
    (not how many variants, nor how often they are used), the noise pool, and the room simulator's
    version (its rooms may change with it)."""
    settings = {k: v for k, v in to_plain(chain).items() if k not in ("variants", "clean_share")}
    payload = {"format": VARIANT_FORMAT, "audio": to_plain(audio), "features": to_plain(features), "chain": settings,
               "noise": hashlib.sha256(noise.tobytes()).hexdigest() if noise is not None else None,
               "rooms": room_simulator().__version__ if chain.reverb > 0 else None}
    text = json.dumps(payload, sort_keys=True)
    return f"{features.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def pitched_clips(clips: Iterable[Clip], chain: ChainAugmentConfig) -> frozenset[str]:
    """Paths of the clips that pitch shift and time stretch apply to: those with a label in
    ``chain.pitched_classes``, or every clip when it is empty."""
    wanted = set(chain.pitched_classes)
    return frozenset(str(c.path) for c in clips if not wanted or wanted & set(c.labels))


def open_bank(cache_dir: str | Path | None, audio: AudioConfig, features: FeatureConfig, chain: ChainAugmentConfig,
              clips: Sequence[Clip], labels: Sequence[str]) -> VariantBank:
    """The bank of ``clips`` for these settings, with its room responses and noise pool written on
    first use; a class of ``chain.pitched_classes`` that is not in ``labels`` is refused."""
    unknown = sorted(set(chain.pitched_classes) - set(labels))
    if unknown:
        raise SoundtagError(f"train.augment.chain.pitched_classes: {', '.join(unknown)} not among the corpus's "
                            f"{len(labels)} classes")
    noise = noise_pool(chain, [str(c.path) for c in clips], audio) if chain.noise > 0 else None
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = base / "variants" / bank_key(chain, audio, features, noise)
    if noise is not None and not (root / "noise.npy").is_file():
        atomic_save_npy(root / "noise.npy", noise)
    if chain.reverb > 0 and not (root / "rirs.npy").is_file():
        atomic_save_npy(root / "rirs.npy", room_responses(chain, audio.sample_rate))
    return VariantBank(root, chain, audio, features, pitched_clips(clips, chain))


def extract_variants(paths: Sequence[str], audio: AudioConfig, features: FeatureConfig, bank: VariantBank
                     ) -> ChunkResult:
    """Decode ``paths`` (at most :data:`VARIANT_SECONDS` of each), make their missing variants and cache
    their features, featurised as one packed batch; a file that fails is listed with its reason."""
    transform = shared_transform(audio, features)
    seconds = min(audio.max_seconds or VARIANT_SECONDS, VARIANT_SECONDS)
    made: list[tuple[VariantCache, str, np.ndarray]] = []
    result = ChunkResult([], [], [])
    for path in paths:
        try:
            signal = load_audio(path, audio.sample_rate, quality=audio.resample_quality, max_seconds=seconds)
            made.extend((cache, path, bank.augment(path, signal, cache.index))
                        for cache in bank.caches() if not cache.contains(path))
        except AudioError as exc:
            result.failed.append((path, exc.problem))
            continue
        result.done.append((path, len(signal) / audio.sample_rate))
    for (cache, path, _), feats in zip(made, extract_batch(transform, [signal for *_, signal in made])):
        cache.save(path, feats)
    return result


def cache_variants(bank: VariantBank, paths: Sequence[str | Path], *, num_workers: int = 2,
                   progress: bool = True) -> ExtractionReport:
    """Make sure every clip of ``paths`` has all its variants cached in ``bank``; report what happened."""
    report = cache_features(paths, bank.audio, bank.features, bank, num_workers=num_workers, progress=progress,
                            extract=extract_variants, desc="variants")
    for path, problem in report.failures:
        log.warning("%s: no augmented variants (%s); its clean features are used", display_name(path), problem)
    return report
