"""Mirroring the real sources into the build dir, touching only files whose content changed.

Unchanged files keep their mtime (cargo stays fresh); changed files get a new one (cargo
rebuilds); files gone from the source are deleted. `target/`, `.git/` and the dist dir are skipped.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

SKIP = {"target", ".git", ".galley", "dist", ".nox", ".venv", "__pycache__"}


def mirror(source: Path, destination: Path, skip: set[str] = SKIP) -> int:
    """Make `destination` equal `source`; returns the number of files written or removed."""
    destination.mkdir(parents=True, exist_ok=True)
    changed = 0
    wanted: set[str] = set()
    for directory, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in skip and not Path(directory, d).is_symlink())
        relative = Path(directory).relative_to(source)
        (destination / relative).mkdir(parents=True, exist_ok=True)
        wanted.add(relative.as_posix())
        for name in files:
            wanted.add((relative / name).as_posix())
            changed += _copy_if_different(Path(directory, name), destination / relative / name)
    return changed + _remove_extra(destination, wanted, skip)


def _copy_if_different(source: Path, target: Path) -> int:
    if target.is_file() and not target.is_symlink() and filecmp.cmp(source, target, shallow=False):
        return 0
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    shutil.copy2(source, target, follow_symlinks=True)
    os.utime(target)  # now: cargo must see the change whatever the checkout's mtime
    return 1


def _remove_extra(destination: Path, wanted: set[str], skip: set[str]) -> int:
    removed = 0
    for directory, dirs, files in os.walk(destination, topdown=True):
        relative = Path(directory).relative_to(destination)
        if relative.as_posix() != "." and relative.parts[0] in skip:
            continue
        for name in [*files, *dirs]:
            path = (relative / name).as_posix()
            if relative.as_posix() == "." and name in skip:
                continue
            if path not in wanted:
                full = destination / path
                if full.is_dir() and not full.is_symlink():
                    shutil.rmtree(full)
                    dirs.remove(name)
                else:
                    full.unlink()
                removed += 1
    return removed
