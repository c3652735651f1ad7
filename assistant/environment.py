"""The process environment: set once, by the entry points, so that nothing phones home."""

from __future__ import annotations

import os


def quiet_environment() -> None:
    """Nothing phones home; the hub stays reachable for users who set HF_HUB_OFFLINE themselves.

    The one place the process environment is changed at run time, before the libraries that read
    it are imported: called by the entry points (`assistant.cli.main`, `open_pipeline`).
    (ui/guard.py also points GRADIO_TEMP_DIR at the data dir: Gradio has no other way to be told.)
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
