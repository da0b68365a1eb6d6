"""Per-arch results: the `--json` document on stdout and the summary table on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TextIO

from galley.units import format_size

CacheStatus = Literal["hit", "miss", "pulled"]


@dataclass
class ArchResult:
    """What one task did for one arch."""

    arch: str
    target: str
    key: str
    cache: CacheStatus = "miss"
    seconds: float = 0.0
    size: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the time spent in the block to `details["phases"][name]` (seconds)."""
        started = time.monotonic()
        try:
            yield
        finally:
            phases = self.details.setdefault("phases", {})
            phases[name] = round(phases.get(name, 0.0) + time.monotonic() - started, 3)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        details = data.pop("details")
        data["seconds"] = round(self.seconds, 3)
        return {**data, **details}


def print_json(results: list[ArchResult], out: TextIO | None = None) -> None:
    document = {"results": [result.to_json() for result in results]}
    print(json.dumps(document, indent=1, sort_keys=True), file=out or sys.stdout)


def print_summary(task: str, results: list[ArchResult], out: TextIO | None = None) -> None:
    """A table: arch, target, key, hit/miss, time, size."""
    rows = [("arch", "target", "key", "cache", "time", "size")]
    rows += [
        (r.arch, r.target, r.key[:12], r.cache, f"{r.seconds:.1f}s", format_size(r.size))
        for r in results
    ]
    stream = out or sys.stderr
    print(f"\n{task} summary:", file=stream)
    print_table(rows, stream)


def print_table(rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    """Left-aligned columns, two spaces apart, indented by two (stderr by default)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  " + "  ".join(cells), file=out or sys.stderr)
