"""soundtag.fileio: a write either leaves the old file or the complete new one, and no temp files."""

from __future__ import annotations

import numpy as np
import pytest

from soundtag.fileio import atomic_save_npy, atomic_write, atomic_write_text


class Boom(Exception):
    pass


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_replaces_the_file(tmp_path, durable):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with atomic_write(path, "w", durable=durable, encoding="utf-8") as handle:
        handle.write("new")
        assert path.read_text(encoding="utf-8") == "old"  # not visible before the rename
    assert path.read_text(encoding="utf-8") == "new"
    assert listing(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("mode", ["w", "wb"])
def test_exception_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, mode):
    path = tmp_path / "out.dat"
    path.write_bytes(b"old contents")
    with pytest.raises(Boom):
        with atomic_write(path, mode) as handle:
            handle.write("half of the new" if mode == "w" else b"half of the new")
            handle.flush()
            raise Boom
    assert path.read_bytes() == b"old contents"
    assert listing(tmp_path) == ["out.dat"]


def test_interrupt_mid_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path) as handle:
            handle.write("partial")
            raise KeyboardInterrupt
    assert path.read_text(encoding="utf-8") == "old"
    assert listing(tmp_path) == ["out.txt"]


def test_failed_first_write_creates_nothing(tmp_path):
    path = tmp_path / "new.txt"
    with pytest.raises(Boom):
        with atomic_write(path) as handle:
            handle.write("partial")
            raise Boom
    assert listing(tmp_path) == []


def test_atomic_write_text_creates_parents_and_keeps_bytes_exactly(tmp_path):
    path = tmp_path / "a" / "b" / "c.txt"
    atomic_write_text(path, "line one\r\nline two\nünïcode\n")
    assert path.read_bytes() == "line one\r\nline two\nünïcode\n".encode()
    assert listing(path.parent) == ["c.txt"]


def test_atomic_save_npy_round_trip(tmp_path):
    path = tmp_path / "x.npy"
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic_save_npy(path, array)
    atomic_save_npy(path, array * 2, durable=False)
    loaded = np.load(path, allow_pickle=False)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, array * 2)
    assert listing(tmp_path) == ["x.npy"]


def test_atomic_save_npy_refuses_objects_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.npy"
    atomic_save_npy(path, np.ones(3))
    with pytest.raises(ValueError):
        atomic_save_npy(path, np.array([{"a": 1}], dtype=object))
    np.testing.assert_array_equal(np.load(path), np.ones(3))
    assert listing(tmp_path) == ["x.npy"]


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    import os

    from soundtag.fileio import atomic_write_text

    atomic_write_text(tmp_path / "out.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~mask


# --- failed writes: one error naming the output, the old file kept ------------------------------------


def test_a_full_disk_is_a_write_error_that_keeps_the_old_file(tmp_path):
    import errno
    import pickle

    from soundtag.errors import SoundtagError
    from soundtag.fileio import WriteError

    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(WriteError) as caught:
        with atomic_write(path) as handle:
            handle.write("new")
            raise OSError(errno.ENOSPC, "No space left on device")
    error = caught.value
    assert str(error) == (f"{path}: not written, the disk is full (no space left on device); "
                          "the previous file is unchanged")
    assert isinstance(error, SoundtagError) and isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # as a worker process sends it back
    assert path.read_text() == "old" and listing(tmp_path) == ["out.json"]


def test_an_oserror_of_another_file_inside_the_block_is_not_blamed_on_the_output(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "out.txt") as handle:
            handle.write(open(tmp_path / "missing.txt").read())
    assert listing(tmp_path) == []


def test_an_output_under_a_regular_file_names_the_file(tmp_path):
    from soundtag.fileio import WriteError

    blocker = tmp_path / "a.flac"
    blocker.write_bytes(b"audio")
    for path in (blocker / "out.json", blocker / "sub" / "out.json"):
        with pytest.raises(WriteError, match=f"{path}: cannot be written, {blocker} is a file, not a folder"):
            atomic_write_text(path, "x")
    assert blocker.read_bytes() == b"audio"


FSIZE_SCRIPT = """
import resource, sys
import numpy as np
from soundtag.fileio import WriteError, atomic_save_npy, atomic_write_text
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
writes = (lambda: atomic_write_text(sys.argv[1], "x" * 10000), lambda: atomic_save_npy(sys.argv[2], np.zeros(5000)))
for write in writes:
    try:
        write()
    except WriteError as exc:
        print(exc)
"""


def test_a_file_size_limit_reads_as_a_full_disk(tmp_path):
    """RLIMIT_FSIZE makes write() fail with EFBIG as a full disk fails it with ENOSPC, also for numpy
    (whose own fwrite would lose the errno: "N requested and M written")."""
    import subprocess
    import sys

    text, array = tmp_path / "out.txt", tmp_path / "x.npy"
    text.write_text("old")
    done = subprocess.run([sys.executable, "-c", FSIZE_SCRIPT, str(text), str(array)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{text}: not written, the disk is full (file too large for the file system or the file-size limit); "
        "the previous file is unchanged",
        f"{array}: not written, the disk is full (file too large for the file system or the file-size limit); "
        "nothing was written",
    ]
    assert text.read_text() == "old" and listing(tmp_path) == ["out.txt"]


def test_numpys_short_write_without_errno_reads_as_a_full_disk():
    from soundtag.fileio import describe_os_error

    assert describe_os_error(OSError("10000 requested and 109 written")).startswith("the disk is full")
    assert describe_os_error(PermissionError(13, "Permission denied")) == "permission denied"
