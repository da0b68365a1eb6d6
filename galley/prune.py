"""`cache-prune`: choose what to remove from the cache dir by age, count per group and total
size. The items are cache entries (grouped by arch) and the docker backend's vendor dirs
(one group, "vendor": one per lockfile)."""

from __future__ import annotations

import time
from dataclasses import dataclass

VENDOR_GROUP = "vendor"


@dataclass(frozen=True)
class Item:
    """Something cache-prune may remove: an entry (name: its key) or a vendor dir (name: its
    lockfile digest)."""

    name: str
    group: str
    size: int
    last_used: float


@dataclass(frozen=True)
class Decision:
    item: Item
    remove: bool
    reason: str


def decide(
    items: list[Item],
    max_size: int | None = None,
    older_than: float | None = None,
    keep: int | None = None,
    now: float | None = None,
) -> list[Decision]:
    """Newest first per group; remove what is too old, beyond `keep`, then least recently used
    first while the total is over `max_size`."""
    now = now or time.time()
    items = sorted(items, key=lambda i: i.last_used, reverse=True)
    reasons: dict[Item, str] = {}
    seen: dict[str, int] = {}
    for item in items:
        seen[item.group] = seen.get(item.group, 0) + 1
        if older_than is not None and now - item.last_used > older_than:
            reasons[item] = "older than limit"
        elif keep is not None and seen[item.group] > keep:
            reasons[item] = f"beyond newest {keep} for {item.group}"
    if max_size is not None:
        total = sum(i.size for i in items if i not in reasons)
        for item in reversed(items):  # least recently used first
            if total <= max_size:
                break
            if item not in reasons:
                reasons[item] = "over size limit"
                total -= item.size
    return [Decision(i, i in reasons, reasons.get(i, "kept")) for i in items]
