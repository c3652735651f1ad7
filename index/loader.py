"""Loading files under a time budget: :func:`index.documents.load_file` in a worker process.

A pathological file (markup nested 100,000 deep, a regex-hostile line, ...) must not hold the
writer lock for minutes. One persistent worker process loads every file; the indexer waits at most
``loader_timeout`` seconds for each (more for big files, see :func:`budget`), then kills the worker,
reports the file as failed and starts a fresh worker for the next file.

Overhead: one pipe round trip and a pickle of the loaded dispatches per file (tens of
microseconds for a dispatch, ~0.3 s for a 45 MB JSONL of 20,000 articles) plus one worker start
(~0.3 s, once per process, not counted in any file's budget). The worker is a fresh interpreter
(``python -c``, not a fork, nor multiprocessing's spawn, which re-runs the caller's main script): it
never inherits the writer lock, the model or their threads, and any script may call the indexer.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from index.dispatch import DocumentError, LoadResult
from index.documents import load_file

__all__ = ["BUDGET_STEP_BYTES", "FileLoader", "budget"]

BUDGET_STEP_BYTES = 8 * 1024 * 1024  # a file gets one loader_timeout per started 8 MiB
READY_TIMEOUT = 120.0  # seconds a fresh worker may take to import its modules (shared, loaded machine)


def budget(timeout: float, size: int) -> float:
    """Seconds a file of ``size`` bytes may take: ``timeout`` per started 8 MiB.

    Normal dispatches load at ~10 MB/s, so a large JSONL is never cut for being large, while a
    small hostile file gets the plain ``timeout``.
    """
    return timeout * max(1, math.ceil(size / BUDGET_STEP_BYTES))


_WORKER = "import sys; from index.loader import serve; serve(int(sys.argv[1]))"
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])  # holds the `index` package


def serve(fd: int) -> None:
    """The worker (run as ``python -c``): load the files asked for on the socket ``fd``, one at a
    time, until the parent closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn = Connection(fd)
    import bs4  # noqa: F401 - imported before "ready", so no file's budget pays for it
    import trafilatura  # noqa: F401

    import index.french  # noqa: F401

    conn.send("ready")
    while True:
        try:
            path, root, max_bytes = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe, or died
            return
        conn.send(load_file(Path(path), Path(root), max_bytes))


class FileLoader:
    """``load(path, root)`` like ``load_file``, in a worker process, within the time budget.

    ``timeout <= 0`` loads in this process with no limit. Thread-safe (one file at a time).
    """

    def __init__(self, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None

    def load(self, path: Path, root: Path) -> LoadResult:
        if self.timeout <= 0:
            return load_file(path, root, self.max_bytes)
        with self._lock:
            try:
                size = os.stat(path).st_size
            except OSError:
                size = 0  # load_file reports it
            limit = budget(self.timeout, size)
            conn = self._worker()
            if conn is None:  # no worker could start: load here rather than not at all
                return load_file(path, root, self.max_bytes)
            conn.send((str(path), str(root), self.max_bytes))
            try:
                if conn.poll(limit):
                    return conn.recv()
            except (EOFError, OSError):
                code = self._stop()
                return _failed(path, f"the loader process died while reading this file (exit code {code}); "
                                     "skipped")
            self._stop()
            return _failed(path, f"took longer than {limit:g} s to load (loader_timeout); skipped")

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __enter__(self) -> FileLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the worker ----------------------------------------------------------------------------
    def _worker(self) -> Any:
        if self._proc is not None and self._proc.poll() is None:
            return self._conn
        self._stop()
        mine, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (_PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p)}
        try:
            proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(theirs.fileno())],
                                    pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL)  # stdout belongs to the CLI's JSON
        except OSError as exc:
            mine.close()
            print(f"warning: no loader process ({exc}); loading files without a time limit", file=sys.stderr)
            return None
        finally:
            theirs.close()
        parent = Connection(mine.detach())
        try:
            ready = parent.poll(READY_TIMEOUT) and parent.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        self._proc, self._conn = proc, parent
        if not ready:
            self._stop()
            print("warning: the loader process did not start; loading files without a time limit", file=sys.stderr)
            return None
        return parent

    def _stop(self) -> int | None:
        """Kill the worker (if any); its exit code."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None


def _failed(path: Path, reason: str) -> LoadResult:
    return LoadResult(errors=[DocumentError(os.path.abspath(path), reason)])
