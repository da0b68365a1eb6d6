"""Galley processes sharing a directory: advisory locks (flock), atomic writes, and removing
what a process that died left there.

A lock is held by the commands galley starts while it holds it (`held_descriptors`, passed on
by `galley.shell`): flock belongs to the open file, so when galley dies by SIGKILL the lock lasts
until the last of them has exited, and no new run touches the directory they still write to.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from galley.units import is_whole_number

HOLDERS_SHOWN = 4
_held: dict[int, Path] = {}  # descriptor -> lock file, for the locks this process holds now


def held_descriptors() -> list[int]:
    """The open lock files of the locks this process holds now."""
    return sorted(_held)


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
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                if not blocking:
                    yield False
                    return
                _say_waiting(path)
                fcntl.flock(handle, mode)
            if not _names(path, handle.fileno()):
                continue  # removed (or replaced) while we waited: closing lets go of it
            _held[handle.fileno()] = path
            try:
                yield True
            finally:
                del _held[handle.fileno()]
                if remove:
                    path.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)  # for the commands still holding it, too
            return


def _say_waiting(path: Path) -> None:
    holders = ", ".join(f"{pid} ({name})" for pid, name in _holders_of(path)[:HOLDERS_SHOWN])
    print(f"galley: waiting for {path}, held by {holders or 'another process'}", file=sys.stderr)


def _holders_of(path: Path) -> list[tuple[int, str]]:
    """Processes (pid, name) that have `path` open, other than this one; those this user may
    look at."""
    target = os.path.realpath(path)
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        pid = int(fd_dir.parent.name)
        try:
            if pid != os.getpid() and any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                found.append((pid, (fd_dir.parent / "comm").read_text().strip()))
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return sorted(found)


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
    if is_whole_number(pid) and not Path(f"/proc/{pid}").exists():
        shutil.rmtree(path, ignore_errors=True)
