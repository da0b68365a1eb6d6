"""The record of what a cache entry put into a local work dir, to find and heal the dependency
artifacts damaged there since (a bad sector, a killed copy, a stray tool).

`<work>/restored.json`: the key and, for every file of the entry in a profile dir's `deps/`,
`build/` or `.fingerprint/` (the dependency artifacts; not cargo's own bookkeeping beside them,
`.rustc_info.json` or `.cargo-lock`, which cargo may rewrite), its path under the work dir, the
entry's sha256 (files.json) and its size and mtime as restored (`cp -a` keeps the entry's). The
workspace crates' artifacts are not in an entry, so never in the record. `suspect`: paths found
damaged by `verify`, which the next build restores.

A cheap check compares sizes and mtimes with the record and hashes only the files that differ
(and the suspects); a full check hashes every file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from galley import filelock, jsonfile
from galley.errors import CacheError
from galley.hashing import sha256_file
from galley.store import FILES_FILE, Entry

RECORD_FILE = "restored.json"
#: The directories of a profile dir whose files are dependency artifacts.
KINDS = frozenset({"deps", "build", ".fingerprint"})


@dataclass
class Record:
    """{path under the work dir: (sha256, size, mtime in ns)} of what came from entry `key`."""

    key: str
    files: dict[str, tuple[str, int, int]]
    suspect: set[str] = field(default_factory=set)


@dataclass
class Found:
    """What a check found: `damaged` files (content differs, or gone) and `retimed` ones (the
    right content with another mtime)."""

    damaged: list[str] = field(default_factory=list)
    retimed: list[str] = field(default_factory=list)


def is_artifact(relative: str) -> bool:
    """Whether a path under the work dir (`target/...`) is a dependency artifact's place."""
    parts = relative.split("/")
    return parts[0] == "target" and any(part in KINDS for part in parts[1:-1])


def read(root: Path) -> Record | None:
    """The work dir's record, or None (none, damaged, or of another shape)."""
    data = jsonfile.read_object(root / RECORD_FILE)
    if data is None or not isinstance(data.get("key"), str):
        return None
    files: dict[str, tuple[str, int, int]] = {}
    for path, value in (data.get("files") or {}).items():
        if not (isinstance(value, list) and len(value) == 3):
            return None
        digest, size, mtime = value
        if not (isinstance(digest, str) and isinstance(size, int) and isinstance(mtime, int)):
            return None
        files[str(path)] = (digest, size, mtime)
    suspect = data.get("suspect") or []
    return Record(data["key"], files, {str(path) for path in suspect if path in files})


def write(root: Path, record: Record) -> None:
    document = {
        "key": record.key,
        "files": {path: list(value) for path, value in sorted(record.files.items())},
        "suspect": sorted(record.suspect),
    }
    filelock.write_atomically(root / RECORD_FILE, json.dumps(document, separators=(",", ":")))


def forget(root: Path) -> None:
    (root / RECORD_FILE).unlink(missing_ok=True)


def take(root: Path, entry: Entry) -> Record:
    """The record of `entry` restored into the work dir at `root` (its target dir at
    `root/target`, as the entry's is at `entry.path/target`): the files whose size and mtime
    are the entry's (not one that a workspace crate's artifact put back replaced)."""
    manifest = jsonfile.read_object(entry.path / FILES_FILE) or {}
    files: dict[str, tuple[str, int, int]] = {}
    for path, value in manifest.items():
        if not is_artifact(path) or not isinstance(value, list) or len(value) != 3:
            continue
        digest, size = value[0], value[1]
        if str(digest).startswith("symlink:"):
            continue
        with contextlib.suppress(OSError):
            stat, theirs = (root / path).lstat(), (entry.path / path).lstat()
            if (stat.st_size, stat.st_mtime_ns) == (size, theirs.st_mtime_ns):
                files[path] = (str(digest), size, stat.st_mtime_ns)
    return Record(entry.key, files)


def check(root: Path, record: Record, full: bool) -> Found:
    """The recorded files that differ. Cheap (`full` False): only those whose size or mtime
    differ from the record, or that `verify` found damaged, are hashed."""
    found, hashed = Found(), []
    for path, (_, size, mtime) in sorted(record.files.items()):
        stat = _stat(root, path)
        if stat is None:
            found.damaged.append(path)
        elif stat != (size, mtime) or full or path in record.suspect:
            hashed.append(path)
    for path, actual in zip(hashed, _digests(root, hashed), strict=True):
        digest, size, mtime = record.files[path]
        if actual != digest:
            found.damaged.append(path)
        elif _stat(root, path) != (size, mtime):
            found.retimed.append(path)
    found.damaged.sort()
    return found


def forget_changed(root: Path, record: Record) -> None:
    """After a build: drop from the record the files whose size or mtime changed. The build
    found them intact before it ran, so cargo compiled them again (for its own reasons, such as
    an edited path patch or a build script rerun): they are cargo's now, not the entry's."""
    changed = [
        path
        for path, (_, size, mtime) in record.files.items()
        if _stat(root, path) != (size, mtime)
    ]
    for path in changed:
        del record.files[path]
        record.suspect.discard(path)
    if changed:
        write(root, record)


def retime(root: Path, record: Record, paths: list[str]) -> None:
    """Give files their recorded mtime back (cargo decides freshness by mtimes)."""
    for path in paths:
        mtime = record.files[path][2]
        os.utime(root / path, ns=(mtime, mtime), follow_symlinks=False)


def heal(root: Path, record: Record, entry: Entry, paths: list[str]) -> None:
    """Copy `paths` from the entry over the work dir's, with their recorded mtime (hold the
    entry's lock). CacheError when the entry's copy is gone or differs from the record too."""
    for path in paths:
        digest, _, mtime = record.files[path]
        source, destination = entry.path / path, root / path
        if not source.is_file() or not _hash_is(source, digest):
            raise CacheError(f"cache entry {entry.key[:12]}: {path} is missing or damaged")
        staging = destination.with_name(f".{destination.name}.galley-restoring")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, staging)
        os.utime(staging, ns=(mtime, mtime))
        os.replace(staging, destination)
    record.suspect -= set(paths)


def _stat(root: Path, path: str) -> tuple[int, int] | None:
    """(size, mtime in ns) of a file under `root`, or None when it is gone."""
    try:
        stat = os.lstat(f"{root}/{path}")  # a str: a Path costs 3 times as much here
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _digests(root: Path, paths: list[str]) -> list[str | None]:
    """The sha256 of each file, in threads (hashlib lets go of the GIL while it hashes)."""
    if len(paths) < 2:
        return [_digest(root / path) for path in paths]
    with ThreadPoolExecutor(min(os.cpu_count() or 1, 4)) as pool:
        return list(pool.map(lambda path: _digest(root / path), paths))


def _digest(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def _hash_is(path: Path, digest: str) -> bool:
    return _digest(path) == digest
