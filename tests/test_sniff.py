"""Content sniffing: a binary file with a text extension is refused by name, whatever it is called."""

import gzip
import io
import zipfile

import pytest

from index.documents import load_file
from index.sniff import binary_kind, not_text_reason


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.mark.parametrize("head, kind", [
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    (_zip(), "ZIP"),
    (gzip.compress(b"Le texte."), "gzip"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
    (b"GIF89a\x01\x00", "GIF"),
    (b"BZh91AY&SY", "bzip2"),
    (b"ID3\x04\x00\x00\x00\x00\x00", "MP3"),
    (b"RIFF\x24\x08\x00\x00WAVEfmt ", "RIFF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8, "Microsoft Office"),
    (b"\x00\x00\x00\x18ftypmp42", "MP4"),
    (b"SQLite format 3\x00", "SQLite"),
    (b"\x7fELF\x02\x01\x01", "ELF"),
    (b"abc\x00def", "NUL"),
    (bytes(range(1, 32)) * 20, "control characters"),
])
def test_binary_content_is_named(head, kind):
    assert kind in binary_kind(head)
    assert not_text_reason(head).startswith("binary file, not text")


@pytest.mark.parametrize("head", [
    "Le président a parlé. « Citation » — fin.\n".encode(),
    b"\xef\xbb\xbfdate 2025-03\nTexte.",
    b"title: BZh, un mot\n\nTexte",
    b"BZh mais pas bzip2",
    b"ID3 est un algorithme d'arbre de decision.",
    b"RIFF : le fonds a annonce mardi une levee de 3 millions.",
    b"OggS, Reuters -- la societe a annonce",
    b"Colonne\tcolonne\r\nTabulations\tet\fsauts.\x1b[0m",
    "é".encode() * 5000,  # a multi-byte character cut at the sniff boundary is still text
    b"",
])
def test_text_is_text(head):
    assert binary_kind(head) is None and not_text_reason(head) is None


def test_a_pdf_renamed_txt_is_refused_by_name(tmp_path):
    f = tmp_path / "rapport.txt"
    f.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    result = load_file(f, tmp_path, 10_000_000)
    assert result.dispatches == []
    [error] = result.errors
    assert error.path == str(f)
    assert "PDF" in error.reason and error.reason.startswith("binary file, not text")


@pytest.mark.parametrize("name", ["a.json", "a.md", "a.html", "a.jsonl"])
def test_every_text_format_is_sniffed(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(_zip())
    [error] = load_file(f, tmp_path, 10_000_000).errors
    assert "ZIP" in error.reason
