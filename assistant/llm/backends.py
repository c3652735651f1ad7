"""The language-model client for the configured backend (Ollama, an OpenAI-compatible server, llama.cpp
in process), its start-up probe, and one-line descriptions of whatever its client library raises."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import DispatchQAError

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
# A single-model server (llama.cpp, vLLM with one model) ignores the name, but the API wants one.
DEFAULT_SERVER_MODEL = "default"
# Tokens the model is told it may use: the prompt (5 passages of <= 250 model tokens, ~2,000
# tokens of a French-capable LLM's own tokenizer with the instructions) plus an answer of
# llm_max_tokens fits in 4,096, the smallest window of the models the README suggests.
CONTEXT_WINDOW = 4096
PROBE_TIMEOUT = 5.0


class LLMConfigError(DispatchQAError, RuntimeError):
    """The configured backend cannot work as set up (missing package or model file): fix and restart."""


class LLMUnavailable(RuntimeError):
    """The model did not produce an answer this time (unreachable, error, timeout)."""


@dataclass(frozen=True)
class LLMOptions:
    backend: str
    base_url: str
    model: str
    timeout: float
    api_key_env: str
    max_tokens: int

    @classmethod
    def from_settings(cls, settings: Any) -> LLMOptions:
        return cls(backend=settings.llm, base_url=settings.llm_base_url, model=settings.llm_model,
                   timeout=float(settings.llm_timeout), api_key_env=settings.llm_api_key_env,
                   max_tokens=int(getattr(settings, "llm_max_tokens", 384)))

    @property
    def where(self) -> str:
        if self.backend == "llama-cpp":
            return self.model
        if self.backend == "ollama":
            return self.base_url or DEFAULT_OLLAMA_URL
        return self.base_url


def _missing(package: str, extra: str) -> LLMConfigError:
    return LLMConfigError(
        f"llm backend needs the Python package `{package}`, which is not installed: run "
        f"`pip install 'dispatch-qa[{extra}]'` (or `pip install {package}`), or set llm = none")


def build_llm(options: LLMOptions) -> Any:
    """The llama-index LLM for the configured backend; configuration mistakes raise LLMConfigError."""
    if options.backend == "ollama":
        try:
            from llama_index.llms.ollama import Ollama
        except ImportError:
            raise _missing("llama-index-llms-ollama", "llm") from None
        if not options.model:
            raise LLMConfigError("llm = ollama needs llm_model (e.g. `--llm-model qwen2.5:3b`, a model pulled "
                                 "with `ollama pull`)")
        return Ollama(model=options.model, base_url=(options.base_url or DEFAULT_OLLAMA_URL).rstrip("/"),
                      request_timeout=options.timeout, temperature=0.0, context_window=CONTEXT_WINDOW,
                      additional_kwargs={"num_predict": options.max_tokens})
    if options.backend == "openai-compatible":
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError:
            raise _missing("llama-index-llms-openai-like", "llm") from None
        if not options.base_url:
            raise LLMConfigError("llm = openai-compatible needs llm_base_url, e.g. http://127.0.0.1:8080/v1")
        # Local servers take any key; the client library insists on one.
        api_key = os.environ.get(options.api_key_env, "") or "not-needed"
        return OpenAILike(model=options.model or DEFAULT_SERVER_MODEL, api_base=options.base_url.rstrip("/"),
                          api_key=api_key, is_chat_model=True, context_window=CONTEXT_WINDOW,
                          max_tokens=options.max_tokens, temperature=0.0, timeout=options.timeout,
                          max_retries=0)
    if options.backend == "llama-cpp":
        return _llama_cpp(options)
    raise LLMConfigError(f"llm must be none, ollama, openai-compatible or llama-cpp, got '{options.backend}'")


def _llama_cpp(options: LLMOptions) -> Any:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError:
        raise _missing("llama-index-llms-llama-cpp", "llama-cpp") from None
    path = Path(options.model).expanduser() if options.model else None
    if path is None or not path.is_file():
        raise LLMConfigError(f"llm = llama-cpp needs llm_model set to a local .gguf file; "
                             f"'{options.model}' is not a file")
    try:
        llm = LlamaCPP(model_path=str(path), temperature=0.0, max_new_tokens=options.max_tokens,
                       context_window=CONTEXT_WINDOW, verbose=False,
                       generate_kwargs={"top_k": 1}, model_kwargs={"verbose": False})
    except Exception as exc:  # llama.cpp reports a bad file as ValueError/RuntimeError
        raise LLMConfigError(f"llm_model {path}: llama.cpp cannot load it ({exc})") from None
    llm.messages_to_prompt = _template_renderer(llm._model)
    return llm


def _template_renderer(model: Any) -> Callable[[Sequence[Any]], str]:
    """Messages -> prompt with the chat template stored in the GGUF (llama-index's default is Llama-2's)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    metadata = getattr(model, "metadata", {}) or {}
    template = metadata.get("tokenizer.chat_template")

    def token(key: str) -> str:
        tid = metadata.get(key)
        return model._model.token_get_text(int(tid)) if tid is not None else ""

    if not template:
        def plain(messages: Sequence[Any]) -> str:
            body = "\n\n".join(f"{m.role.value.upper()}:\n{m.content}" for m in messages)
            return f"{body}\n\nASSISTANT:\n"
        return plain
    formatter = Jinja2ChatFormatter(template=template, eos_token=token("tokenizer.ggml.eos_token_id"),
                                    bos_token="")  # llama.cpp adds BOS itself when tokenising

    def render(messages: Sequence[Any]) -> str:
        result = formatter(messages=[{"role": m.role.value, "content": m.content} for m in messages])
        return result.prompt

    return render


def probe(options: LLMOptions, llm: Any = None) -> str | None:
    """None when the backend answers; otherwise why not, in one line."""
    import httpx

    timeout = min(options.timeout, PROBE_TIMEOUT)
    try:
        if options.backend == "ollama":
            base = (options.base_url or DEFAULT_OLLAMA_URL).rstrip("/")
            r = httpx.post(f"{base}/api/show", json={"model": options.model}, timeout=timeout)
            if r.status_code == 404:
                return (f"the Ollama server at {base} has no model '{options.model}' "
                        f"(run `ollama pull {options.model}`)")
            r.raise_for_status()
        elif options.backend == "openai-compatible":
            base = options.base_url.rstrip("/")
            key = os.environ.get(options.api_key_env, "")
            r = httpx.get(f"{base}/models", timeout=timeout,
                          headers={"Authorization": f"Bearer {key}"} if key else {})
            if r.status_code in (401, 403):
                return (f"the server at {base} refused the API key (HTTP {r.status_code}); "
                        f"set the environment variable {options.api_key_env}")
            r.raise_for_status()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised
        return f"the language model at {options.where} is unreachable ({describe_failure(exc, options)})"
    return None


def describe_failure(exc: BaseException, options: LLMOptions) -> str:
    """One line a user can act on, from whatever the client library raised."""
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"TimeoutException", "APITimeoutError", "TimeoutError", "ReadTimeout", "ConnectTimeout"}:
        return f"no answer within {options.timeout:g} s"
    if names & {"ConnectError", "APIConnectionError", "ConnectionError", "ConnectionRefusedError"}:
        return f"cannot connect to {options.where}"
    status = getattr(exc, "status_code", None)
    if status is None and getattr(exc, "response", None) is not None:
        status = getattr(exc.response, "status_code", None)
    text = " ".join(str(getattr(exc, "error", None) or getattr(exc, "message", None) or exc).split())[:200]
    return f"server error {status}: {text}" if status not in (None, -1) else f"{type(exc).__name__}: {text}"
