"""Mirroring the real sources into the build dir, touching only files whose content changed.

Unchanged files keep their mtime (cargo stays fresh); changed files get a new one (cargo
rebuilds); files gone from the source are deleted. Left out: `.git/` and `__pycache__/` at any
depth; `target/`, `dist/`, `.galley/`, `.nox/` and `.venv/` at the workspace root; and any
directory tagged as a cache (it holds `CACHEDIR.TAG`: cargo's target dirs, galley's own cache
dir when it lies inside the workspace), but never a source directory that merely shares a name
(a module `src/target/`).
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

ANYWHERE = {".git", "__pycache__"}
AT_ROOT = {"target", "dist", ".galley", ".nox", ".venv"}
CACHEDIR_TAG = "CACHEDIR.TAG"
_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by galley.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def skipped(root: Path, directory: Path, name: str) -> bool:
    """Whether the directory `directory/name` (under `root`) stays out of the mirror."""
    if name in ANYWHERE or (directory == root and name in AT_ROOT):
        return True
    return (directory / name / CACHEDIR_TAG).is_file()


def tag_cache_dir(path: Path) -> None:
    """Tag galley's cache dir as a cache (https://bford.info/cachedir/): backup tools leave it
    out, and so does the mirror when the cache dir lies inside the workspace."""
    tag = path / CACHEDIR_TAG
    if not tag.is_file():
        if not path.exists():  # a file there: writing the tag says "Not a directory"
            path.mkdir(parents=True, exist_ok=True)
        tag.write_text(_TAG_TEXT, encoding="utf-8")


def walk(root: Path, exclude: Collection[Path] = ()) -> Iterator[tuple[Path, list[str]]]:
    """(directory, its file names) under `root`, sorted, without what the mirror leaves out
    nor the `exclude` dirs (the dist dir, when it lies in the workspace). Symlinked
    directories are followed, as cargo follows them (a member linked in from elsewhere),
    except into a directory the path already passed through (a loop)."""
    left_out = {os.path.realpath(path) for path in exclude}
    passed = {root: frozenset({os.path.realpath(root)})}  # real dirs on the way to each dir
    for directory, dirs, files in os.walk(root, followlinks=True):
        here = Path(directory)
        kept = []
        for name in sorted(dirs):
            real = os.path.realpath(here / name)
            if not skipped(root, here, name) and real not in passed[here] | left_out:
                passed[here / name] = passed[here] | {real}
                kept.append(name)
        dirs[:] = kept
        yield here, sorted(files)


def mirror(source: Path, destination: Path, exclude: Collection[Path] = ()) -> int:
    """Make `destination` equal `source` (see walk); returns the number of files written or
    removed."""
    destination.mkdir(parents=True, exist_ok=True)
    changed = 0
    wanted: set[str] = set()
    for here, files in walk(source, exclude):
        relative = here.relative_to(source)
        (destination / relative).mkdir(parents=True, exist_ok=True)
        wanted.add(relative.as_posix())
        for name in files:
            wanted.add((relative / name).as_posix())
            changed += _copy_if_different(here / name, destination / relative / name)
    return changed + _remove_extra(destination, wanted)


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


def _remove_extra(destination: Path, wanted: set[str]) -> int:
    """Delete what the source no longer has; what the mirror leaves out is kept."""
    removed = 0
    for directory, dirs, files in os.walk(destination, topdown=True):
        here = Path(directory)
        dirs[:] = [d for d in dirs if not skipped(destination, here, d)]
        relative = here.relative_to(destination)
        for name in [*files, *dirs]:
            path = (relative / name).as_posix()
            if path not in wanted:
                remove(destination / path)
                if name in dirs:
                    dirs.remove(name)
                removed += 1
    return removed


def remove(path: Path) -> None:
    """Remove a file, a symlink (not what it points at) or a whole directory."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
