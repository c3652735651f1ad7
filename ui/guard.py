"""The web chat's front door: an ASGI middleware in front of every Gradio route.

Gradio answers any `Host:`, lets every event (the hidden library ones too) be called by name or by
`fn_index`, stores any file its raw upload route receives, and serves `file=` paths from several
places. The Guard refuses, before Gradio sees the request:

- a `Host:` that is not one the server answers to (DNS rebinding): 400;
- a foreign `Origin:` (another site, `null`, a rebinding name) on any request: 403;
- with a login, any route but the login page and its assets without the session cookie: 401
  (the OpenAI-compatible API under /v1 checks its own bearer token instead);
- an API call by name (`/run/`, `/call/`, `/api/`) of anything but the public endpoints: 404;
- a `file=` path outside Gradio's temporary upload folder, and the `proxy=` route: 403;
- an upload (`/gradio_api/upload`) holding a file of a type the library does not take: 415,
  before anything is written where Gradio could serve it back.

Installed by `launch_options` through Gradio's `app_kwargs`, so it wraps the app Gradio builds.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from assistant.settings import SettingsError

PUBLIC_API = frozenset({"ask", "index_status", "documents"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TEMP_DIR_NAME = "gradio-tmp"
UPLOAD_ROUTE = "/gradio_api/upload"
UPLOAD_BATCH_FILES = 20  # one upload request may carry this many files of upload_max_bytes
_API_CALL_RE = re.compile(r"^/gradio_api/(?:call/v2|call|run|api)/([^/]+)")
_FILE_PREFIXES = ("/gradio_api/file=", "/gradio_api/file/")
# What the login page itself needs before the session cookie exists.
_OPEN_EXACT = frozenset({"/", "/login", "/login/", "/logout", "/favicon.ico", "/robots.txt", "/theme.css",
                         "/gradio_api/theme.css", "/gradio_api/login_check", "/gradio_api/login_check/",
                         "/gradio_api/startup-events"})  # launch() itself calls startup-events
_OPEN_PREFIXES = ("/assets/", "/static/", "/svelte/")


# -- binding, login, hosts and origins ----------------------------------------------------------

def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(value: str) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SettingsError("auth must be 'user:password' (both non-empty)")
    return user, password


def split_host(value: str) -> tuple[str, int | None] | None:
    """`name[:port]` / `[v6][:port]` -> (lower-case name without brackets or final dot, port); None if malformed."""
    value = value.strip().lower()
    match = re.fullmatch(r"(\[[0-9a-f:.]+\]|[^:\[\]/@\s]+)(?::(\d{1,5}))?", value)
    if not match:
        return None
    name = match.group(1).strip("[]").rstrip(".")
    return (name, int(match.group(2)) if match.group(2) else None) if name else None


@dataclass(frozen=True)
class GuardPolicy:
    hosts: tuple[tuple[str, int | None], ...]     # (name, port or None = any port)
    trusted_origins: tuple[tuple[str, int | None], ...]  # allowed_hosts: accepted as Origin too
    upload_suffixes: tuple[str, ...]
    upload_max_bytes: int
    temp_dir: Path
    login: bool
    public_api: frozenset[str] = PUBLIC_API

    def host_allowed(self, host: str | None) -> bool:
        parsed = split_host(host or "")
        return parsed is not None and _matches(parsed, self.hosts)

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        """Same origin as the (already accepted) Host, or one of allowed_hosts (a proxy's public name)."""
        try:
            parts = urlsplit(origin.strip())
            port = parts.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        default = 443 if parts.scheme == "https" else 80
        name = parts.hostname.lower().rstrip(".")
        if _matches((name, port or default), self.trusted_origins):
            return True
        own = split_host(host or "")
        return own is not None and own[0] == name and (own[1] or default) == (port or default)


def _matches(parsed: tuple[str, int | None], entries: Iterable[tuple[str, int | None]]) -> bool:
    name, port = parsed
    return any(name == n and (p is None or p == port) for n, p in entries)


def policy_for(settings: Any, upload_suffixes: tuple[str, ...], login: bool) -> GuardPolicy:
    extra = tuple(p for p in (split_host(h) for h in settings.allowed_hosts) if p is not None)
    host = settings.host.strip()
    bound = split_host(f"[{host}]" if ":" in host and not host.startswith("[") else host)  # a bare IPv6
    hosts = tuple((name, None) for name in LOOPBACK_HOSTS) + ((bound,) if bound else ()) + extra
    return GuardPolicy(hosts=hosts, trusted_origins=extra, upload_suffixes=tuple(upload_suffixes),
                       upload_max_bytes=settings.upload_max_bytes, temp_dir=temp_dir(settings), login=login)


# -- Gradio's temporary folder, under the data dir ----------------------------------------------

def temp_dir(settings: Any) -> Path:
    """One folder per port: several `serve` workers on one data dir never empty each other's uploads."""
    return settings.data_dir.resolve() / TEMP_DIR_NAME / f"port-{settings.port}"


def prepare_temp_dir(settings: Any) -> Path:
    """Empty Gradio's upload folder (under the data dir) and point Gradio at it.

    GRADIO_TEMP_DIR is read when the Blocks, its components and the app are built, so this runs
    before `gr.Blocks`; one process serves one data dir.
    """
    path = temp_dir(settings)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(path)
    return path


def remove_temp_dir(settings: Any) -> None:
    shutil.rmtree(temp_dir(settings), ignore_errors=True)


def blocked_paths(settings: Any) -> list[str]:
    """Everything in the data dir but Gradio's own temporary folder (which must stay readable to Gradio)."""
    data = settings.data_dir.resolve()
    names = {"records.sqlite", "records.sqlite-wal", "records.sqlite-shm", "records.sqlite-journal", "chroma",
             "keyword", "library", "index.lock"}
    if data.is_dir():
        names |= {p.name for p in data.iterdir()}
    names.discard(TEMP_DIR_NAME)
    return [str(data / name) for name in sorted(names)] + [str(settings.library_dir.resolve())]


# -- the middleware ------------------------------------------------------------------------------

class Guard:
    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.check(scope)
        if refusal is not None:
            status, message = refusal
            if scope["type"] == "websocket":
                await WebSocketClose(code=1008, reason=message[:120])(scope, receive, send)
            else:
                await _refuse(status, message)(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") == UPLOAD_ROUTE:
            await self.screen_upload(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> tuple[int, str] | None:
        """(status, reason) when the request is refused before reaching Gradio, else None."""
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not self.policy.host_allowed(host):
            return 400, f"Host not allowed: {host!r} (add it to the allowed_hosts setting)"
        origin = headers.get("origin")
        if origin is not None and not self.policy.origin_allowed(origin, host):
            return 403, f"Cross-origin request refused (Origin {origin!r})"
        if headers.get("sec-fetch-site") == "cross-site" and headers.get("sec-fetch-mode") != "navigate":
            return 403, "Cross-site request refused"  # e.g. <img src> of a file or a GET route from another site
        path = scope["path"]
        if self.policy.login and not _open_path(path) and not _own_key_path(path) and not _logged_in(scope, headers):
            return 401, "Not authenticated: sign in first"
        call = _API_CALL_RE.match(path)
        if call and call.group(1) not in self.policy.public_api:
            return 404, f"No public API endpoint named {call.group(1)!r}"
        if path.startswith("/gradio_api/proxy="):
            return 403, "Proxying is disabled"
        for prefix in _FILE_PREFIXES:
            if path.startswith(prefix) and not self.servable(path[len(prefix):]):
                return 403, "File not allowed"
        return None

    def servable(self, target: str) -> bool:
        """Only files in Gradio's own temporary upload folder are ever served (no URL, no other path)."""
        if not target or "://" in target or target.startswith("//"):
            return False
        real = os.path.realpath(os.path.abspath(target))
        root = os.path.realpath(self.policy.temp_dir)
        return real.startswith(root + os.sep)

    async def screen_upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the multipart body into an anonymous spool, refusing it as soon as a part's file name
        has a type the library does not take; then hand the whole body to Gradio."""
        headers = Headers(scope=scope)
        content_type, params = parse_options_header(headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            await _refuse(400, "Expected a multipart/form-data upload")(scope, receive, send)
            return
        cap = self.policy.upload_max_bytes * UPLOAD_BATCH_FILES + (1 << 20)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            await _refuse(413, f"Upload larger than {cap} bytes in one request")(scope, receive, send)
            return
        names = _FileNames(boundary)
        spool = tempfile.SpooledTemporaryFile(max_size=1 << 20, dir=self.policy.temp_dir.parent)
        try:
            total = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                total += len(body)
                if total > cap:
                    await _refuse(413, f"Upload larger than {cap} bytes in one request")(scope, receive, send)
                    return
                spool.write(body)
                try:
                    names.feed(body)
                except (MultipartParseError, ValueError) as exc:
                    await _refuse(400, f"Malformed upload: {exc}")(scope, receive, send)
                    return
                bad = [n for n in names.found if not self.accepts(n)]
                if bad:
                    await _refuse(415, "Refused: " + "; ".join(
                        f"{n}: unsupported file type {_suffix_label(n)} (accepted: "
                        f"{', '.join(self.policy.upload_suffixes)})" for n in bad))(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            spool.seek(0)
            await self.app(scope, _replay(spool, total, receive), send)
        finally:
            spool.close()

    def accepts(self, filename: str) -> bool:
        """The type as Gradio would store it and as the library would name it are both accepted."""
        from gradio_client.utils import strip_invalid_filename_characters

        raw = filename.replace("\\", "/").rsplit("/", 1)[-1]
        stored = strip_invalid_filename_characters(Path(filename).name)
        return all(os.path.splitext(n)[1].lower() in self.policy.upload_suffixes for n in (raw, stored))


class _FileNames:
    """Feeds a multipart body to python-multipart (the parser Gradio uses) and collects each file
    part's name the way Gradio reads it: a `filename` in the part's Content-Disposition."""

    def __init__(self, boundary: bytes) -> None:
        self.found: list[str] = []
        self._field = b""
        self._value = b""
        self._disposition = b""
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._grow("_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._grow("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        })

    def feed(self, data: bytes) -> None:
        if data:
            self._parser.write(data)

    def _begin(self) -> None:
        self._disposition = b""

    def _grow(self, name: str, data: bytes) -> None:
        value = getattr(self, name) + data
        if len(value) > 16384:
            raise ValueError("part header too large")
        setattr(self, name, value)

    def _header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        for key, value in options.items():
            if key.startswith(b"filename"):  # filename, and filename* which Gradio ignores: refuse both alike
                self.found.append(value.decode("utf-8", errors="replace"))


def _suffix_label(name: str) -> str:
    suffix = os.path.splitext(name.replace("\\", "/").rsplit("/", 1)[-1])[1]
    return f"'{suffix}'" if suffix else "(no extension)"


def _replay(spool: Any, total: int, receive: Receive, chunk: int = 1 << 16) -> Receive:
    """The spooled body again, as ASGI messages; then the client's own messages (disconnect)."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        data = spool.read(chunk)
        more = spool.tell() < total
        done = not more
        return {"type": "http.request", "body": data, "more_body": more}

    return replay


def _open_path(path: str) -> bool:
    return path in _OPEN_EXACT or path.startswith(_OPEN_PREFIXES)


def _own_key_path(path: str) -> bool:
    """The OpenAI-compatible API (ui/openai_api.py) and the MCP server (ui/mcp_server.py) check their own
    bearer token, not the login cookie."""
    return path in ("/v1", "/mcp", "/mcp/") or path.startswith("/v1/")


def _logged_in(scope: Scope, headers: Headers) -> bool:
    app = scope.get("app")
    tokens = getattr(app, "tokens", None)
    cookie_id = getattr(app, "cookie_id", None)
    if not tokens or cookie_id is None:
        return False
    cookies = cookie_parser(headers.get("cookie", ""))
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")
    return token is not None and token in tokens


def _refuse(status: int, message: str) -> Response:
    if status == 401:
        return Response(json.dumps({"detail": message}), status_code=status, media_type="application/json")
    return PlainTextResponse(message, status_code=status)
