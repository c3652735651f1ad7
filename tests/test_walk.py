"""Which paths may be indexed: roots (devices, FIFOs, sockets, /proc refused) and symbolic links."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from index.documents import iter_files
from index.walk import root_problem, scan

TEXT = "Le préfet a inauguré le pont de Tulle mardi. Il a coûté douze millions d'euros.\n"


@pytest.mark.parametrize("path, word", [
    ("/dev/null", "a device"),
    ("/proc/self/status", "kernel pseudo-file"),
    ("/proc", "kernel pseudo-file"),
    ("/sys/kernel", "kernel pseudo-file"),
])
def test_special_roots_are_refused(path, word):
    if not Path(path).exists():
        pytest.skip(f"{path} does not exist here")
    assert word in root_problem(Path(path))


def test_fifo_socket_and_missing_roots_are_refused(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert "FIFO" in root_problem(fifo)
    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        assert "socket" in root_problem(sock_path)
    assert root_problem(tmp_path / "gone") == "no such file or folder"
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    assert root_problem(tmp_path) is None and root_problem(tmp_path / "a.txt") is None
    (tmp_path / "link").symlink_to(tmp_path / "link")
    assert "cannot be read" in root_problem(tmp_path / "link")


@pytest.fixture
def tree(tmp_path) -> tuple[Path, Path]:
    """A root holding good files and every kind of awkward link, and a folder outside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "a.txt").write_text(TEXT, encoding="utf-8")
    (root / "sub" / "b.md").write_text(TEXT, encoding="utf-8")
    (root / "notes.pdf").write_bytes(b"%PDF-1.4")  # unsupported: ignored, as before
    (root / ".hidden.txt").write_text(TEXT, encoding="utf-8")
    (outside / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (outside / "more").mkdir()
    (outside / "more" / "c.txt").write_text(TEXT, encoding="utf-8")
    (root / "inside-link.txt").symlink_to(root / "a.txt")
    (root / "passwd.txt").symlink_to(outside / "secret.txt")
    (root / "dangling.txt").symlink_to(root / "nowhere.txt")
    (root / "loop1.txt").symlink_to(root / "loop2.txt")
    (root / "loop2.txt").symlink_to(root / "loop1.txt")
    (root / "up").symlink_to(root)  # a folder link back into the root: walked once, from its place
    (root / "ext").symlink_to(outside / "more")
    os.mkfifo(root / "fifo.txt")
    return root, outside


def _reasons(found) -> dict[str, str]:
    return {Path(p).name: r for p, r in found.problems}


def test_links_inside_are_followed_and_the_rest_reported(tree):
    root, outside = tree
    found = scan(root)
    assert [p.relative_to(root).as_posix() for p in found.files] == ["a.txt", "inside-link.txt", "sub/b.md"]
    reasons = _reasons(found)
    assert set(reasons) == {"passwd.txt", "dangling.txt", "loop1.txt", "loop2.txt", "ext", "fifo.txt"}
    assert "outside the indexed folder" in reasons["passwd.txt"] and "follow_symlinks" in reasons["passwd.txt"]
    assert str(outside / "secret.txt") in reasons["passwd.txt"]
    assert "outside the indexed folder" in reasons["ext"]
    assert "broken symbolic link" in reasons["dangling.txt"]
    assert "loop" in reasons["loop1.txt"] and "loop" in reasons["loop2.txt"]
    assert "FIFO" in reasons["fifo.txt"]
    for path in found.problems:
        assert Path(path[0]).is_absolute()
    assert list(iter_files(root)) == found.files  # the one walker, for every caller


def test_follow_symlinks_follows_links_out_of_the_root(tree):
    root, _ = tree
    found = scan(root, follow_symlinks=True)
    assert [p.relative_to(root).as_posix() for p in found.files] == [
        "a.txt", "ext/c.txt", "inside-link.txt", "passwd.txt", "sub/b.md"]
    assert set(_reasons(found)) == {"dangling.txt", "loop1.txt", "loop2.txt", "fifo.txt"}


def test_a_file_root_is_itself(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text(TEXT, encoding="utf-8")
    assert scan(f).files == [f] and scan(f).problems == []
