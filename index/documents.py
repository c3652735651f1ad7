"""Files -> ``Dispatch`` records: one per news article, whatever the file format.

Supported inputs: plain text (``.txt``), Markdown (``.md``), HTML (``.html``/``.htm``),
JSON (``.json``: one object or a list of objects) and JSON Lines (``.jsonl``); each format's
loader is in :mod:`index.formats`.

Nothing here writes anything or has side effects at import time. Problems with a file (too big,
binary, not UTF-8, empty, malformed JSON, ...) never raise out of :func:`load_file`: they come back
as :class:`DocumentError` values in :class:`LoadResult.errors`, with a reason a person can act on.

``Dispatch.text`` is the string that citation offsets index. For ``.txt``/``.md`` it is the file's
content exactly as stored (only a UTF-8 byte-order mark is dropped); for JSON it is the record's
``text`` field exactly; for HTML it is the extracted article text.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from index.dispatch import DocumentError, LoadResult
from index.formats import LOADERS, SUPPORTED_SUFFIXES
from index.sniff import SNIFF_BYTES, not_text_reason
from index.walk import scan

__all__ = ["iter_files", "load_file"]

_UTF8_BOM = b"\xef\xbb\xbf"


def iter_files(root: Path) -> Iterator[Path]:
    """Files to load under ``root``: :func:`index.walk.scan`'s files, its problems left out.

    A file root yields itself (whatever its suffix: :func:`load_file` reports unsupported types).
    A folder yields its supported files recursively, sorted by relative path, skipping hidden
    files and folders (name starting with "."), links leading out of the folder, broken links,
    loops and special files (the indexer reports those: use ``scan`` to get them).
    A missing root raises ``FileNotFoundError``.
    """
    root = Path(root)
    if not root.is_file() and not root.is_dir():
        raise FileNotFoundError(f"no such file or folder: {root}")
    yield from scan(root).files


def _relative_id(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form; the file name when root is the file itself."""
    ap, ar = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if ap == ar:
        return path.name
    for p, r in ((ap, ar), (path.resolve(), root.resolve())):
        try:
            rel = p.relative_to(r)
        except ValueError:
            continue
        if rel.parts:
            return rel.as_posix()
    return path.name


def _format_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def _size_reason(size: int, limit: int) -> str:
    a, b = _format_size(size), _format_size(limit)
    if a == b:  # rounding made them look equal: be exact
        a, b = f"{size} bytes", f"{limit} bytes"
    return f"file is {a}, over the limit of {b} (max_file_bytes)"


def _decode(data: bytes) -> str:
    """UTF-8 bytes -> str (BOM dropped, nothing else touched); raises ValueError with a reason."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("not valid UTF-8 (UTF-16 byte-order mark; save the file as UTF-8)")
    if reason := not_text_reason(data[:SNIFF_BYTES]):
        raise ValueError(reason)
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = skip + e.start
        raise ValueError(
            f"not valid UTF-8 (invalid byte 0x{data[offset]:02x} at offset {offset})"
        ) from None


def load_file(path: Path, root: Path, max_bytes: int) -> LoadResult:
    """Load one file into dispatches; every problem is returned in ``errors``, never raised.

    Error paths are the file's absolute path (``"<path>:<line>"`` for a JSONL line).
    """
    path = Path(path)
    root = Path(root)
    shown = os.path.abspath(path)
    result = LoadResult()

    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
        result.errors.append(
            DocumentError(
                shown,
                f"unsupported file type {kind} (supported: {', '.join(SUPPORTED_SUFFIXES)})",
            )
        )
        return result

    try:
        if not path.is_file():
            raise DocumentError(shown, "not a regular file" if path.exists() else "file not found")
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise DocumentError(shown, _size_reason(size, max_bytes))
        with path.open("rb") as fh:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:  # grew since stat()
            raise DocumentError(shown, _size_reason(len(data), max_bytes))
        try:
            text = _decode(data)
        except ValueError as e:
            raise DocumentError(shown, str(e)) from None
        if not text.strip():
            raise DocumentError(shown, "empty file")

        loaded = LOADERS[suffix](text, _relative_id(path, root), str(path.resolve()), shown)
        result.dispatches.extend(loaded.dispatches)
        result.errors.extend(loaded.errors)
    except DocumentError as e:
        result.errors.append(e)
    except OSError as e:
        result.errors.append(DocumentError(shown, f"cannot read file ({e.strerror or e})"))
    except ImportError:  # a broken installation, not a bad file
        raise
    except Exception as e:  # noqa: BLE001 - a parser bug must not stop a whole indexing run
        result.errors.append(DocumentError(shown, f"could not load: {type(e).__name__}: {e}"))
    return result
