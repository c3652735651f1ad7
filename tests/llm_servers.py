"""Small HTTP servers speaking the Ollama and OpenAI chat protocols, for the generative-answer tests.

They run on a real socket on 127.0.0.1, so the real llama-index clients (and the httpx/openai
libraries under them) are exercised end to end. What they "answer" is scripted by the test:
a function from the request's messages to the text to stream, in deltas.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[list[dict[str, Any]]], str]


@dataclass
class Behaviour:
    script: Script
    status: int = 200          # non-200: answer with an error body instead
    delay: float = 0.0         # seconds to wait before the first byte
    delta_chars: int = 6       # characters per streamed delta
    fail_after: int | None = None  # drop the connection after this many deltas


@dataclass
class FakeServer:
    kind: str  # "ollama" or "openai"
    behaviour: Behaviour
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}" + ("/v1" if self.kind == "openai" else "")

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> dict[str, Any]:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n) or b"{}")

            def _json(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                fake.headers.append(dict(self.headers))
                if fake.kind == "openai" and self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
                elif fake.kind == "ollama" and self.path == "/api/tags":
                    self._json(200, {"models": [{"name": "fake"}]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                fake.headers.append(dict(self.headers))
                if fake.kind == "ollama" and self.path == "/api/show":
                    if body.get("model") != "fake":
                        self._json(404, {"error": f"model '{body.get('model')}' not found"})
                    else:
                        self._json(200, {"modelinfo": {"llama.context_length": 4096}, "details": {}})
                    return
                chat_path = "/api/chat" if fake.kind == "ollama" else "/v1/chat/completions"
                if self.path != chat_path:
                    self._json(404, {"error": f"unknown path {self.path}"})
                    return
                fake.requests.append(body)
                b = fake.behaviour
                if b.delay:
                    time.sleep(b.delay)
                if b.status != 200:
                    self._json(b.status, {"error": {"message": "the model crashed", "type": "server_error"}}
                               if fake.kind == "openai" else {"error": "the model crashed"})
                    return
                text = b.script(body.get("messages", []))
                pieces = [text[i:i + b.delta_chars] for i in range(0, len(text), b.delta_chars)] or [""]
                if fake.kind == "ollama":
                    self._ollama(body, pieces, b.fail_after)
                else:
                    self._openai(body, pieces, b.fail_after)

            def _ollama(self, body: dict[str, Any], pieces: list[str], fail_after: int | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, piece in enumerate(pieces):
                    if fail_after is not None and i >= fail_after:
                        self.wfile.flush()
                        self.connection.close()
                        return
                    self._chunk({"model": body.get("model"), "created_at": "2025-01-01T00:00:00Z",
                                 "message": {"role": "assistant", "content": piece}, "done": False})
                self._chunk({"model": body.get("model"), "created_at": "2025-01-01T00:00:01Z",
                             "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                             "total_duration": 1000, "prompt_eval_count": 10, "eval_count": len(pieces)})
                self.wfile.write(b"0\r\n\r\n")

            def _openai(self, body: dict[str, Any], pieces: list[str], fail_after: int | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": body.get("model")}
                self._sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                "finish_reason": None}]})
                for i, piece in enumerate(pieces):
                    if fail_after is not None and i >= fail_after:
                        self.wfile.flush()
                        self.connection.close()
                        return
                    self._sse({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                self._sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self._raw(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")

            def _chunk(self, data: dict[str, Any]) -> None:
                self._raw(json.dumps(data).encode() + b"\n")

            def _sse(self, data: dict[str, Any]) -> None:
                self._raw(b"data: " + json.dumps(data).encode() + b"\n\n")

            def _raw(self, payload: bytes) -> None:
                self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                self.wfile.flush()

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (the timeout tests) leaves a broken pipe behind: expected, not news.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


# -- scripts: what the scripted "model" writes ---------------------------------------------------

PASSAGE_RE = re.compile(r"<<<PASSAGE (\d+) ([0-9a-f]+)>>>\n(.*?)\n<<<END \2>>>", re.DOTALL)


def passages_in(messages: list[dict[str, Any]]) -> dict[int, str]:
    """Passage number -> text, read back from the user message the way a model would see it."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    out = {}
    for m in PASSAGE_RE.finditer(user):
        lines = m.group(3).split("\n")
        body = [line for line in lines if not line.startswith(("Title:", "Date:", "Source:", "(Note:"))]
        out[int(m.group(1))] = "\n".join(body).strip()
    return out


def first_sentence(text: str) -> str:
    from index.chunking import split_sentences

    text = " ".join(text.split())
    spans = [sp for sp in split_sentences(text) if sp.kind == "sentence"]
    return text[spans[0].start:spans[0].end] if spans else text


def quoting(*numbers: int, extra: str = "") -> Script:
    """Copies the first sentence of each given passage, cited; then `extra` (raw)."""
    def script(messages: list[dict[str, Any]]) -> str:
        got = passages_in(messages)
        parts = [f"{first_sentence(got[n])} [{n}]" for n in numbers if n in got]
        return " ".join(parts) + (" " + extra if extra else "")
    return script


def fixed(text: str) -> Script:
    return lambda messages: text
