"""`index --workers N`: passages encoded by N worker processes, while the caller stays the one writer.

Each worker is a fresh interpreter (``python -c``, like the file loader's, for the same reasons: no
inherited writer lock, model or threads, and no re-run of the caller's main script, which
multiprocessing's spawn and sentence-transformers' own pool both do). It builds the same
:class:`Embedder` (model, resolved backend, batch size) on the CPU with its share of the threads,
so its vectors are the in-process ones up to float noise.

The texts of one call are sorted longest first (the order sentence-transformers itself encodes in)
and cut into tasks of a few encoder batches; an idle worker takes the next task, and the vectors are
put back in the caller's order. Nothing here writes anything: the caller commits after the call
returns, so a worker dying, Ctrl-C or ``kill -9`` loses no committed work.

Workers end when the pool closes, when their pipe closes (the caller died), and on Linux as soon as
the caller dies (PR_SET_PDEATHSIG), even in the middle of a task.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Embedder, EmbeddingError

__all__ = ["EncoderPool", "PassageEncoder", "TASK_BATCHES", "available_cores", "threads_per_worker"]

TASK_BATCHES = 4  # encoder batches per task: large enough that a pipe round trip is noise
READY_TIMEOUT = 600.0  # seconds N workers may take to load the model together on a loaded machine
STOP_GRACE = 2.0  # seconds an idle worker has to exit on its own before it is killed

_WORKER = "import sys; from index.encoder_pool import serve; serve(int(sys.argv[1]), int(sys.argv[2]))"
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])  # holds the `index` package


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build the caller's encoder: the resolved model and backend."""

    model: str
    backend: str
    batch_size: int
    threads: int


def available_cores() -> int:
    """Cores this process may run on (its affinity, e.g. a container's share), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_worker(threads: int, workers: int) -> int:
    """Torch threads of each of ``workers`` processes, so that together they use ``threads`` cores
    (0: every core) and never more: oversubscribed OpenMP threads spin against each other."""
    total = threads if threads > 0 else available_cores()
    return max(1, total // max(1, workers))


class PassageEncoder:
    """The indexer's passage encoder: this process, or with ``workers`` > 1 on the CPU an
    :class:`EncoderPool`, started once one call gives each worker a task (fewer texts are not worth
    N model loads: a sync with little or nothing new never starts it). On a GPU one process encodes."""

    def __init__(self, embedder: Embedder, workers: int) -> None:
        self.embedder = embedder
        self.workers = workers
        self.processes = 0  # the most processes a call encoded with since the last close: 0, 1, or workers
        self._pool: EncoderPool | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        pool = self._pool
        if pool is None and self.workers > 1 and len(texts) >= self.workers * TASK_BATCHES * \
                self.embedder.batch_size and self.embedder.device == "cpu":
            pool = self._pool = EncoderPool(self.embedder, self.workers)
        if texts:
            self.processes = max(self.processes, pool.workers if pool is not None else 1)
        return pool.encode(texts) if pool is not None else self.embedder.embed(texts)

    @property
    def pids(self) -> list[int]:
        """The encoder processes running now (none in-process)."""
        return self._pool.pids if self._pool is not None else []

    def close(self) -> int:
        """Stop the encoder processes, if any (the next call starts them again when worth it); how
        many processes encoded since the last close (0: nothing was encoded)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        used, self.processes = self.processes, 0
        return used


# -- the worker side ----------------------------------------------------------------------------

def serve(fd: int, parent_pid: int) -> None:
    """The worker (run as ``python -c``): build the encoder, then encode each task received on the
    socket ``fd`` until the pool closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it stops us)
    _die_with_parent(parent_pid)
    conn = Connection(fd)
    try:
        spec: WorkerSpec = conn.recv()
        embedder = Embedder(spec.model, spec.backend, spec.batch_size, spec.threads, device="cpu")
        embedder.model  # noqa: B018 - load now: "ready" means ready to encode
        conn.send(("ready", embedder.identity))
    except (EOFError, OSError):
        return
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the pool closed the pipe, or the parent died
            return
        try:
            vectors = embedder.embed(task)
        except Exception as exc:  # noqa: BLE001
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        try:
            conn.send(("vectors", vectors))
        except OSError:
            return


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this worker when the process that started it dies (even kill -9),
    rather than letting it finish a task nobody will read. (Strictly, when the thread that started it
    ends: a pool lives inside one sync call, on one thread.)"""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the line above ran
        os._exit(0)


# -- the caller's side --------------------------------------------------------------------------

@dataclass
class _Worker:
    proc: subprocess.Popen
    conn: Connection

    def reply(self) -> Any:
        """The worker's next answer; an EmbeddingError when it failed or died."""
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            code = self.proc.poll()
            raise EmbeddingError(f"encoder process {self.proc.pid} died (exit code {code}) while encoding; "
                                 "nothing of this batch was committed. Run `index` again, or with "
                                 "--workers 1 (index_workers)") from None
        if kind == "error":
            raise EmbeddingError(f"encoder process {self.proc.pid} failed: {payload}")
        return payload


class EncoderPool:
    """``encode(texts)`` like ``Embedder.embed(texts)``, spread over ``workers`` processes.

    The processes start on the first ``encode`` and stop on ``close`` (use it as a context manager,
    or close it in a ``finally``). One caller at a time.
    """

    def __init__(self, embedder: Embedder, workers: int) -> None:
        if workers < 2:
            raise ValueError(f"an encoder pool needs at least 2 workers, got {workers}")
        self.embedder = embedder
        self.workers = workers
        self.threads_each = threads_per_worker(embedder.threads, workers)
        self._running: list[_Worker] = []

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (empty until the first encode and after close)."""
        return [w.proc.pid for w in self._running]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 passage vectors, one row per text, in the order given."""
        if not texts:
            return self.embedder.embed([])
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # stable, longest first
        step = self.embedder.batch_size * TASK_BATCHES
        tasks = [order[lo:lo + step] for lo in range(0, len(order), step)]
        try:
            rows = self._run([[texts[i] for i in task] for task in tasks])
        except BaseException:
            self.close(kill=True)  # busy workers hold replies nobody will read
            raise
        out = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
        for task, vectors in zip(tasks, rows):
            out[task] = vectors
        self.embedder.embedded_count += len(texts)
        return out

    def _run(self, tasks: list[list[str]]) -> list[np.ndarray]:
        """Each task's vectors, in task order; the next task goes to whichever worker is idle first."""
        rows: list[Any] = [None] * len(tasks)
        idle, busy = list(self._start()), {}
        todo = iter(range(len(tasks)))
        pending = len(tasks)
        while pending:
            while idle and (task := next(todo, None)) is not None:
                worker = idle.pop()
                worker.conn.send(tasks[task])
                busy[worker.conn] = (worker, task)
            for conn in wait(list(busy)):
                worker, task = busy.pop(conn)
                rows[task] = worker.reply()
                idle.append(worker)
                pending -= 1
        return rows

    def close(self, kill: bool = False) -> None:
        """Stop every worker: an idle one exits when its pipe closes; one still busy after
        STOP_GRACE seconds, or any with ``kill``, is killed. Waited for: none is left behind."""
        running, self._running = self._running, []
        for worker in running:
            worker.conn.close()
            if kill:
                worker.proc.kill()
        for worker in running:
            try:
                worker.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait()

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- starting -------------------------------------------------------------------------------
    def _start(self) -> list[_Worker]:
        if self._running:
            return self._running
        spec = WorkerSpec(self.embedder.model_name, self.embedder.backend, self.embedder.batch_size,
                          self.threads_each)
        try:
            for _ in range(self.workers):  # all started before any is waited for: they load together
                self._running.append(_spawn())
            for worker in self._running:
                worker.conn.send(spec)
            for worker in self._running:
                if not worker.conn.poll(READY_TIMEOUT):
                    raise EmbeddingError(f"encoder process {worker.proc.pid} did not load the model within "
                                         f"{READY_TIMEOUT:g} s; run with --workers 1 (index_workers)")
                identity = worker.reply()
                if identity != self.embedder.identity:
                    raise EmbeddingError(f"encoder process {worker.proc.pid} loaded '{identity}', not "
                                         f"'{self.embedder.identity}'; run with --workers 1 (index_workers)")
        except BaseException:
            self.close(kill=True)
            raise
        return self._running


def _spawn() -> _Worker:
    mine, theirs = socket.socketpair()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (_PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(theirs.fileno()), str(os.getpid())],
                                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL)  # stdout belongs to the CLI's JSON
    except OSError as exc:
        mine.close()
        raise EmbeddingError(f"cannot start an encoder process ({exc}); run with --workers 1 "
                             "(index_workers)") from None
    finally:
        theirs.close()
    return _Worker(proc, Connection(mine.detach()))
