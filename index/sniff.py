"""Is this text? A file's first bytes -> None (looks like text) or what it looks like instead.

Pure and cheap (reads nothing, imports nothing heavy), so the indexer and the web upload both
call it on the bytes they already hold: a PDF renamed ``.txt`` must be refused by name, not
indexed as "%PDF-1.4".
"""

from __future__ import annotations

import re

__all__ = ["SNIFF_BYTES", "binary_kind", "not_text_reason"]

SNIFF_BYTES = 8192  # how much of a file the checks read
CONTROL_SHARE_MAX = 0.05  # more control characters than this share of the head: not text

# (signature at offset 0, what it is). Longer signatures first where they share a prefix.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or .docx/.odt/.epub)"),
    (b"PK\x05\x06", "a ZIP archive (or .docx/.odt/.epub)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"RIFF", "a RIFF media file (WebP, WAV, AVI)"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Microsoft Office document (.doc/.xls/.ppt)"),
    (b"{\\rtf", "an RTF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "an executable (ELF)"),
    (b"\x00asm", "a WebAssembly module"),
)
# C0/C1 control characters other than tab, line feed, vertical tab, form feed, return and escape.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


def binary_kind(head: bytes) -> str | None:
    """What the first bytes of a file look like when it is not text, else None.

    Checks, in order: known magic numbers (PDF, ZIP, gzip, PNG, JPEG, ...), an ``ftyp`` box (MP4,
    HEIC), NUL bytes, then the share of control characters in the first ``SNIFF_BYTES``.
    A UTF-8 or UTF-16 byte-order mark is not binary (the decoder has its own message for UTF-16).
    """
    head = head[:SNIFF_BYTES]
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None
    for magic, kind in _MAGIC:
        if head.startswith(magic) and _confirmed(magic, head):
            return kind
    if head[4:8] == b"ftyp":
        return "an MP4/QuickTime media file"
    if b"\x00" in head:
        return "binary data (NUL bytes)"
    text = head.decode("utf-8", errors="ignore")
    if text:
        share = len(_CONTROL_RE.findall(text)) / len(text)
        if share > CONTROL_SHARE_MAX:
            return f"binary data ({share:.0%} control characters)"
    return None


# Signatures made of letters could open a real text ("ID3 est un algorithme..."): these need the
# binary bytes that follow them in the format too.
_CONFIRM = {
    b"BZh": lambda h: h[3:4].isdigit() and h[4:10] == b"1AY&SY",
    b"ID3": lambda h: h[3:4] in (b"\x02", b"\x03", b"\x04") and h[4:5] == b"\x00",
    b"RIFF": lambda h: h[8:12] in (b"WEBP", b"WAVE", b"AVI "),
    b"OggS": lambda h: h[4:5] == b"\x00",
    b"fLaC": lambda h: h[4:5] in (b"\x00", b"\x80"),
}


def _confirmed(magic: bytes, head: bytes) -> bool:
    check = _CONFIRM.get(magic)
    return check is None or bool(check(head))


def not_text_reason(head: bytes) -> str | None:
    """The reason to refuse a file whose first bytes are ``head`` (a message for people), else None."""
    kind = binary_kind(head)
    return None if kind is None else f"binary file, not text: the content is {kind}, whatever its extension"
