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
def lock(
    path: Path, shared: bool = False, blocking: bool = True, remove: bool = False
) -> Iterator[bool]:
    """Hold a lock on `path` (created if missing) until the block ends: exclusive, or shared;
    waits for it, or (not `blocking`) yields False at once when another process holds it.

    `remove`: delete the lock file before letting go (an exclusive holder whose subject is
    gone, so lock files do not pile up). A process that then gets the lock of the deleted file
    sees that `path` no longer names it and locks the file now there instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with path.open("a") as handle:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            try:
                fcntl.flock(handle, mode | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            if not _names(path, handle.fileno()):
                continue  # removed (or replaced) while we waited: closing lets go of it
            try:
                yield True
            finally:
                if remove:
                    path.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def _names(path: Path, descriptor: int) -> bool:
    """Whether `path` is still the file open at `descriptor`."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def discard(path: Path) -> bool:
    """Delete the lock file `path` unless a process holds it; whether it is gone."""
    if not path.exists():
        return True
    with lock(path, blocking=False, remove=True) as free:
        return free


@contextlib.contextmanager
def exclusive(path: Path, remove: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) until the block ends; waits.
    `remove`: as for `lock`."""
    with lock(path, remove=remove):
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
