"""Galley processes sharing a directory: advisory locks (flock), atomic writes, and removing
what a process that died left there."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def lock(path: Path, shared: bool = False, blocking: bool = True) -> Iterator[bool]:
    """Hold a lock on `path` (created if missing) until the block ends: exclusive, or shared;
    waits for it, or (not `blocking`) yields False at once when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(handle, mode | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) until the block ends; waits."""
    with lock(path):
        yield


def write_atomically(path: Path, text: str) -> None:
    """Write `path` whole or not at all: readers in other processes never see half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def remove_if_owner_died(path: Path, pid: str) -> None:
    """Remove `path`, a directory named after the process `pid` that made it, if it is gone."""
    if pid.isdigit() and not Path(f"/proc/{pid}").exists():
        shutil.rmtree(path, ignore_errors=True)
