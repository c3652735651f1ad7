"""A progress bar on stderr for long commands (stdout stays free for `--json`)."""

from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """Created lazily on the first update, so a command that has nothing to do draws nothing."""

    def __init__(self, desc: str, unit: str = "doc", enabled: bool = True) -> None:
        self.desc, self.unit, self.enabled = desc, unit, enabled
        self._bar: Any = None

    def update(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, leave=False,
                             disable=None)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
