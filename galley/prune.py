"""`cache-prune`: choose entries to remove by age, count per arch and total size."""

from __future__ import annotations

import time
from dataclasses import dataclass

from galley.store import Entry, Store


@dataclass(frozen=True)
class Decision:
    entry: Entry
    last_used: float
    remove: bool
    reason: str


def decide(
    store: Store,
    max_size: int | None = None,
    older_than: float | None = None,
    keep: int | None = None,
    now: float | None = None,
) -> list[Decision]:
    """Newest first per arch; remove what is too old, beyond `keep`, then LRU over `max_size`."""
    now = now or time.time()
    entries = sorted(store.entries(), key=store.last_used, reverse=True)
    reasons: dict[str, str] = {}
    seen: dict[str, int] = {}
    for entry in entries:
        seen[entry.arch] = seen.get(entry.arch, 0) + 1
        if older_than is not None and now - store.last_used(entry) > older_than:
            reasons[entry.key] = "older than limit"
        elif keep is not None and seen[entry.arch] > keep:
            reasons[entry.key] = f"beyond newest {keep} for {entry.arch}"
    if max_size is not None:
        total = sum(e.size for e in entries if e.key not in reasons)
        for entry in reversed(entries):  # least recently used first
            if total <= max_size:
                break
            if entry.key not in reasons:
                reasons[entry.key] = "over size limit"
                total -= entry.size
    return [
        Decision(e, store.last_used(e), e.key in reasons, reasons.get(e.key, "kept"))
        for e in entries
    ]
