#!/usr/bin/env python3
"""Build the small, redistributable demo corpus ``data/demo/`` from ``fsd-mini``.

The demo corpus keeps the FSDKaggle2018 layout of its source (``train.csv``,
``audio_train/``, ``test.csv``, ``audio_test/``, ``train_truth.csv``,
``VOCABULARY.txt``) and adds ``ATTRIBUTION.csv``, ``LICENSE.md`` and
``README.md``.  FLAC files are copied byte for byte; nothing is re-encoded.

Usage (from the repository root)::

    python scripts/make_demo_corpus.py                 # ../shared/datasets/fsd-mini -> data/demo
    python scripts/make_demo_corpus.py --overwrite     # rebuild an existing data/demo

Which clips may ship
--------------------
fsd-mini mixes material under very different terms (see its ``LICENSE.md``).
A clip is kept only when *both* of the following hold:

1. **Its own licence is permissive.**  ``provenance.csv:licence`` must be MIT,
   CC0, CC BY or CC BY-SA (any version).  ESC-50 rows read
   ``"<clip licence>; ESC-50 compilation CC BY-NC 3.0"``: the part before the
   ``;`` is the licence of the Freesound recording the clip was cut from, and
   that is the licence judged here (the NC term covers the ESC-50 *compilation*,
   which the demo does not redistribute; ESC-50 is still credited).  Anything
   else is rejected: CC BY-NC, CC Sampling+, GPL, and every "no licence
   stated" / "none stated" source.  The clip's attribution text must not name
   a BY-NC licence either.

2. **Its background, if any, is permissive too.**  70 % of the rendered clips
   had a real ambience clip mixed in; their ``attribution`` reads
   ``"background: <id>.wav at <N> dB SNR"``.  ``<id>`` is an fsd-mini clip id
   (the 8-hex-digit stem every fsd-mini file is named by), so the background is
   resolved by looking ``<id>.flac`` up in ``provenance.csv:fname``.  Of the
   69 distinct background ids, 12 resolve this way (all ESC-50 ambience clips:
   rain, thunderstorm, helicopter, insects, engine, airplane, ...); the other 57
   are not in ``provenance.csv`` (``source_id``, ``path`` and ``repo`` do not
   name them either), so their licence is unknown and every clip mixed with
   one of them is excluded.  A resolved background must itself pass rule 1;
   this drops the two CC BY-NC airplane recordings (``f8631015``,
   ``94b40e77``).  ``"no background"`` is fine.  Kept backgrounds are credited
   in ``ATTRIBUTION.csv`` (``background_*`` columns) next to the clip.

Labels
------
``train.csv``, ``train_truth.csv`` and ``test.csv`` of fsd-mini are the only
source of labels: demo train rows are copied verbatim, so noisy labels and
``manually_verified`` flags stay exactly as in fsd-mini, including unverified
clips whose true class is another vocabulary class or lies outside the
vocabulary (open-set noise).  ``provenance.csv`` is used for licences and
attribution only: its ``split``/``noisy_label`` columns predate fsd-mini's
second labelling stage and disagree with the CSVs for some clips.

A train clip is kept when its *given* label is one of ``CLASSES``; a test clip
when its label is.  Few fsd-mini test clips pass the licence rule, so classes
with fewer than ``--min-test`` test clips are topped up from correctly
labelled train clips of that class (unverified first, so the verified subset
stays intact; only clips whose source recording has no other clip in fsd-mini,
so no recording straddles the demo split).  Such clips get their true label and
``usage=Private`` in ``test.csv``; ``ATTRIBUTION.csv:source_split`` records
where every clip came from.  Every choice is made on sorted lists with a
seeded RNG, so the output is byte-identical from run to run.
"""
from __future__ import annotations

import argparse
import hashlib
import random
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "datasets" / "fsd-mini"
DEFAULT_OUT = REPO_ROOT / "data" / "demo"

# Acoustically distinct classes with the most licence-clean clips (see --help):
# strings, winds/brass, percussion, keys and two non-music effect classes.
CLASSES = (
    "Acoustic_guitar",
    "Cello",
    "Cowbell",
    "Electric_piano",
    "Flute",
    "Gunshot_or_gunfire",
    "Harmonica",
    "Hi-hat",
    "Snare_drum",
    "Telephone",
    "Trumpet",
)
SEED = 2018
MIN_TEST = 3
MAX_MB = 15.0

ALLOWED_LICENCE = re.compile(r"^(MIT|CC0|CC[- ]BY(?:[- ]SA)?)(?:[ (]|$)", re.IGNORECASE)
NON_COMMERCIAL = re.compile(r"BY[- ]NC", re.IGNORECASE)
BACKGROUND = re.compile(r"background:\s*([0-9a-f]+)\.wav\s+at\s+([-\d.]+)\s*dB SNR", re.IGNORECASE)
MARKER = "ATTRIBUTION.csv"  # a folder holding this file is one we built and may replace
OUTPUT_FILES = ("train.csv", "test.csv", "train_truth.csv", "VOCABULARY.txt",
                "ATTRIBUTION.csv", "LICENSE.md", "README.md")


# ----------------------------------------------------------------------------- licences
def own_licence(licence: str) -> str:
    """The clip's own licence: ESC-50 rows append the compilation licence after ';'."""
    return str(licence).split(";")[0].strip()


def licence_ok(licence: object) -> bool:
    """True for MIT, CC0, CC BY or CC BY-SA; False for NC, ND, Sampling+, GPL, none stated."""
    if not isinstance(licence, str):
        return False
    own = own_licence(licence)
    return bool(ALLOWED_LICENCE.match(own)) and not re.search(r"NC|ND|Sampling", own)


def background_id(attribution: object) -> str | None:
    """``'816eb5a3'`` for ``'background: 816eb5a3.wav at 12.4 dB SNR'``, else None."""
    m = BACKGROUND.search(attribution) if isinstance(attribution, str) else None
    return m.group(1) if m else None


def judge_licences(prov: pd.DataFrame) -> pd.DataFrame:
    """Per clip: own licence ok, background id / licence / attribution, overall verdict."""
    by_id = prov.set_index(prov["fname"].str.replace(r"\.flac$", "", regex=True))
    out = prov[["fname"]].copy()
    out["own_ok"] = prov["licence"].map(licence_ok) & ~prov["attribution"].fillna("").str.contains(NON_COMMERCIAL)
    out["background_id"] = prov["attribution"].map(background_id)
    known = out["background_id"].isin(by_id.index)
    bg = by_id.reindex(out["background_id"].where(known))
    out["background_licence"] = bg["licence"].to_numpy()
    out["background_attribution"] = bg["attribution"].to_numpy()
    out["background_status"] = "none"
    out.loc[out["background_id"].notna() & ~known, "background_status"] = "unknown (not in provenance.csv)"
    bg_ok = bg["licence"].map(licence_ok).fillna(False).astype(bool).to_numpy()
    out.loc[known & bg_ok, "background_status"] = "resolved, permissive"
    out.loc[known & ~bg_ok, "background_status"] = "resolved, not permissive"
    out["ok"] = out["own_ok"] & out["background_status"].isin(["none", "resolved, permissive"])
    return out


# ----------------------------------------------------------------------------- selection
def read_source(source: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """fsd-mini as (train rows with true labels, test rows, provenance), all as strings."""
    train = pd.read_csv(source / "train.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(source / "train_truth.csv", dtype=str, keep_default_na=False)
    test = pd.read_csv(source / "test.csv", dtype=str, keep_default_na=False)
    prov = pd.read_csv(source / "provenance.csv", dtype=str)
    train = train.merge(truth, on="fname", how="left", validate="one_to_one")
    if train["true_label"].isna().any():
        raise SystemExit("train_truth.csv lacks some train.csv clips")
    missing = (set(train["fname"]) | set(test["fname"])) - set(prov["fname"])
    if missing:
        raise SystemExit(f"provenance.csv lacks {len(missing)} clips, e.g. {sorted(missing)[:3]}")
    return train, test, prov


def seeded_order(items: list[str], seed: int, key: str) -> list[str]:
    """A shuffle of ``sorted(items)`` that depends only on ``seed`` and ``key``."""
    items = sorted(items)
    random.Random(f"{seed}:{key}").shuffle(items)
    return items


def select(train: pd.DataFrame, test: pd.DataFrame, prov: pd.DataFrame, verdict: pd.DataFrame,
           classes: list[str], min_test: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demo train and test rows. Train keeps fsd-mini columns; both get ``source_split``."""
    ok = set(verdict.loc[verdict["ok"], "fname"])
    dtrain = train[train["fname"].isin(ok) & train["label"].isin(classes)].copy()
    dtest = test[test["fname"].isin(ok) & test["label"].isin(classes)].copy()
    dtrain["source_split"] = "train"
    dtest["source_split"] = "test"

    source_count = prov["source_id"].value_counts()
    single_source = set(prov.loc[prov["source_id"].map(source_count) == 1, "fname"])
    moved = []
    for cls in classes:
        need = min_test - int((dtest["label"] == cls).sum())
        if need <= 0:
            continue
        pool = dtrain[(dtrain["label"] == cls) & (dtrain["true_label"] == cls)
                      & dtrain["fname"].isin(single_source)]
        unverified = seeded_order(pool.loc[pool["manually_verified"] == "0", "fname"].tolist(), seed, cls)
        verified = seeded_order(pool.loc[pool["manually_verified"] != "0", "fname"].tolist(), seed, cls)
        moved += (unverified + verified)[:need]
    top_up = dtrain[dtrain["fname"].isin(moved)]
    dtest = pd.concat([dtest, pd.DataFrame({
        "fname": top_up["fname"], "label": top_up["true_label"], "usage": "Private", "source_split": "train",
    })], ignore_index=True)
    dtrain = dtrain[~dtrain["fname"].isin(moved)]
    return (dtrain.sort_values("fname").reset_index(drop=True),
            dtest.sort_values("fname").reset_index(drop=True))


# ----------------------------------------------------------------------------- writing
def prepare_out(out: Path, source: Path, overwrite: bool) -> None:
    """Refuse to write inside the source; replace only a folder this script built."""
    src, dst = source.resolve(), out.resolve()
    if dst == src or src in dst.parents or dst in src.parents:
        raise SystemExit(f"refusing to write {dst}: it overlaps the source {src}")
    if dst.exists() and any(dst.iterdir()):
        if not overwrite:
            raise SystemExit(f"{dst} is not empty; pass --overwrite to rebuild it")
        if not (dst / MARKER).is_file():
            raise SystemExit(f"{dst} holds no {MARKER}: not a demo corpus, will not delete it")
        for name in ("audio_train", "audio_test"):
            shutil.rmtree(dst / name, ignore_errors=True)
        for name in OUTPUT_FILES:
            (dst / name).unlink(missing_ok=True)
    (dst / "audio_train").mkdir(parents=True, exist_ok=True)
    (dst / "audio_test").mkdir(parents=True, exist_ok=True)


def copy_audio(rows: pd.DataFrame, source: Path, out: Path, split: str) -> None:
    for fname, src_split in zip(rows["fname"], rows["source_split"]):
        src = source / f"audio_{src_split}" / fname
        dst = out / f"audio_{split}" / fname
        shutil.copyfile(src, dst)
        if hashlib.sha256(src.read_bytes()).digest() != hashlib.sha256(dst.read_bytes()).digest():
            raise SystemExit(f"copy of {src} differs")


def attribution_table(dtrain: pd.DataFrame, dtest: pd.DataFrame, prov: pd.DataFrame,
                      verdict: pd.DataFrame) -> pd.DataFrame:
    rows = pd.concat([
        dtrain.assign(split="train")[["fname", "split", "source_split", "label", "true_label"]],
        dtest.assign(split="test", true_label=dtest["label"])[["fname", "split", "source_split", "label", "true_label"]],
    ], ignore_index=True)
    cols = ["kind", "repo", "commit", "path", "licence", "orig_class", "source_id", "attribution", "sr", "duration_s"]
    table = rows.merge(prov[["fname"] + cols], on="fname", how="left", validate="one_to_one")
    table.insert(table.columns.get_loc("licence") + 1, "clip_licence", table["licence"].map(own_licence))
    table = table.merge(verdict[["fname", "background_id", "background_licence", "background_attribution"]],
                        on="fname", how="left", validate="one_to_one")
    table["background_licence"] = table["background_licence"].map(lambda x: own_licence(x) if isinstance(x, str) else "")
    table["background_id"] = table["background_id"].map(lambda b: f"{b}.flac (fsd-mini)" if isinstance(b, str) else "")
    return table.sort_values(["split", "fname"], ascending=[False, True]).reset_index(drop=True)


def licence_counts(table: pd.DataFrame) -> pd.Series:
    return table["licence"].map(own_licence).value_counts().sort_index()


def class_table(dtrain: pd.DataFrame, dtest: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    wrong = dtrain["label"] != dtrain["true_label"]
    verified = dtrain["manually_verified"] == "1"
    tab = pd.DataFrame({
        "train_given": dtrain["label"].value_counts(),
        "train_true": dtrain["true_label"].value_counts(),
        "train_verified": dtrain.loc[verified, "label"].value_counts(),
        "train_wrong": dtrain.loc[wrong, "label"].value_counts(),
        "test": dtest["label"].value_counts(),
    }).reindex(classes).fillna(0).astype(int)
    tab.index.name = "class"
    return tab


def markdown_table(tab: pd.DataFrame) -> str:
    head = "| " + " | ".join([tab.index.name, *tab.columns]) + " |"
    sep = "|" + "---|" * (len(tab.columns) + 1)
    body = ["| " + " | ".join([str(i), *map(str, r)]) + " |" for i, r in zip(tab.index, tab.to_numpy())]
    return "\n".join([head, sep, *body])


def stats(dtrain: pd.DataFrame, dtest: pd.DataFrame, table: pd.DataFrame, out: Path,
          source_vocab: set[str]) -> dict:
    files = list((out / "audio_train").glob("*.flac")) + list((out / "audio_test").glob("*.flac"))
    wrong = dtrain["label"] != dtrain["true_label"]
    vocab = set(dtrain["label"]) | set(dtest["label"])
    return {
        "train": len(dtrain), "test": len(dtest),
        "verified": int((dtrain["manually_verified"] == "1").sum()),
        "unverified": int((dtrain["manually_verified"] != "1").sum()),
        "wrong": int(wrong.sum()),
        "wrong_oov": int((wrong & ~dtrain["true_label"].isin(vocab)).sum()),
        "wrong_open": int((wrong & ~dtrain["true_label"].isin(source_vocab)).sum()),
        "topped_up": int((dtest["source_split"] == "train").sum()),
        "mb": sum(f.stat().st_size for f in files) / 1e6,
        "minutes": table["duration_s"].astype(float).sum() / 60,
    }


LICENCE_NOTE = """\
Every clip here may be redistributed, including commercially, provided its authors are credited
and, for CC BY-SA material, derivatives stay under CC BY-SA. Per clip, `ATTRIBUTION.csv` gives the
source repository/commit/path, the licence, and the author/attribution; for rendered clips with a
real ambience background it also credits that background (`background_*` columns).

- **Rendered instrument / GM-effect clips** (`kind=rendered`): rendered by fsd-mini with fluidsynth
  from SoundFonts shipped by Debian: FluidR3_GM.sf2 (Frank Wen, MIT, Debian `fluid-soundfont-gm`),
  MuseScore_General.sf3 (S. Christian Collins et al., MIT, Debian `musescore-general-soundfont`) and
  the AVL Red Zeppelin drum kit (Glen MacArthur / x42, CC BY-SA 4.0, Debian
  `avldrums.lv2-soundfont`). Clips rendered from the AVL kit are adaptations of CC BY-SA 4.0
  samples and are themselves CC BY-SA 4.0.
- **Real recordings** (`kind=copied`, ESC-50 rows, also used as ambience backgrounds): each is a
  short excerpt of a Freesound recording published under CC0 or CC BY 3.0 by the author named in
  `attribution` (with the Freesound URL), as listed in ESC-50's LICENSE file; excerpts were cut by
  ESC-50 and trimmed again by fsd-mini. Only the per-recording licence applies to these excerpts:
  the ESC-50 *compilation* is CC BY-NC 3.0, which is why only a handful of CC0 / CC BY excerpts
  are included, not the compilation. Please also cite K. J. Piczak, "ESC: Dataset for
  Environmental Sound Classification", ACM Multimedia 2015.
- **Excluded** from the demo: every fsd-mini clip under CC BY-NC, CC Sampling+, GPL or with no
  stated licence (CS496 course recordings, DCASE 2016 office sounds, Edge Impulse glass chunks,
  Laugh_LSN), and every rendered clip whose ambience background is CC BY-NC or cannot be traced
  to a licensed source (its id is not in fsd-mini's provenance.csv).

MIT notice for material derived from the MIT-licensed SoundFonts (FluidR3_GM: Copyright (c) Frank
Wen; MuseScore_General: Copyright (c) S. Christian Collins et al.):

> Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
> associated documentation files (the "Software"), to deal in the Software without restriction,
> including without limitation the rights to use, copy, modify, merge, publish, distribute,
> sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
> furnished to do so, subject to the following conditions: The above copyright notice and this
> permission notice shall be included in all copies or substantial portions of the Software.
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.

Licence texts: CC0 1.0 <https://creativecommons.org/publicdomain/zero/1.0/>, CC BY 3.0
<https://creativecommons.org/licenses/by/3.0/>, CC BY-SA 4.0
<https://creativecommons.org/licenses/by-sa/4.0/>.
"""


def write_docs(out: Path, dtrain: pd.DataFrame, dtest: pd.DataFrame, table: pd.DataFrame,
               classes: list[str], s: dict, args: argparse.Namespace, source_vocab: set[str]) -> None:
    lic = licence_counts(table)
    lic_lines = "\n".join(f"- {name}: {n} clips" for name, n in lic.items())
    n_bg = int((table["background_id"] != "").sum())
    (out / "LICENSE.md").write_text(
        "# Licences of the soundtag demo corpus\n\n" + LICENCE_NOTE
        + f"\nClips per licence (the clip's own licence; {n_bg} rendered clips also carry a credited"
        " CC0 / CC BY background):\n\n" + lic_lines + "\n")

    def listing(mask: pd.Series) -> str:
        counts = dtrain.loc[mask, "true_label"].value_counts().sort_index()
        return ", ".join(f"{c} ({n})" for c, n in counts.items()) or "none"

    outside = ~dtrain["true_label"].isin(classes)
    left_out = listing(outside & dtrain["true_label"].isin(source_vocab))
    open_set = listing(~dtrain["true_label"].isin(source_vocab))
    durations = table["duration_s"].astype(float)
    tab = class_table(dtrain, dtest, classes)
    tab.loc["total"] = tab.sum()
    readme = f"""# soundtag demo corpus

A {s['mb']:.1f} MB, {s['minutes']:.1f}-minute subset of fsd-mini (`../shared/datasets/fsd-mini`) in
FSDKaggle2018 layout, small enough to ship with the repository and licensed for redistribution.
Built by `scripts/make_demo_corpus.py` (seed {args.seed}); do not edit by hand, rebuild instead.

- `train.csv` (`fname,label,manually_verified`), `audio_train/`: {s['train']} clips.
- `test.csv` (`fname,label,usage`), `audio_test/`: {s['test']} clips, clean labels.
- `train_truth.csv` (`fname,true_label`): the real class of every train clip, for scoring label
  cleaning. Never train on it.
- `VOCABULARY.txt`: the {len(classes)} classes below.
- `ATTRIBUTION.csv`: source, licence and attribution of every clip (see `LICENSE.md`).

Audio: mono 16-bit FLAC copied byte for byte from fsd-mini, at the source's sample rate
({', '.join(sorted(set(table['sr'].astype(str)), key=int))} Hz), {durations.min():.2f}-{durations.max():.2f} s per clip
(median {durations.median():.2f} s).

## Label noise

Train labels and `manually_verified` flags are fsd-mini's, unchanged: {s['verified']} verified clips
(label always correct) and {s['unverified']} unverified, of which **{s['wrong']} carry a wrong label**:

- {s['wrong'] - s['wrong_oov']} are another class of this vocabulary;
- {s['wrong_oov'] - s['wrong_open']} are fsd-mini classes left out of the demo vocabulary: {left_out};
- {s['wrong_open']} are real recordings outside fsd-mini's vocabulary too (open-set noise): {open_set}.

Test labels are clean. `train_truth.csv` holds the true class of every train clip, so
`train_truth.csv` differs from `train.csv` in exactly {s['wrong']} rows.

## Counts per class

`train_given`: clips carrying the label in `train.csv`; `train_true`: clips whose true class it is;
`train_verified`/`train_wrong`: given-label clips that are verified / mislabelled.

{markdown_table(tab)}

fsd-mini's own test split has fewer than {args.min_test} redistributable clips for some classes;
for those, {s['topped_up']} correctly labelled fsd-mini train clips of the class were moved to
`test.csv` (`ATTRIBUTION.csv:source_split` says which).

## Licences

Only clips under MIT, CC0, CC BY or CC BY-SA are included, and a rendered clip only when its mixed-in
ambience background is itself CC0 / CC BY (backgrounds are resolved through fsd-mini's
provenance.csv; unknown or CC BY-NC backgrounds are excluded). Credit the authors listed in
`ATTRIBUTION.csv`; details in `LICENSE.md`.
"""
    (out / "README.md").write_text(readme)


def write_corpus(out: Path, source: Path, dtrain: pd.DataFrame, dtest: pd.DataFrame,
                 table: pd.DataFrame, classes: list[str]) -> None:
    copy_audio(dtrain, source, out, "train")
    copy_audio(dtest, source, out, "test")
    dtrain[["fname", "label", "manually_verified"]].to_csv(out / "train.csv", index=False, lineterminator="\n")
    dtrain[["fname", "true_label"]].to_csv(out / "train_truth.csv", index=False, lineterminator="\n")
    dtest[["fname", "label", "usage"]].to_csv(out / "test.csv", index=False, lineterminator="\n")
    (out / "VOCABULARY.txt").write_text("".join(f"{c}\n" for c in classes))
    table.to_csv(out / "ATTRIBUTION.csv", index=False, lineterminator="\n")


def print_summary(dtrain: pd.DataFrame, dtest: pd.DataFrame, classes: list[str], s: dict, out: Path) -> None:
    print(f"demo corpus written to {out}")
    print(f"clips: train {s['train']}, test {s['test']} ({s['topped_up']} test clips moved from fsd-mini train)")
    print(f"train: {s['verified']} verified, {s['unverified']} unverified, {s['wrong']} wrong labels "
          f"({s['wrong_oov']} outside the demo vocabulary, {s['wrong_open']} outside fsd-mini's)")
    print(f"size: {s['mb']:.2f} MB of FLAC, {s['minutes']:.2f} minutes")
    print(class_table(dtrain, dtest, classes).to_string())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="fsd-mini folder (read only)")
    ap.add_argument("--out-dir", "--out", dest="out", type=Path, default=DEFAULT_OUT,
                    help="demo corpus folder to write (default: data/demo)")
    ap.add_argument("--classes", nargs="+", default=list(CLASSES), help="vocabulary of the demo corpus")
    ap.add_argument("--min-test", type=int, default=MIN_TEST, help="top test up to this many clips per class")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--max-mb", type=float, default=MAX_MB, help="fail if the audio exceeds this size")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing demo corpus at --out-dir")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    classes = sorted(set(args.classes))
    source = args.source.resolve()
    train, test, prov = read_source(source)
    unknown = set(classes) - set(train["label"]) - set(test["label"])
    if unknown:
        raise SystemExit(f"classes not in fsd-mini: {sorted(unknown)}")
    verdict = judge_licences(prov)
    dtrain, dtest = select(train, test, prov, verdict, classes, args.min_test, args.seed)
    table = attribution_table(dtrain, dtest, prov, verdict)
    mb = sum((source / f"audio_{sp}" / f).stat().st_size for f, sp in zip(table["fname"], table["source_split"])) / 1e6
    if mb > args.max_mb:
        raise SystemExit(f"selection is {mb:.1f} MB, over --max-mb {args.max_mb}")

    prepare_out(args.out, source, args.overwrite)
    out = args.out.resolve()
    write_corpus(out, source, dtrain, dtest, table, classes)
    source_vocab = set((source / "VOCABULARY.txt").read_text().split())
    s = stats(dtrain, dtest, table, out, source_vocab)
    write_docs(out, dtrain, dtest, table, classes, s, args, source_vocab)
    print_summary(dtrain, dtest, classes, s, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
