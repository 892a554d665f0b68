"""Noisy-label benchmark on fsd-mini: the DCASE 2018 recipe (soundtag experiment) stage by stage,
and label spreading over autoencoder latents against the plain MFCC-statistics reference.

    python -m benchmarks.noisy_labels [--config configs/experiment-fsd-mini.yaml] [--out-dir DIR]
                                      [--cache-dir DIR] [--append benchmarks/RESULTS.md]

Targets (issue 5): (c) promoted beats (a) all labels and (b) verified; (e) the ensemble beats every
single model; promoted-label precision >= 0.95 while promoting >= 30 % of the unverified clips.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import BENCH_DIR, append_section, experiment_parser, section_header
from soundtag.config import load_config
from soundtag.experiment import run_experiment
from soundtag.reports import ExperimentSummary

SINGLE = ("all_labels", "verified", "promoted", "selftrain")


def stage_table(summary: ExperimentSummary) -> pd.DataFrame:
    """Test MAP@3, accuracy and minutes of every stage."""
    return pd.DataFrame([{"stage": name, "test MAP@3": round(s.map3, 4), "test accuracy": round(s.accuracy, 4),
                          "minutes": round(summary.seconds.get(name, 0.0) / 60, 1)}
                         for name, s in summary.stages.items()])


def spreading_table(out: Path) -> pd.DataFrame:
    """Per scheme: share promoted, precision, wrong labels caught, for latents and the reference."""
    rows = []
    for name, folder in (("autoencoder latents", out), ("MFCC mean/std reference", out / "reference-mfcc")):
        frame = pd.read_csv(folder / "spread-compare.csv")
        for _, row in frame.iterrows():
            rows.append({"embedding": name, "scheme": row["scheme"], "promoted": int(row["promoted"]),
                         "promoted % of unverified": row["promoted_pct"],
                         "precision": row["promoted_precision"], "wrong labels caught %": row["wrong_caught_pct"]})
    return pd.DataFrame(rows)


def targets(summary: ExperimentSummary, spreading: pd.DataFrame, embedding: str, scheme: str) -> list[str]:
    """One line per target, met or missed."""
    s = {k: v.map3 for k, v in summary.stages.items()}
    chosen = spreading[(spreading["embedding"] == embedding) & (spreading["scheme"] == scheme)].iloc[0]
    checks = [
        ("(c) promoted beats (a) all labels and (b) verified", s["promoted"] > max(s["all_labels"], s["verified"])),
        ("(e) ensemble beats every single model", s["ensemble"] > max(s[k] for k in SINGLE)),
        (f"promoted precision >= 0.95 with >= 30 % promoted ({embedding}, scheme {scheme}: "
         f"{chosen['precision']:.3f} at {chosen['promoted % of unverified']:.1f} %)",
         chosen["precision"] >= 0.95 and chosen["promoted % of unverified"] >= 30),
    ]
    return [f"- {'met' if ok else 'MISSED'}: {text}" for text, ok in checks]


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    parser = experiment_parser(__doc__.splitlines()[0], root / "configs" / "experiment-fsd-mini.yaml", str(BENCH_DIR / "noisy-labels"))
    args = parser.parse_args()
    config = load_config(args.config, [f"data.cache_dir={args.cache_dir}", *args.overrides])
    start = time.perf_counter()
    summary = run_experiment(config, args.out, progress=False)
    minutes = (time.perf_counter() - start) / 60
    stages, spreading = stage_table(summary), spreading_table(Path(args.out))
    text = (section_header("Noisy labels: the DCASE 2018 recipe on fsd-mini (benchmarks/noisy_labels.py)")
            + f"- config: `{Path(args.config).name}` {' '.join(args.overrides)}; whole run {minutes:.1f} min; "
              f"spreading over `{config.clean.embedding}`, scheme `{config.clean.groups}`\n\n"
            + "### Stages (test split)\n\n" + stages.to_markdown(index=False) + "\n\n"
            + "### Label spreading per group scheme (train_truth.csv scores the promoted labels)\n\n"
            + spreading.to_markdown(index=False) + "\n\n### Targets\n\n"
            + "\n".join(targets(summary, spreading, "autoencoder latents", config.clean.groups)
                        + targets(summary, spreading, "MFCC mean/std reference", config.clean.groups)[2:]) + "\n")
    print(text)
    print(json.dumps(summary.to_dict()["stages"], default=float))
    if args.append:
        append_section(Path(args.append), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
