"""soundtag.inference.segments: streamed tagging without torch; files decoded ahead in a worker thread,
each opened once, results in the order given with a failing file reported in its place."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np

import soundtag.audio.decode
from soundtag.errors import AudioError
from soundtag.inference.segments import FileTags, SegmentTagger
from tests.helpers import sine, write_corrupt_audio

SR = 8000


class LoudnessTagger(SegmentTagger):
    """Two labels: "loud" with the probability of a segment's peak, "quiet" with the rest; records the
    threads that decoded and the batches it was given."""

    def __init__(self) -> None:
        self.labels, self.sample_rate, self.default_segment, self.batch_size = ["loud", "quiet"], SR, 1.0, 4
        self.batches: list[int] = []

    def segment_probabilities(self, segments: list[np.ndarray], sample_rate: int | None = None) -> np.ndarray:
        self.batches.append(len(segments))
        peaks = np.array([min(1.0, float(np.abs(s).max())) for s in segments])
        return np.stack([peaks, 1 - peaks], axis=1)


def test_importing_the_streaming_tagger_imports_no_torch():
    code = "import sys, soundtag.inference.segments, soundtag.inference.graph; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_files_come_back_in_order_with_a_failure_in_its_place(write_audio, tmp_path):
    files = [write_audio(f"{i}.wav", sine(440, seconds, SR, amplitude), SR)
             for i, (seconds, amplitude) in enumerate([(2.5, 0.9), (0.4, 0.1), (3.0, 0.5)])]
    files.insert(2, write_corrupt_audio(tmp_path / "bad.wav"))
    results = list(LoudnessTagger().tag_files(files))
    assert [type(r) for r in results] == [FileTags, FileTags, AudioError, FileTags]
    assert [r.path for r in results if isinstance(r, FileTags)] == [str(files[i]) for i in (0, 1, 3)]
    assert str(files[2]) in str(results[2])
    assert [r.tags[0][0] for r in results if isinstance(r, FileTags)] == ["loud", "quiet", "loud"]
    assert [round(r.duration, 3) for r in results if isinstance(r, FileTags)] == [2.5, 0.4, 3.0]


def test_each_file_is_opened_once_and_decoded_in_a_worker_thread(write_audio, monkeypatch):
    opened, threads = [], set()
    original = soundtag.audio.decode.open_audio

    def counting_open(path):
        opened.append(str(path))
        threads.add(threading.get_ident())
        return original(path)

    monkeypatch.setattr(soundtag.audio.decode, "open_audio", counting_open)
    files = [write_audio(f"{i}.flac", sine(300 + 100 * i, 1.5, SR), SR) for i in range(3)]
    tagger = LoudnessTagger()
    assert all(isinstance(r, FileTags) for r in tagger.tag_files(files))
    assert opened == [str(f) for f in files]
    assert threading.get_ident() not in threads
    assert max(tagger.batches) <= tagger.batch_size  # short files still share batches
    assert sum(tagger.batches) == 6
