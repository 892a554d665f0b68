"""A convolutional autoencoder that compresses a clip's spectrogram to a latent vector (the 2018 recipe:
4096-d, MSE, Adam 1e-5, batch 16, early stopping). Its latents feed label spreading.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from soundtag.config import RunConfig
from soundtag.data import Clip, FeatureCache, cache_features, read_corpus
from soundtag.errors import SoundtagError
from soundtag.features import build_transform
from soundtag.features import functional as Fn
from soundtag.fileio import atomic_write
from soundtag.runs import RunFolder, open_run, run_logger
from soundtag.training import EpochLoop, TrainResult, feature_bins, resolve_device, seed_everything

LATENTS_FILE = "latents.npz"


class ConvAutoencoder(nn.Module):
    """Strided conv encoder -> linear latent -> linear -> transposed-conv decoder, on inputs of
    (batch, bins, frames) standardised by statistics stored with the weights.
    """

    def __init__(self, bins: int, frames: int, channels: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        self.shape = (bins, frames)
        self.register_buffer("input_mean", torch.zeros(()))
        self.register_buffer("input_std", torch.ones(()))
        encoder, previous = [], 1
        for width in channels:
            encoder += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.BatchNorm2d(width),
                        nn.LeakyReLU(0.1, inplace=True)]
            previous = width
        self.encoder = nn.Sequential(*encoder)
        with torch.no_grad():
            self.code_shape = tuple(self.encoder(torch.zeros(1, 1, bins, frames)).shape[1:])
        flat = int(np.prod(self.code_shape))
        self.to_latent = nn.Linear(flat, latent_dim)
        self.from_latent = nn.Linear(latent_dim, flat)
        decoder = []
        for width, narrower in zip(reversed(channels), list(reversed(channels))[1:] + [16]):
            decoder += [nn.ConvTranspose2d(width, narrower, 4, stride=2, padding=1), nn.BatchNorm2d(narrower),
                        nn.LeakyReLU(0.1, inplace=True)]
        decoder.append(nn.Conv2d(16, 1, 3, padding=1))
        self.decoder = nn.Sequential(*decoder)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs in the units the network sees and reconstructs."""
        return (x - self.input_mean) / self.input_std

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent vectors of (batch, bins, frames) inputs."""
        return self.to_latent(self.encoder(self.normalise(x).unsqueeze(1)).flatten(1))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Reconstructions (normalised units) of latent vectors."""
        code = self.from_latent(latent).view(-1, *self.code_shape)
        out = self.decoder(code)
        return F.interpolate(out, size=self.shape, mode="bilinear", align_corners=False)[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def input_frames(config: RunConfig) -> int:
    """The fixed width clips are resized to: the feature's own (the 2018 spectrogram's), else the config's."""
    return build_transform(config.features, config.audio.sample_rate).fixed_frames or config.autoencoder.input_frames


class ResizedClips(Dataset):
    """Whole cached clips resized along time to a fixed width (as the 2018 recipe resized its spectrograms)."""

    def __init__(self, cache: FeatureCache, paths: Sequence[str], frames: int) -> None:
        self.cache = cache
        self.paths = list(paths)
        self.frames = frames

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        features = self.cache.load(self.paths[index])
        if features is None:
            raise SoundtagError(f"{self.paths[index]}: has no cached features")
        return Fn.resize_time(torch.from_numpy(features)[None], self.frames)[0]


class AutoencoderTrainer(EpochLoop):
    """MSE training of a :class:`ConvAutoencoder`; the best epoch has the lowest validation loss."""

    metrics_columns = ["epoch", "loss", "val_loss", "seconds"]

    def __init__(self, config: RunConfig, model: ConvAutoencoder, train: ResizedClips, val: ResizedClips,
                 run_dir: Path, progress: bool = True, logger=None) -> None:
        self.config = config
        self.device = resolve_device(config.train.device)
        model = model.to(self.device)
        ae = config.autoencoder
        super().__init__(model, torch.optim.Adam(model.parameters(), lr=ae.lr), run_dir, ae.epochs, ae.patience,
                         config.seed, logger, progress)
        self.train_set, self.val_set = train, val

    def score(self, row: dict[str, float]) -> float:
        return -row["val_loss"] if not np.isnan(row["val_loss"]) else -row["loss"]

    def run_epoch(self, epoch: int) -> dict[str, float]:
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(len(self.train_set), generator=generator).tolist()
        loader = DataLoader(self.train_set, batch_size=self.config.autoencoder.batch_size, sampler=order)
        self.model.train()
        total, seen = 0.0, 0
        bar_off = None if self.progress else True  # None: off unless stderr is a terminal
        for batch in tqdm(loader, desc=f"autoencoder epoch {epoch}", unit="batch", disable=bar_off, leave=False):
            batch = batch.to(self.device)
            loss = F.mse_loss(self.model(batch), self.model.normalise(batch))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(batch)
            seen += len(batch)
        return {"epoch": epoch, "loss": total / max(seen, 1), "val_loss": self.validation_loss(),
                "seconds": time.perf_counter() - start}

    @torch.inference_mode()
    def validation_loss(self) -> float:
        """Mean MSE over the validation clips (NaN without any)."""
        if not len(self.val_set):
            return float("nan")
        self.model.eval()
        total = 0.0
        for batch in DataLoader(self.val_set, batch_size=self.config.autoencoder.batch_size):
            batch = batch.to(self.device)
            total += F.mse_loss(self.model(batch), self.model.normalise(batch), reduction="sum").item() / batch[0].numel()
        return total / len(self.val_set)


@torch.inference_mode()
def input_statistics(dataset: ResizedClips) -> tuple[float, float]:
    """Mean and standard deviation of every input value, streamed over the dataset."""
    count, total, squares = 0, 0.0, 0.0
    for item in DataLoader(dataset, batch_size=32):
        count += item.numel()
        total += float(item.double().sum())
        squares += float(item.double().square().sum())
    mean = total / count
    return mean, max(float(np.sqrt(max(squares / count - mean**2, 0.0))), 1e-6)


@dataclass
class Latents:
    """Latent vectors of the train clips, with their given labels, verified flags and names."""

    fnames: np.ndarray
    labels: np.ndarray
    verified: np.ndarray
    vectors: np.ndarray

    def save(self, path: str | Path) -> None:
        """Write as ``.npz`` (no pickled objects) atomically."""
        with atomic_write(path, "wb") as handle:
            np.savez(handle, fnames=self.fnames.astype(str), labels=self.labels.astype(str),
                     verified=self.verified.astype(bool), vectors=self.vectors.astype(np.float32))

    @classmethod
    def load(cls, path: str | Path) -> Latents:
        """Read latents written by :meth:`save`, refusing anything else (or rows that disagree) by name."""
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with data:
                latents = cls(data["fnames"], data["labels"], data["verified"], data["vectors"])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise SoundtagError(f"{path}: not a latents file ({exc or type(exc).__name__})") from None
        rows = {len(latents.fnames), len(latents.labels), len(latents.verified), len(latents.vectors)}
        if len(rows) != 1 or latents.vectors.ndim != 2:
            raise SoundtagError(f"{path}: not a latents file (names, labels, flags and vectors disagree in length)")
        return latents


@torch.inference_mode()
def encode_clips(model: ConvAutoencoder, dataset: ResizedClips, device: torch.device, batch_size: int = 32
                 ) -> np.ndarray:
    """Latent vectors of every clip of ``dataset``, in order."""
    model.eval()
    return np.concatenate([model.encode(batch.to(device)).cpu().numpy()
                           for batch in DataLoader(dataset, batch_size=batch_size)])


@dataclass
class AutoencoderRun:
    """A trained autoencoder with the clips it saw, ready for pictures and spreading."""

    model: ConvAutoencoder
    clips: list[Clip]
    dataset: ResizedClips
    result: TrainResult
    latents: Latents


def train_autoencoder(config: RunConfig, run_dir: str | Path, progress: bool = True) -> AutoencoderRun:
    """Train (or resume, when ``run_dir`` holds this config's run) and write the train latents."""
    with open_run(run_dir, config) as (folder, config, _):
        return _train_autoencoder(config, folder, progress)


def _train_autoencoder(config: RunConfig, folder: RunFolder, progress: bool) -> AutoencoderRun:
    seed_everything(config.seed)
    corpus = read_corpus(config.data.corpus)
    cache = FeatureCache(config.data.cache_dir, config.audio, config.features)
    report = cache_features([c.path for c in corpus.train], config.audio, config.features, cache,
                            num_workers=config.data.num_workers, progress=progress)
    failed = {path for path, _ in report.failures}
    clips = [c for c in corpus.train if str(c.path) not in failed]
    if not clips:
        raise SoundtagError(f"{config.data.corpus}: no train clip could be read for the autoencoder")
    frames = input_frames(config)
    everything = ResizedClips(cache, [str(c.path) for c in clips], frames)
    val_count = int(round(config.autoencoder.val_fraction * len(clips)))
    order = np.random.default_rng(config.seed).permutation(len(clips))
    val_paths = {str(clips[i].path) for i in order[:val_count]}
    train_set = ResizedClips(cache, [p for p in everything.paths if p not in val_paths], frames)
    val_set = ResizedClips(cache, [p for p in everything.paths if p in val_paths], frames)
    ae = config.autoencoder
    model = ConvAutoencoder(feature_bins(config), frames, ae.channels, ae.latent_dim)
    mean, std = input_statistics(train_set)
    model.input_mean.fill_(mean)
    model.input_std.fill_(std)
    with run_logger(folder, name="soundtag.autoencoder") as logger:
        logger.info("autoencoder: %d train / %d validation clips of %dx%d, latent %d", len(train_set),
                    len(val_set), feature_bins(config), frames, ae.latent_dim)
        trainer = AutoencoderTrainer(config, model, train_set, val_set, folder.path, progress, logger)
        if folder.last_path.exists():
            trainer.resume()
        result = trainer.fit()
        trainer.load_best()
    latents = Latents(np.array([c.fname for c in clips]), np.array([str(c.label) for c in clips]),
                      np.array([bool(c.verified) for c in clips]), encode_clips(model, everything, trainer.device))
    latents.save(folder.path / LATENTS_FILE)
    return AutoencoderRun(model, clips, everything, result, latents)
