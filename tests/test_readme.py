"""The README documents every setting, exactly as the code defines it."""

from dataclasses import fields
from pathlib import Path

from assistant.settings import ENV_PREFIX, Settings, markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_readme_table():
    text = README.read_text(encoding="utf-8")
    for f in fields(Settings):
        assert f"`{f.name}`" in text, f"setting {f.name} missing from README"
        assert f"{ENV_PREFIX}{f.name.upper()}" in text


def test_readme_table_matches_the_code():
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0].strip()
    assert block == markdown_table(), "README settings table is stale: run `make docs`"


def test_quickstart_is_two_commands():
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quickstart")[1].split("```")[1]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make run", "make test"]
