"""Hand-labelled JSONL sets read by the benches (`bench speakers`, `bench dates`): one object per
line, blank lines skipped; a bad line raises `error` naming the file, the line and the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def labelled_lines(path: Path, fields: tuple[str, ...],
                   error: type[Exception] = ValueError) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of each labelled line, every field of `fields` present."""
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{n}: not JSON ({exc.msg})") from None
            missing = [f for f in fields if f not in item]
            if missing:
                raise error(f"{path}:{n}: missing field {missing[0]!r}")
            yield n, item
