"""Helpers shared by the tests/test_ui_*.py modules: private index copies, free ports, launching, chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "ui"
SEED_QUESTION = "Que demande Poutine pour un cessez-le-feu ?"
FOLLOW_UP = "Et qu'en dit le Kremlin ?"
OFF_TOPIC_FR = "Quelle est la recette de la tarte tatin aux pommes caramélisées ?"
OFF_TOPIC_EN = "What is the best recipe for a caramelised apple tarte tatin?"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

def private_copy(settings, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A writable copy of an indexed data dir (the conftest's seeds index is shared, read-only)."""
    target = tmp_path_factory.mktemp(name) / "data"
    shutil.copytree(settings.data_dir, target)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, deadline_s: float = 300.0) -> None:
    """Wait until `url` answers (a readiness guard, not a timing assertion)."""
    deadline = time.monotonic() + deadline_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer: {last}")


def serve_process(data: Path, log: Path, **env_vars: str):
    """`dispatch-qa serve --no-seed` on `data` in another process, with the given DISPATCH_QA_* variables
    (none from the developer's shell); yields its URL once it answers, stops it with Ctrl-C after."""
    import signal

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_QA_")}
    env.update(HF_HUB_OFFLINE="1", **env_vars)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--no-seed", "--data-dir", str(data),
                                 "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/", proc)
    except RuntimeError:
        proc.kill()
        raise RuntimeError(log.read_text()) from None
    yield url
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def cli(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    """`dispatch-qa ...` in another process, as a user would run it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "assistant", *args, "--data-dir", str(data_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=check, timeout=600)


def launch_in_thread(pipeline, settings, **extra):
    """Build and launch the app on a free loopback port; returns (demo, url)."""
    from ui.app import build_app, launch_options, queue

    settings = settings.replace(port=free_port())
    demo = queue(build_app(pipeline, settings), settings)
    options = {**launch_options(settings), **extra}
    demo.launch(prevent_thread_lock=True, quiet=True, **options)
    return demo, demo.local_url


def chromium_or_skip() -> str:
    """The Debian chromium; skip only off CI when it is missing and cannot be installed here (not root)."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    message = (f"browser tests need Debian chromium at {CHROMIUM}: run `make setup` as root "
               "(apt-get install -y chromium)")
    if os.environ.get("CI") or (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.fail(message)
    pytest.skip(message)


def article(path: Path, title: str, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return path
