"""The local cache store: one immutable, verified entry per cache key.

```
<cache>/entries/<key>/{entry.json, files.json, target/...}   published by rename, never mutated
<cache>/tmp/<key>.<pid>/        entries being built (removed on the next run if abandoned)
<cache>/locks/<key>.lock        flock: exclusive to cook/remove, shared while restoring
<cache>/usage/<key>.json        hits, misses, last use (the only mutable per-key file)
<cache>/quarantine/<key>.<t>/   entries that failed verification, kept for inspection
<cache>/state/last-<arch>.json  the last key manifest per arch (for `cook --explain`)
```
`files.json` holds the sha256, size and mode of every other file; an entry whose files differ,
whose `files.json` is missing or damaged, or whose key manifest does not hash to its name, is
never used. Usage is advisory: a damaged count counts as 0, a damaged last use as the entry's
creation. `entry.json` is read unverified too (prune, delta seeds): a damaged size is measured
on disk instead, a damaged creation time is 0.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galley import cachekey, filelock, jsonfile, shell
from galley.errors import CacheError, GalleyError, describe_os_error
from galley.hashing import sha256_file

ENTRY_FILE = "entry.json"
FILES_FILE = "files.json"


@dataclass(frozen=True)
class Entry:
    """A published entry: its key, directory and metadata."""

    key: str
    path: Path
    meta: dict[str, Any]

    @property
    def target_dir(self) -> Path:
        return self.path / "target"

    @property
    def arch(self) -> str:
        return str(self.meta.get("arch", "?"))

    @property
    def size(self) -> int:
        """Bytes of the target dir: as recorded, or measured when the record is damaged; for a
        symlink or a file in its place, what removing it frees."""
        if not _is_real_dir(self.path):
            with contextlib.suppress(OSError):
                return self.path.lstat().st_size
            return 0
        recorded = jsonfile.count(self.meta.get("size"))
        return recorded if recorded is not None else _tree_size(self.target_dir)

    @property
    def created(self) -> float:
        """When it was published (0 when the record is damaged)."""
        return jsonfile.number(self.meta.get("created")) or 0.0


class Store:
    """A cache directory (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()

    # -- paths and locks ------------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        path = self.root / name
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cache dir {self.root}: {exc.strerror}") from None
        return path

    def entry_path(self, key: str) -> Path:
        _check_key(key)
        return self._dir("entries") / key

    @contextlib.contextmanager
    def lock(
        self, key: str, shared: bool = False, blocking: bool = True, remove: bool = False
    ) -> Iterator[bool]:
        """Hold the key's lock; yields False (without waiting) when busy and not blocking.
        `remove`: delete the lock file before letting go (see `filelock.lock`)."""
        _check_key(key)
        path = self._dir("locks") / f"{key}.lock"
        with filelock.lock(path, shared, blocking, remove) as held:
            yield held

    def orphan_locks(self, keys: set[str]) -> list[Path]:
        """Lock files of keys not in `keys`, the entries there are (a cook that failed or died,
        a removed entry)."""
        return [p for p in sorted(self._dir("locks").glob("*.lock")) if p.stem not in keys]

    # -- reading --------------------------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        """The published entry for `key` (unverified, maybe damaged), or None. Entries are
        published whole, by rename, so anything there is one (a damaged one if not a directory)."""
        path = self.entry_path(key)
        if not (path.exists() or path.is_symlink()):
            return None
        return Entry(key, path, jsonfile.read_object(path / ENTRY_FILE) or {})

    def entries(self) -> list[Entry]:
        found = [
            self.get(p.name) for p in sorted(self._dir("entries").iterdir()) if _is_key(p.name)
        ]
        return [entry for entry in found if entry]

    def problems(self, entry: Entry) -> list[str]:
        """What is wrong with an entry (empty when its files and key are intact)."""
        if entry.path.is_symlink():  # its files could change under another name
            return ["is a symlink, not a directory galley published"]
        if not entry.path.is_dir():
            return ["is a file, not a directory galley published"]
        problems = _key_problems(entry)
        expected = jsonfile.read_object(entry.path / FILES_FILE)
        if expected is None:
            return [*problems, f"{FILES_FILE} is missing, unreadable or not a JSON object"]
        actual = _inventory(entry.path)
        for name in sorted(set(expected) | set(actual)):
            if name not in actual:
                problems.append(f"missing file {name}")
            elif name not in expected:
                problems.append(f"unexpected file {name}")
            elif actual[name] != expected[name]:
                problems.append(f"changed file {name}")
        return problems

    # -- writing --------------------------------------------------------------------------------

    def clean_abandoned(self, key: str) -> None:
        """Remove half-built entries of `key` (call with the key's exclusive lock held)."""
        for leftover in self._dir("tmp").glob(f"{key}.*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def publish(
        self, key: str, key_manifest: dict[str, Any], target: Path, meta: dict[str, Any]
    ) -> Entry:
        """Move a cooked `target` dir into a new entry, atomically (hold the exclusive lock)."""
        if cachekey.cache_key(key_manifest) != key:
            raise CacheError("refusing to publish: the key does not match its manifest")
        staging = self._dir("tmp") / f"{key}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir()
            shutil.move(str(target), staging / "target")
            size = _tree_size(staging / "target")
            info = {**meta, "key": key, "key_manifest": key_manifest, "size": size}
            info["created"] = info.get("created") or time.time()
            _write_json(staging / ENTRY_FILE, info)
            _write_json(staging / FILES_FILE, _inventory(staging))
            destination = self.entry_path(key)
            _delete(destination)  # a damaged entry the caller could not quarantine
            os.rename(staging, destination)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise _cache_error(exc, self.root) from None
        entry = self.get(key)
        assert entry is not None
        return entry

    def restore(self, entry: Entry, destination: Path) -> float:
        """Copy the entry's target dir to `destination` (reflink where possible); seconds."""
        started = time.monotonic()
        if destination.exists():
            shutil.rmtree(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            shell.run(["cp", "-a", "--reflink=auto", entry.target_dir, destination], echo=False)
        except GalleyError as exc:
            shutil.rmtree(destination, ignore_errors=True)
            raise CacheError(f"cannot restore entry {entry.key[:12]}: {exc}") from None
        return time.monotonic() - started

    def quarantine(self, entry: Entry) -> Path:
        """Move a bad entry out of the way (kept for inspection); returns where it went."""
        destination = self._dir("quarantine") / f"{entry.key}.{int(time.time() * 1000)}"
        os.rename(entry.path, destination)
        return destination

    def remove(self, entry: Entry) -> None:
        graveyard = self._dir("tmp") / f"{entry.key}.removing.{os.getpid()}"
        os.rename(entry.path, graveyard)  # atomic: the entry vanishes at once
        _delete(graveyard)
        (self._dir("usage") / f"{entry.key}.json").unlink(missing_ok=True)

    # -- usage and state ------------------------------------------------------------------------

    def usage(self, key: str) -> dict[str, Any]:
        return jsonfile.read_object(self._dir("usage") / f"{key}.json") or {}

    def record(self, key: str, hit: bool) -> None:
        """Count a hit or miss and stamp the last use (a damaged count starts again at 0)."""
        usage = self.usage(key)
        counts = {field: jsonfile.count(usage.get(field)) or 0 for field in ("hits", "misses")}
        counts["hits" if hit else "misses"] += 1
        _write_json(self._dir("usage") / f"{key}.json", {**counts, "last_used": time.time()})

    def last_used(self, entry: Entry) -> float:
        """The last recorded use; the entry's creation when none is (or it is damaged)."""
        recorded = jsonfile.number(self.usage(entry.key).get("last_used"))
        return recorded if recorded is not None else entry.created

    def last_manifest(self, arch: str) -> dict[str, Any] | None:
        return jsonfile.read_object(self._dir("state") / f"last-{arch}.json")

    def remember_manifest(self, arch: str, manifest: dict[str, Any]) -> None:
        _write_json(self._dir("state") / f"last-{arch}.json", manifest)


def _check_key(key: str) -> None:
    if not _is_key(key):
        raise CacheError(f"invalid cache key {key[:80]!r}")


def _is_key(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def _key_problems(entry: Entry) -> list[str]:
    manifest = entry.meta.get("key_manifest")
    if not isinstance(manifest, dict):
        return ["entry.json has no key manifest"]
    if cachekey.cache_key(manifest) != entry.key:
        return ["key manifest does not hash to the entry's key (renamed or copied entry)"]
    return []


def _inventory(root: Path) -> dict[str, list[Any]]:
    """{relative path: [sha256, size, mode]} of every file and symlink under root but files.json."""
    found: dict[str, list[Any]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative == FILES_FILE:
            continue
        if path.is_symlink():
            found[relative] = ["symlink:" + os.readlink(path), 0, 0]
        elif path.is_file():
            stat = path.stat()
            found[relative] = [sha256_file(path), stat.st_size, stat.st_mode & 0o777]
    return found


def _is_real_dir(path: Path) -> bool:
    """Whether `path` is a directory itself (as galley publishes entries), not a link to one."""
    return path.is_dir() and not path.is_symlink()


def _delete(path: Path) -> None:
    """Remove a directory tree, a file, or only a symlink (what it points at is not the cache's)."""
    if _is_real_dir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _tree_size(root: Path) -> int:
    """Bytes of the files under `root`."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def _write_json(path: Path, data: Any) -> None:
    filelock.write_atomically(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def _cache_error(exc: OSError, root: Path) -> CacheError:
    if exc.errno == errno.ENOSPC:
        return CacheError(f"cache dir {root}: no space left on device (entry not published)")
    return CacheError(f"cache dir {root}: {describe_os_error(exc)}")
