"""REVIEW_DIR/reviewed.csv as the review writes it: durable appends, undo rows, restarts, and kills."""

from __future__ import annotations

import os
import signal
import time

from soundtag.data.reviewed import read_decisions
from soundtag.labels.review.decisions import DecisionLog


def test_decisions_are_appended_as_rows_and_a_restart_continues_with_them(tmp_path):
    log = DecisionLog(tmp_path)
    log.record("a.wav", "accept", "Bark")
    log.record("b.wav", "relabel", "Flute")
    assert log.undo().fname == "b.wav"
    log.record("c.wav", "none")
    lines = (tmp_path / "reviewed.csv").read_text().splitlines()
    assert lines[0] == "fname,decision,label,time"
    assert [line.split(",")[:3] for line in lines[1:]] == [["a.wav", "accept", "Bark"], ["b.wav", "relabel", "Flute"],
                                                           ["b.wav", "undo", ""], ["c.wav", "none", ""]]
    again = DecisionLog(tmp_path)
    assert not again.torn
    assert sorted(again.decided) == ["a.wav", "c.wav"]
    assert again.undo().fname == "c.wav" and again.undo().fname == "a.wav" and again.undo() is None


def test_a_line_torn_by_a_kill_is_cut_off_and_the_next_decision_is_whole(tmp_path):
    log = DecisionLog(tmp_path)
    log.record("a.wav", "accept", "Bark")
    with open(tmp_path / "reviewed.csv", "ab") as handle:
        handle.write(b"b.wav,relab")  # a write cut off half-way
    again = DecisionLog(tmp_path)
    assert again.torn and list(again.decided) == ["a.wav"]
    again.record("c.wav", "skip")
    assert [(d.fname, d.decision) for d in read_decisions(tmp_path / "reviewed.csv")] == [
        ("a.wav", "accept"), ("c.wav", "skip")]


def test_a_process_killed_while_it_writes_loses_at_most_the_decision_being_written(tmp_path):
    pid = os.fork()
    if pid == 0:  # the child writes decisions as fast as it can until it is killed
        try:
            log = DecisionLog(tmp_path)
            for i in range(10**7):
                log.record(f"clip-{i}.wav", "relabel", "Bark")
        finally:
            os._exit(0)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not (tmp_path / "reviewed.csv").exists()
                                            or (tmp_path / "reviewed.csv").stat().st_size < 2000):
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    rows = read_decisions(tmp_path / "reviewed.csv")
    assert len(rows) > 10
    assert [row.fname for row in rows] == [f"clip-{i}.wav" for i in range(len(rows))]
    assert all(row.decision == "relabel" and row.label == "Bark" and row.time for row in rows)
    again = DecisionLog(tmp_path)
    again.record("last.wav", "accept", "Bark")
    assert read_decisions(tmp_path / "reviewed.csv")[-1].fname == "last.wav"
