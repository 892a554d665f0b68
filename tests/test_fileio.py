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
