"""The run folder: the one owner of its layout, of resume-or-refuse, of the writer's lock and of the
manifest that lets a reader trust ``config.yaml`` and ``label_map.json``.

A run folder holds ``config.yaml`` (which reproduces the run), ``manifest.json`` (soundtag version,
digests of the config and label map, number of model outputs, the run it was fine-tuned from),
``label_map.json``, ``metrics.csv``, ``best.pt``, ``last.pt``, ``train.log``, ``curves.png``,
``thresholds.json`` for a multi-label run (per-class tagging thresholds; its digest and ``multi_label``
in the manifest), ``eval-<split>/`` once evaluated and, while a process writes it, ``.soundtag.lock``.

>>> folder = RunFolder("runs/demo")
>>> folder.best_path.name, folder.config_path.name
('best.pt', 'config.yaml')
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundtag import __version__
from soundtag.config import RunConfig, config_from_dict, load_config, read_yaml, save_config
from soundtag.errors import SoundtagError
from soundtag.fileio import atomic_write_text

if TYPE_CHECKING:
    from soundtag.data import LabelMap

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "manifest.json"
LABEL_MAP_FILE = "label_map.json"
SPLIT_FILE = "split.csv"  # fname,split of a corpus whose test split was drawn (class folders without test/)
THRESHOLDS_FILE = "thresholds.json"
METRICS_FILE = "metrics.csv"
LOG_FILE = "train.log"
CURVES_FILE = "curves.png"
BEST_CHECKPOINT = "best.pt"
LAST_CHECKPOINT = "last.pt"
LOCK_FILE = ".soundtag.lock"

# Fields a resumed run may change: how long it trains, and settings that change neither the model
# nor the data it sees (where it runs, how many workers, how tagging reads it).
EXTENDABLE_FIELDS = ("train.epochs", "train.patience", "train.device", "train.num_workers", "data.num_workers",
                     "data.cache_dir")
EXTENDABLE_SECTIONS = ("tag",)


class RunLockedError(SoundtagError):
    """Another live process is writing the run folder."""


@dataclass(frozen=True)
class RunFolder:
    """Paths of one run folder and the checked reads of what it holds."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_FILE

    @property
    def label_map_path(self) -> Path:
        return self.path / LABEL_MAP_FILE

    @property
    def thresholds_path(self) -> Path:
        return self.path / THRESHOLDS_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def log_path(self) -> Path:
        return self.path / LOG_FILE

    @property
    def curves_path(self) -> Path:
        return self.path / CURVES_FILE

    @property
    def best_path(self) -> Path:
        return self.path / BEST_CHECKPOINT

    @property
    def last_path(self) -> Path:
        return self.path / LAST_CHECKPOINT

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    def evaluation_dir(self, split: str, corpus: str | None = None) -> Path:
        """Where the scores of this run on a corpus split go: ``eval-<split>/`` for the run's own corpus,
        ``eval-<split>-<corpus>/`` for another corpus (its folder name, odd characters as ``_``), so
        scoring another corpus never overwrites the run's own scores."""
        if corpus is None:
            return self.path / f"eval-{split}"
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", corpus).strip("._") or "corpus"
        return self.path / f"eval-{split}-{name}"

    def checkpoint_path(self, name: str = BEST_CHECKPOINT) -> Path:
        """A checkpoint of this run by file name (a name that leaves the folder is refused)."""
        if not name or Path(name).name != name or name in (".", ".."):
            raise SoundtagError(f"--checkpoint {name!r}: give the file name of a checkpoint inside {self.path}")
        return self.path / name

    def is_run(self) -> bool:
        """True when the folder holds a soundtag run (a config, with a manifest or a label map beside it)."""
        return self.config_path.is_file() and (self.manifest_path.is_file() or self.label_map_path.is_file())

    def require_run(self) -> RunFolder:
        """This folder, or a one-line error saying it is not a run."""
        if not self.path.is_dir():
            raise SoundtagError(f"{self.path}: not a run folder (no such folder)")
        if not self.config_path.is_file():
            raise SoundtagError(f"{self.path}: not a run folder (no {CONFIG_FILE})")
        return self

    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or None for a run written before manifests existed."""
        if not self.manifest_path.is_file():
            return None
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SoundtagError(f"{self.manifest_path}: unreadable run manifest ({exc})") from None
        if not isinstance(manifest, dict):
            raise SoundtagError(f"{self.manifest_path}: unreadable run manifest (not a JSON object)")
        return manifest

    def read_config(self) -> RunConfig:
        """The run's config, refused when it was edited after the run was written."""
        self.require_run()
        self._check_digest(self.config_path, "config_sha256")
        return load_config(self.config_path)

    def read_label_map(self) -> LabelMap:
        """The run's label map, refused when it was edited, truncated or does not fit the model."""
        if not self.label_map_path.is_file():
            raise SoundtagError(f"{self.label_map_path}: label map missing; the run is incomplete")
        from soundtag.data import LabelMap  # pandas and torch: only for readers of label maps

        manifest = self._check_digest(self.label_map_path, "label_map_sha256")
        label_map = LabelMap.load(self.label_map_path)
        outputs = manifest.get("n_outputs") if manifest else None
        if outputs is not None and outputs != len(label_map):
            raise SoundtagError(f"{self.label_map_path}: lists {len(label_map)} labels but the model has {outputs} "
                                "outputs")
        return label_map

    def best_score(self) -> float:
        """The validation score of ``best.pt``."""
        from soundtag.training.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(self.best_path)
        score = checkpoint.get("score") if isinstance(checkpoint, dict) else None
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise SoundtagError(f"{self.best_path}: not a soundtag best.pt (it has no numeric 'score' entry)")
        return float(score)

    def write_config(self, config: RunConfig) -> None:
        """Save ``config`` and record its digest in the manifest."""
        save_config(config, self.config_path)
        self._update_manifest(config_sha256=file_digest(self.config_path))

    def write_label_map(self, label_map: LabelMap, multi_label: bool = False) -> None:
        """Save ``label_map`` and record its digest and size in the manifest, and for a ``multi_label`` run
        (outputs independent per class: sigmoid) ``multi_label: true`` (a single-label run's manifest is as
        it always was: its outputs compete, softmax)."""
        label_map.save(self.label_map_path)
        self._update_manifest(label_map_sha256=file_digest(self.label_map_path), n_outputs=len(label_map),
                              **({"multi_label": True} if multi_label else {}))

    def is_multi_label(self) -> bool:
        """Whether the run's outputs are one sigmoid per class (False for runs written before the
        manifest said)."""
        manifest = self.read_manifest()
        return bool(manifest.get("multi_label", False)) if manifest else False

    def write_thresholds(self, thresholds: dict[str, float], note: str = "") -> None:
        """Save a multi-label run's per-class tagging thresholds (label -> threshold, what ``tag`` uses)
        and record their digest in the manifest."""
        data = {"thresholds": {label: round(float(t), 4) for label, t in thresholds.items()}, "note": note}
        atomic_write_text(self.thresholds_path, json.dumps(data, indent=1) + "\n")
        self._update_manifest(thresholds_sha256=file_digest(self.thresholds_path))

    def read_thresholds(self, labels: list[str]) -> dict[str, float] | None:
        """The per-class thresholds of the run's ``labels``, or None when the run has none; refused when
        edited after the run wrote them, or when they do not name exactly these labels with values in [0, 1]."""
        if not self.thresholds_path.is_file():
            return None
        self._check_digest(self.thresholds_path, "thresholds_sha256")
        try:
            values = json.loads(self.thresholds_path.read_text(encoding="utf-8"))["thresholds"]
            values = {str(k): float(v) for k, v in values.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SoundtagError(f"{self.thresholds_path}: unreadable thresholds ({exc})") from None
        if sorted(values) != sorted(labels) or not all(0.0 <= v <= 1.0 for v in values.values()):
            raise SoundtagError(f"{self.thresholds_path}: does not hold one threshold in [0, 1] for each of the "
                                f"run's {len(labels)} labels")
        return values

    def record_init_from(self, source: RunFolder, best_sha256: str) -> None:
        """Record in the manifest the run this one started from (``train.init_from``): the source folder and
        the SHA-256 of the ``best.pt`` whose weights were loaded."""
        self._update_manifest(init_from={"run": str(source.path.resolve()), "best_sha256": best_sha256})

    def _update_manifest(self, **fields: Any) -> None:
        manifest = self.read_manifest() or {}
        manifest.update(fields, soundtag_version=__version__)
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    def _check_digest(self, path: Path, key: str) -> dict[str, Any] | None:
        """The manifest, after checking that ``path`` is the file it recorded under ``key``."""
        manifest = self.read_manifest()
        if manifest is not None and key in manifest and file_digest(path) != manifest[key]:
            raise SoundtagError(f"{path}: changed after the run was written (its digest differs from "
                                f"{MANIFEST_FILE}); restore it or train a new run")
        return manifest


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise SoundtagError(f"{path}: cannot read ({exc.strerror})") from None


# --- resume or refuse ----------------------------------------------------------------------------

def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` (lists stay values)."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def differing_keys(old: RunConfig, new: RunConfig) -> list[str]:
    """Dotted keys whose values differ between two configs, in config order."""
    a, b = flatten(old.to_dict()), flatten(new.to_dict())
    return [key for key in dict.fromkeys([*a, *b]) if a.get(key, _MISSING) != b.get(key, _MISSING)]


_MISSING = object()


def _describe(keys: list[str], most: int = 3) -> str:
    shown = ", ".join(keys[:most])
    return shown + (f" and {len(keys) - most} more" if len(keys) > most else "")


def check_extension(old: RunConfig, new: RunConfig, run_dir: Path) -> None:
    """Refuse a change to a resumed run other than its epoch budget and settings that change neither
    the model nor the data."""
    changed = [key for key in differing_keys(old, new)
               if key not in EXTENDABLE_FIELDS and key.split(".")[0] not in EXTENDABLE_SECTIONS]
    if changed:
        raise SoundtagError(f"{run_dir}: a resumed run may change only {', '.join(EXTENDABLE_FIELDS)} and tag.*; "
                            f"{_describe(changed)} would change the model or its data; train a new run instead")


def _occupied(path: Path) -> bool:
    """True when ``path`` is a folder holding anything but a lock file."""
    return path.is_dir() and any(child.name != LOCK_FILE for child in path.iterdir())


@contextlib.contextmanager
def open_run(path: str | Path, config: RunConfig | None = None, extend: list[str] | None = None,
             may_change: tuple[str, ...] = ()) -> Iterator[tuple[RunFolder, RunConfig, bool]]:
    """Open a run folder for writing: ``(folder, config, resuming)`` while its lock is held.

    With ``config``: a new or empty folder starts a run of it; a folder holding a run of the very same
    config resumes it; a run of another config is refused, naming the first keys that differ; a folder
    that holds files but no soundtag run is refused and left untouched. Without ``config`` the folder's
    own run is resumed, with ``extend`` (``--set`` overrides) applied where :func:`check_extension`
    allows. Sections named in ``may_change`` may differ on a resumed run (e.g. the experiment's second
    recipe, whose stages have folders of their own); the folder then records the new config.
    """
    folder = RunFolder(path)
    if config is None:
        folder.require_run()
    else:
        _refuse_foreign(folder)
    with hold_lock(folder):
        if config is None:
            config, resuming = _resumed_config(folder, extend or []), True
        else:
            resuming = _resumes(folder, config, may_change)
        if not resuming or extend or may_change:
            folder.write_config(config)
        yield folder, config, resuming


def _refuse_foreign(folder: RunFolder) -> None:
    """Refuse, before anything is written there, a path that is a file or a folder holding other files."""
    if folder.path.exists() and not folder.path.is_dir():
        raise SoundtagError(f"{folder.path}: exists and is not a folder")
    if not _occupied(folder.path):
        return
    if not folder.config_path.is_file():
        raise SoundtagError(f"{folder.path}: holds files but no soundtag run; choose an empty or new folder")
    try:
        config_from_dict(read_yaml(folder.config_path))
    except SoundtagError as exc:
        raise SoundtagError(f"{folder.path}: holds a {CONFIG_FILE} that is not a soundtag run's ({exc}); "
                            "choose an empty or new folder") from None


def _resumes(folder: RunFolder, config: RunConfig, may_change: tuple[str, ...] = ()) -> bool:
    """Whether ``folder`` already holds a run of ``config`` (else it must be new or empty)."""
    _refuse_foreign(folder)
    if not _occupied(folder.path):
        return False
    changed = [key for key in differing_keys(folder.read_config(), config) if key.split(".")[0] not in may_change]
    if changed:
        raise SoundtagError(f"{folder.path}: already holds a run of another config ({_describe(changed)} differ); "
                            f"use --resume {folder.path} or another --out-dir")
    return True


def _resumed_config(folder: RunFolder, extend: list[str]) -> RunConfig:
    """The folder's own config with the allowed ``--set`` overrides applied."""
    saved = folder.read_config()
    if not extend:
        return saved
    extended = load_config(folder.config_path, extend)
    check_extension(saved, extended, folder.path)
    return extended


# --- the writer's lock ---------------------------------------------------------------------------

@contextlib.contextmanager
def hold_lock(folder: RunFolder) -> Iterator[None]:
    """Hold the run folder's exclusive lock: an ``flock`` on ``.soundtag.lock`` holding this process's
    pid and host. The kernel releases it when its owner dies (even by kill -9), so a dead owner's lock
    is taken over; a live owner's is refused with a line naming it.
    """
    folder.path.mkdir(parents=True, exist_ok=True)
    handle = _acquire(folder.lock_path)
    try:
        handle.truncate(0)
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n")
        handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            folder.lock_path.unlink()
        handle.close()


def _acquire(lock_path: Path):
    """The open, flocked lock file (retrying when the file was replaced while we waited)."""
    for _ in range(10):
        handle = open(lock_path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise SoundtagError(f"{lock_path}: cannot lock the run folder ({exc.strerror})") from None
            raise RunLockedError(f"{lock_path.parent}: in use by {_owner(lock_path)}; wait for it to finish "
                                 f"(or, if it is gone, delete {lock_path})") from None
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            handle.seek(0)
            return handle
        handle.close()  # the previous owner removed the file between our open and our lock
    raise RunLockedError(f"{lock_path.parent}: its lock file keeps changing; is another process starting runs here?")


def _owner(lock_path: Path) -> str:
    """'process PID on HOST' as the lock file records it."""
    try:
        owner = json.loads(lock_path.read_text(encoding="utf-8"))
        return f"process {owner['pid']} on {owner['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


# --- logging -------------------------------------------------------------------------------------

@contextlib.contextmanager
def run_logger(folder: RunFolder, name: str = "soundtag.training",
               writes: bool = True) -> Iterator[logging.Logger]:
    """The logger ``name`` (a child of ``soundtag``) at INFO, appending to the run's ``train.log`` while a run
    is written. Its records also propagate to the ``soundtag`` logger, which a host program routes as it
    likes (the command line sends them to stderr); ``writes=False`` (processes of a distributed run other
    than rank 0) makes it silent.
    """
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    if not writes:
        logger.addFilter(_drop_record)
        try:
            yield logger
        finally:
            logger.removeFilter(_drop_record)
        return
    handler = logging.FileHandler(folder.log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


def _drop_record(record: logging.LogRecord) -> bool:
    """A logger filter that lets no record through (nor propagate)."""
    return False
