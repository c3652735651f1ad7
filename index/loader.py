"""Loading files under a time budget: :func:`index.documents.load_file` in a worker process.

A pathological file (markup nested 100,000 deep, a regex-hostile line, ...) must not hold the
writer lock for minutes. One persistent worker process loads every file; the indexer waits at most
``loader_timeout`` seconds for each (more for big files, see :func:`budget`), then kills the worker,
reports the file as failed and starts a fresh worker for the next file.

Overhead: one pipe round trip and a pickle of the loaded dispatches per file (tens of
microseconds for a dispatch, ~0.3 s for a 45 MB JSONL of 20,000 articles) plus one worker start
(~0.5 s, once per process, not counted in any file's budget). The worker is spawned, not forked:
it never inherits the writer lock, the model or their threads.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from index.documents import DocumentError, LoadResult, load_file

__all__ = ["BUDGET_STEP_BYTES", "FileLoader", "budget"]

BUDGET_STEP_BYTES = 8 * 1024 * 1024  # a file gets one loader_timeout per started 8 MiB
READY_TIMEOUT = 120.0  # seconds a fresh worker may take to import its modules (shared, loaded machine)


def budget(timeout: float, size: int) -> float:
    """Seconds a file of ``size`` bytes may take: ``timeout`` per started 8 MiB.

    Normal dispatches load at ~10 MB/s, so a large JSONL is never cut for being large, while a
    small hostile file gets the plain ``timeout``.
    """
    return timeout * max(1, math.ceil(size / BUDGET_STEP_BYTES))


def _serve(conn: Any) -> None:
    """The worker: load the files asked for, one at a time, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import bs4  # noqa: F401 - imported before "ready", so no file's budget pays for it

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
        if self._proc is not None and self._proc.is_alive():
            return self._conn
        self._stop()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child,), name="dispatch-qa-loader", daemon=True)
        try:
            proc.start()
        except OSError as exc:
            print(f"warning: no loader process ({exc}); loading files without a time limit", file=sys.stderr)
            return None
        child.close()
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
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=10)
        return proc.exitcode


def _failed(path: Path, reason: str) -> LoadResult:
    return LoadResult(errors=[DocumentError(os.path.abspath(path), reason)])
