"""``soundtag corpus``: say what soundtag understood of a corpus, before any training."""

from __future__ import annotations

import argparse

SPLIT_NAMES = ("train", "val", "test")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``corpus`` subcommand."""
    parser = subparsers.add_parser(
        "corpus",
        help="show how a corpus is read: layout, classes, clips per class and split, problems",
        description="Read CORPUS (an FSDKaggle2018 or FSD50K folder, a folder of class folders, or a manifest "
                    ".csv) and print its layout, classes, clips per class and split, verified share, clips with "
                    "several labels or none, rows left out and problems found.",
    )
    parser.add_argument("corpus", metavar="PATH", help="corpus folder, or a manifest CSV file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the corpus and print the summary (reads CSVs and folders only: no audio is decoded)."""
    from soundtag.data.corpus import read_corpus
    from soundtag.data.summary import summarize_corpus
    from soundtag.outputs import json_text

    summary = summarize_corpus(read_corpus(args.corpus))
    if args.json:
        print(json_text(summary.to_dict()))
    else:
        print("\n".join(summary_lines(summary)))
    return 0


def summary_lines(summary) -> list[str]:  # noqa: ANN001 - a CorpusSummary (imported only when run)
    """The summary as text: a header, one table per split and per class, the notes and problems."""
    kind = "multi-label" if summary.multi_label else "single-label"
    verified = "-" if summary.verified_share is None else f"{summary.verified_share:.0%}"
    classes = f"{len(summary.labels)} class{'' if len(summary.labels) == 1 else 'es'}"
    lines = [f"{summary.path}: {summary.layout} layout, {classes}, {kind}; "
             f"{verified} of the train clips verified"]
    rows = [["split", "clips", "several labels", "no label"]]
    rows += [[name, summary.clips[name], summary.several_labels[name], summary.no_label[name]] for name in SPLIT_NAMES]
    lines += [""] + table(rows)
    rows = [["class", *SPLIT_NAMES]]
    rows += [[label, *(counts[name] for name in SPLIT_NAMES)] for label, counts in summary.per_class.items()]
    if any(summary.no_label.values()):
        rows.append(["(no label)", *(summary.no_label[name] for name in SPLIT_NAMES)])
    lines += [""] + table(rows)
    notes = [summary.split_note, summary.left_out]
    lines += [""] * any(notes) + [note for note in notes if note]
    if summary.problems:
        lines += ["", "problems:"] + [f"  - {problem}" for problem in summary.problems]
    return lines


def table(rows: list[list]) -> list[str]:
    """Rows as aligned text: the first column left-aligned, the others right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:]))]).rstrip()
            for row in cells]
