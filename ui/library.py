"""The upload library: files from the browser are copied under data_dir/library, then synced.

The library folder is an ordinary indexed root, so `dispatch-qa index` (no paths) re-syncs it
too, and deleting an upload is "delete the file, sync the folder".
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from index.formats import SUPPORTED_SUFFIXES

UPLOAD_SUFFIXES = SUPPORTED_SUFFIXES  # what the loaders read, so the two lists cannot drift apart


@dataclass
class StoredUploads:
    stored: list[Path] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)  # {"file", "reason"}, like SyncReport.failed


def safe_name(name: str) -> str:
    """A plain file name: no folders, no hidden-file dot (the indexer skips those), no odd characters."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = os.path.splitext(base)
    stem = re.sub(r"[^\w.\- ]+", "_", stem).strip(" .")[:120] or "upload"
    return stem + suffix.lower()


def store_uploads(paths: list[str | Path], library_dir: Path, max_bytes: int,
                  consume: bool = True) -> StoredUploads:
    """Copy accepted uploads into the library; refuse other types and oversized files with a reason.

    With `consume`, the temporary upload is deleted once copied, so no copy lingers in Gradio's cache.
    """
    library_dir.mkdir(parents=True, exist_ok=True)
    out = StoredUploads()
    for raw in paths:
        src = Path(raw)
        name = safe_name(src.name)
        suffix = Path(name).suffix
        try:
            if suffix not in UPLOAD_SUFFIXES:
                kind = f"'{suffix}'" if suffix else "(no extension)"
                out.rejected.append({"file": src.name, "reason": f"unsupported file type {kind} "
                                     f"(accepted: {', '.join(UPLOAD_SUFFIXES)})"})
                continue
            size = src.stat().st_size
            if size > max_bytes:
                out.rejected.append({"file": src.name, "reason": f"file is {size} bytes, over the upload limit of "
                                     f"{max_bytes} bytes (upload_max_bytes)"})
                continue
            problem = unreadable(src, max_bytes)
            if problem:  # e.g. a PDF renamed .txt: refused by name, never stored in the library
                out.rejected.append({"file": src.name, "reason": problem})
                continue
            dest = library_dir / name
            tmp = dest.with_name(f".{name}.part")  # hidden: a sync running meanwhile never sees half a file
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            out.stored.append(dest)
        except OSError as exc:
            out.rejected.append({"file": src.name, "reason": f"cannot store the upload ({exc.strerror or exc})"})
        finally:
            if consume:
                _consume(src)
    return out


def _consume(src: Path) -> None:
    """Delete a temporary upload, and the per-upload folder Gradio made for it once empty."""
    steps = [src.unlink] + ([src.parent.rmdir] if re.fullmatch(r"[0-9a-f]{64}", src.parent.name) else [])
    for step in steps:
        try:
            step()
        except OSError:
            pass


def unreadable(path: Path, max_bytes: int) -> str | None:
    """Why the indexer would refuse this file as a whole (binary, not UTF-8, empty, malformed), or None.

    The same loader the indexer runs, so an upload is refused for the reason a sync would give.
    """
    from index.documents import load_file

    result = load_file(path, path.parent, max_bytes)
    if result.errors and not result.dispatches:
        return "; ".join(dict.fromkeys(e.reason for e in result.errors))
    return None


def upload_file_of(source_path: str | None, library_dir: Path) -> Path | None:
    """The library file a document came from, or None when it was indexed from elsewhere."""
    if not source_path:
        return None
    path = Path(source_path)
    try:
        path.resolve().relative_to(library_dir.resolve())
    except ValueError:
        return None
    return path
