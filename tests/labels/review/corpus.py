"""A tiny FSDKaggle2018-layout corpus for the review tests: three classes of tones, some unverified
clips labelled wrongly, and a ranking table of its unverified clips made without the cleaners."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from tests.helpers import write_rows

RATE = 16000
TONES = {"Bark": 300.0, "Cough": 1200.0, "Flute": 4000.0}
WRONG = {"u-Bark-2.wav": "Flute", "u-Cough-2.wav": "Bark", "u-Flute-2.wav": "Cough"}
"""Unverified clips whose given label is wrong (clip of the class in its name, labelled as the value)."""


def make_review_corpus(root: Path, per_class: int = 4, unverified: int = 3) -> Path:
    """``root`` filled with ``per_class`` verified and ``unverified`` unverified 0.4-s clips per class (the
    second unverified clip of each class labelled wrongly) and one test clip per class."""
    rng = np.random.default_rng(0)
    (root / "audio_train").mkdir(parents=True, exist_ok=True)
    (root / "audio_test").mkdir(exist_ok=True)
    rows, test_rows = [], []
    for label, freq in TONES.items():
        names = [(f"v-{label}-{i}.wav", 1) for i in range(per_class)]
        names += [(f"u-{label}-{i}.wav", 0) for i in range(unverified)]
        for name, verified in names:
            t = np.arange(int(0.4 * RATE)) / RATE
            tone = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.02 * rng.standard_normal()) * t)
            sf.write(root / "audio_train" / name, (tone + 0.01 * rng.standard_normal(len(t))).astype(np.float32), RATE)
            rows.append([name, WRONG.get(name, label), str(verified)])
        sf.write(root / "audio_test" / f"t-{label}.wav", (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), RATE)
        test_rows.append([f"t-{label}.wav", label, "Public"])
    write_rows(root / "train.csv", ["fname", "label", "manually_verified"], rows)
    write_rows(root / "test.csv", ["fname", "label", "usage"], test_rows)
    return root


def synthetic_ranking(fnames: list[str], given: list[str], labels: list[str], seed: int = 0) -> pd.DataFrame:
    """A ranking table of the columns :func:`soundtag.labels.review.ranking.rank_unverified` writes, with
    made-up scores (most doubted first), for tests of the page that need no cleaner."""
    rng = np.random.default_rng(seed)
    n = len(fnames)
    doubt = np.sort(rng.uniform(0, 1, n))[::-1]
    table = pd.DataFrame({"fname": fnames, "given": given, "label_quality": 1 - doubt, "cl_doubts": doubt > 0.6,
                          "spread_doubts": (doubt > 0.5).astype(float), "model_probability": np.nan,
                          "model_doubts": False, "doubt": doubt})
    for k in range(3):
        table[f"suggestion_{k + 1}"] = [labels[(i + k) % len(labels)] for i in range(n)]
        table[f"probability_{k + 1}"] = round(0.6 / (k + 1), 4)
    return table
