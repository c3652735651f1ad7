"""Files unchanged since the sync that indexed them are not loaded again.

A sync of a folder used to load and hash every file in it to find the one new dispatch: 75 s for a
folder of 373k dispatches (docs/notes/scale.md). A file whose size, modification and change times
and inode are those recorded when its dispatches were last committed, read by the same code, is
skipped: its documents are taken as unchanged. The check is git's and rsync's, with git's guard
against a file written again within the clock's resolution: a file modified less than `SETTLE_NS`
before it was read is never stamped (it is loaded again next time).

Stamps are derived data in the records (no generation bump: nothing mirrors them); a reset, a
forgotten root or another reader (any change to the code under index/) drops them, so the worst a
lost or stale stamp costs is one load.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SETTLE_NS = 2_000_000_000


@dataclass(frozen=True)
class FileStamp:
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    def settled(self, now_ns: int) -> bool:
        """Old enough that a later write would show in the times (coarse clocks, same-tick writes)."""
        return now_ns - max(self.mtime_ns, self.ctime_ns) >= SETTLE_NS


def stamp_of(path: Path | str) -> FileStamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return FileStamp(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@lru_cache(maxsize=1)
def reader_identity() -> str:
    """The code that turns a file into dispatches (loaders, formats, titles, dates, ids): a digest of
    every module under index/, so that any change to it loads every file again once."""
    folder = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def unchanged(recorded: FileStamp | None, now: FileStamp | None) -> bool:
    return recorded is not None and now is not None and recorded == now


class FileStampBook:
    """One root's stamps during one sync: which files to skip, which to stamp once committed."""

    def __init__(self, records, root: str, known: dict[str, tuple[str, str, str]], enabled: bool = True) -> None:
        self.records = records
        self.root = root
        self.reader = reader_identity()
        self.enabled = enabled  # a sync that transforms dispatches (eval, bench) loads every file
        self.recorded = records.file_stamps(root, self.reader) if enabled else {}
        self.docs_by_path: dict[str, list[str]] = {}
        for doc_id, (_, _, source_path) in known.items():
            self.docs_by_path.setdefault(source_path, []).append(doc_id)
        # Files loaded this time: resolved path -> (stat before loading, the path errors name it by).
        self.loaded: dict[str, tuple[FileStamp, str]] = {}

    def skip(self, path: Path, seen: dict[str, str], report) -> bool:
        """True when `path` is unchanged since its dispatches were committed: its documents count as
        seen and unchanged. Otherwise its stat is kept, to be stamped after the commit."""
        key = str(path.resolve())
        now = stamp_of(key)
        recorded = self.recorded.get(key)
        if self.enabled and unchanged(FileStamp(*recorded) if recorded else None, now):
            for doc_id in self.docs_by_path.get(key, ()):
                seen[doc_id] = key
            report.unchanged += len(self.docs_by_path.get(key, ()))
            return True
        if now is not None:
            self.loaded[key] = (now, os.path.abspath(path))
        return False

    def commit(self, report) -> None:
        """Stamp the files loaded this time whose dispatches are all committed (no failure names them),
        unchanged since they were read, and settled; drop the stamps of the others."""
        if not self.enabled:
            return
        import time

        # Load errors name a file by its absolute path ("<path>:<line>" for a JSONL line), refused
        # dispatches by their resolved source path.
        failed = {str(f.get("file", "")).rsplit(":", 1)[0] for f in report.failed} | \
            {str(f.get("file", "")) for f in report.failed}
        now_ns = time.time_ns()
        fresh = {}
        for key, (before, shown) in self.loaded.items():
            if key in failed or shown in failed or stamp_of(key) != before or not before.settled(now_ns):
                continue
            fresh[key] = (before.size, before.mtime_ns, before.ctime_ns, before.inode)
        dropped = [k for k in self.loaded if k not in fresh and k in self.recorded]
        if fresh or dropped:
            self.records.put_file_stamps(self.root, self.reader, fresh, dropped)
