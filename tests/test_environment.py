"""Nothing phones home, set once by the entry points; a user's own hub setting is kept."""

from __future__ import annotations

import os

from assistant.environment import quiet_environment

QUIET = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
         "ORT_DISABLE_TELEMETRY": "1"}


def test_entry_point_quiets_the_libraries(monkeypatch):
    for key in QUIET:
        monkeypatch.delenv(key, raising=False)
    quiet_environment()
    assert {k: os.environ[k] for k in QUIET} == QUIET


def test_a_user_who_can_reach_the_hub_keeps_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    quiet_environment()
    assert os.environ["HF_HUB_OFFLINE"] == "0"


def test_the_cli_main_quiets_before_anything_else(monkeypatch, capsys):
    from assistant.cli import main

    for key in QUIET:
        monkeypatch.delenv(key, raising=False)
    try:
        main(["--help"])
    except SystemExit:  # argparse's --help
        pass
    assert {k: os.environ[k] for k in QUIET} == QUIET
