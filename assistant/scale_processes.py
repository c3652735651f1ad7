"""The real processes `bench scale` times: `chroma run`, `dispatch-qa serve`, `dispatch-qa ask`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from assistant.errors import CommandError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the resident peak) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_QA_")}
    env.update({"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False"})
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def wait_for(proc: subprocess.Popen, url: str, timeout: float, name: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise CommandError(f"{name} exited with {proc.returncode}: {log.read_text(errors='replace')[-1500:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise CommandError(f"{name} did not answer {url} within {timeout:g} s (log: {log})")
        time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def chroma_binary() -> str:
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        raise CommandError("server mode needs the `chroma` CLI (next to this Python or on PATH)")
    return found


def start_chroma(folder: Path) -> tuple[subprocess.Popen, int]:
    """A real `chroma run` on a free port, storing under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "chroma.log"
    proc = subprocess.Popen([chroma_binary(), "run", "--host", "127.0.0.1", "--port", str(port),
                             "--path", str(folder / "db")], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=child_env())
    try:
        wait_for(proc, f"http://127.0.0.1:{port}/api/v2/heartbeat", 180, "chroma run", log)
    except CommandError:
        stop(proc)
        raise
    return proc, port


def cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "assistant", *argv]


def time_ask(store_flags: list[str], question: str, log: Path, profile_to: Path | None = None) -> float:
    """Wall time of a whole `dispatch-qa ask` process: interpreter, model, stores, one answer.
    With `profile_to`, run under cProfile and write its summary there (the time is then inflated)."""
    argv = cli("ask", *store_flags, "--json", question)
    raw = log.with_suffix(".prof")
    if profile_to:
        argv = [argv[0], "-m", "cProfile", "-o", str(raw), *argv[1:]]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=child_env(), timeout=900)
    seconds = time.perf_counter() - started
    if profile_to and done.returncode == 0:
        import pstats

        write_profile(pstats.Stats(str(raw)), profile_to)
    log.write_text(done.stdout[-4000:] + done.stderr[-4000:])
    if done.returncode != 0:
        raise CommandError(f"`dispatch-qa ask` failed ({done.returncode}): {done.stderr[-1500:]}")
    return seconds


def measure_serve(store_flags: list[str], questions: list[str], log: Path) -> dict[str, Any]:
    """Start `dispatch-qa serve`, time until its page answers, ask every question through its
    OpenAI-compatible API, then read its resident peak."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(cli("serve", *store_flags, "--no-seed", "--port", str(port), "--api-rate-limit", "0"),
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=child_env())
    try:
        wait_for(proc, f"http://127.0.0.1:{port}/", 900, "dispatch-qa serve", log)
        cold = time.perf_counter() - started
        rss_started = peak_rss_mb(proc.pid)
        latencies = [_chat(port, q) for q in questions]
        # The page answers before the model loads: the first answer is the cold start users feel.
        first = cold + latencies[0] / 1000 if latencies else None
        return {"cold_start_serve_s": round(cold, 2), "serve_first_answer_s": first and round(first, 2),
                "serve_rss_started_mb": rss_started,
                "serve_rss_mb": peak_rss_mb(proc.pid), "api_latencies_ms": latencies[1:]}
    finally:
        stop(proc)


def _chat(port: int, question: str) -> float:
    body = json.dumps({"model": "dispatch-qa", "messages": [{"role": "user", "content": question}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as resp:
        resp.read()
    return (time.perf_counter() - started) * 1000


def write_profile(profile: Any, path: Path, lines: int = 60) -> None:
    """The top of a cProfile run by cumulative time, as text."""
    import io
    import pstats

    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    stats = profile if isinstance(profile, pstats.Stats) else pstats.Stats(profile, stream=out)
    stats.stream = out
    stats.sort_stats("cumulative").print_stats(lines)
    path.write_text(out.getvalue())
