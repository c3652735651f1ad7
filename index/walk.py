"""Which paths may be indexed: roots checked before anything is recorded, folders walked safely.

A root must be a folder or a regular file, outside /proc and /sys: a device (``/dev/null``), a
FIFO or a socket is refused (reading one blocks or never ends). Inside a folder, symbolic links
are resolved and judged: a loop or a dangling link is reported, and a link leading out of the
folder (to ``/etc/passwd``, say) is reported and not followed unless ``follow_symlinks`` is set.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from index.formats import SUPPORTED_SUFFIXES

__all__ = ["Scan", "root_problem", "scan"]

PSEUDO_FILESYSTEMS = (Path("/proc"), Path("/sys"))


@dataclass
class Scan:
    files: list[Path] = field(default_factory=list)  # to load, sorted by path relative to the root
    problems: list[tuple[str, str]] = field(default_factory=list)  # (absolute path, reason)
    # Files or folders that could not be read this time (an error, not a verdict on them): documents
    # indexed from them before are kept, not taken for deleted.
    unreadable: list[Path] = field(default_factory=list)

    def keeps(self, source_path: str) -> bool:
        """Whether a document indexed from ``source_path`` must be kept although it was not seen."""
        path = Path(source_path)
        return any(path == p or p in path.parents for p in self.unreadable)


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file or folder"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def root_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an indexed root, or None when it can (a folder or a regular file)."""
    try:
        resolved = Path(path).resolve(strict=True)
        mode = os.stat(resolved).st_mode
    except FileNotFoundError:
        return "no such file or folder"
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if any(_inside(resolved, p) for p in PSEUDO_FILESYSTEMS):
        return f"{resolved} is a kernel pseudo-file, not a dispatch; refused"
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    return f"{_kind(mode)}, not a folder or a regular file; refused"


def _link_problem(link: Path, root: Path, follow_symlinks: bool) -> tuple[str | None, Path | None]:
    """(reason to refuse, None) or (None, resolved target) for a symbolic link inside ``root``."""
    target = os.readlink(link)
    try:
        os.stat(link)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"symbolic link loop (-> {target}); skipped", None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"broken symbolic link: its target {target} does not exist; skipped", None
        return f"symbolic link cannot be followed ({exc.strerror or exc}); skipped", None
    resolved = link.resolve()
    if not follow_symlinks and not _inside(resolved, root):
        return (f"symbolic link to {resolved}, outside the indexed folder {root}: not followed "
                "(set follow_symlinks to index it)"), None
    if any(_inside(resolved, p) for p in PSEUDO_FILESYSTEMS):
        return f"symbolic link to {resolved}, a kernel pseudo-file; skipped", None
    return None, resolved


def scan(root: Path, follow_symlinks: bool = False) -> Scan:
    """The supported files under the folder ``root`` (or ``root`` itself when it is a file).

    Hidden entries (name starting with ".") are skipped. A symlinked folder is walked only when
    ``follow_symlinks`` is set and it leads out of the root (one inside is walked from its own
    place already); each real folder is walked once, so loops end. Anything refused is returned in
    ``problems`` with the reason, never silently dropped (unsupported file types excepted).
    """
    root = Path(root)
    out = Scan()
    if not root.is_dir():
        out.files.append(root)
        return out
    real_root = root.resolve()
    seen_dirs = {_dir_key(real_root)}
    found: list[tuple[tuple[str, ...], Path]] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            out.problems.append((os.path.abspath(folder), f"cannot list this folder ({exc.strerror or exc}); "
                                 "its indexed documents are kept"))
            out.unreadable.append(Path(folder).resolve())
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            mode = _entry_mode(entry, path, real_root, follow_symlinks, out)
            if mode is None:
                continue
            if stat.S_ISDIR(mode):
                key = _dir_key(path.resolve())
                if key not in seen_dirs and not (entry.is_symlink() and _inside(path.resolve(), real_root)):
                    seen_dirs.add(key)
                    pending.append(path)
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            elif stat.S_ISREG(mode):
                found.append((path.relative_to(root).parts, path))
            else:
                out.problems.append((os.path.abspath(path), f"{_kind(mode)}, not a regular file; skipped"))
    found.sort(key=lambda item: item[0])
    out.files = [p for _, p in found]
    return out


def _entry_mode(entry: os.DirEntry, path: Path, real_root: Path, follow_symlinks: bool, out: Scan) -> int | None:
    """The mode of what ``entry`` leads to, or None (reported in ``out`` when it is refused)."""
    try:
        if entry.is_symlink():
            reason, _ = _link_problem(path, real_root, follow_symlinks)
            if reason:
                out.problems.append((os.path.abspath(path), reason))
                return None
        return os.stat(path).st_mode
    except OSError as exc:
        out.problems.append((os.path.abspath(path), f"cannot be read ({exc.strerror or exc}); skipped"))
        out.unreadable.append(path.resolve())
        return None


def _dir_key(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
