"""Where the sources sit in a build tree (a work dir, a docker context, a copy for verify).

A workspace whose path dependencies all lie inside its directory is the tree itself. One with
path crates outside it (`path = "../libs/util"`, cargo-chef #4) is placed in the tree as it is
on disk: the tree's root is the closest directory holding the workspace and those crates, the
workspace sits at `nest` below it and each outside crate at its own place, so the relative
paths in the manifests (and in the recipe: `../libs/util/Cargo.toml`) hold in the tree too.
galley.toml's `extra_sources` (dirs outside the workspace that its build reads, such as a
shared `proto/` of a build script) are placed the same way.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from galley import sync
from galley.chef.recipe import Recipe
from galley.errors import ConfigError, WorkspaceError


@dataclass(frozen=True)
class SourceLayout:
    """`root`: the host directory the tree mirrors; `nest`: the workspace below it ("" when
    nothing is outside); `outside`: the dirs of the crates and extra sources outside the
    workspace, below root (the topmost ones)."""

    root: Path
    nest: str = ""
    outside: tuple[str, ...] = ()

    def mirror(self, tree: Path, exclude: Collection[Path] = ()) -> int:
        """Make `tree` hold the workspace at `nest` and the outside crates at their places,
        nothing else (see sync.mirror); returns the files written or removed."""
        if not self.nest:
            return sync.mirror(self.root, tree, exclude)
        changed = sum(sync.mirror(self.root / part, tree / part, exclude) for part in self._parts())
        return changed + _remove_beside(tree, self._parts())

    def _parts(self) -> list[str]:
        return [self.nest, *self.outside]


def of(recipe: Recipe, workspace: Path, extra: Collection[Path] = ()) -> SourceLayout:
    """The layout of the workspace at `workspace` whose recipe is `recipe`; `extra`: dirs
    outside it that its build reads too (galley.toml's `extra_sources`)."""
    absolute = Path(os.path.abspath(workspace))  # cargo resolves `..` lexically, as here
    relative = [m.directory for m in recipe.manifests if _climbs(m.directory)]
    relative += [directory for directory in _target_dirs(recipe) if _climbs(directory)]
    relative += [PurePosixPath(os.path.relpath(_existing_dir(path), absolute)) for path in extra]
    climbs = max((_climbs(path) for path in relative), default=0)
    if climbs == 0:
        return SourceLayout(workspace)
    if climbs > len(absolute.parts) - 1:
        raise WorkspaceError(f"a path dependency of {workspace} climbs above /")
    root = absolute.parents[climbs - 1]
    nest = absolute.relative_to(root).as_posix()
    dirs = {os.path.normpath(os.path.join(nest, p.as_posix())) for p in relative if _climbs(p)}
    for directory in sorted(dirs):
        if directory == "." or nest.startswith(directory + "/"):
            raise WorkspaceError(
                f"{root / directory} (a path crate or extra source) contains the workspace "
                f"{absolute}; make the crate a member of one workspace, or name a narrower dir"
            )
    top = sorted(d for d in dirs if not any(d.startswith(o + "/") for o in dirs))
    return SourceLayout(root, nest, tuple(top))


def _target_dirs(recipe: Recipe) -> set[PurePosixPath]:
    """The workspace-relative dirs of the recipe's target files (a target's path may lead out of
    its package dir, and out of the workspace dir)."""
    return {
        PurePosixPath(posixpath.normpath(posixpath.join(m.directory.as_posix(), t.path))).parent
        for m in recipe.manifests
        for t in m.targets
    }


def _existing_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ConfigError(f"extra_sources: {path} is not a directory")
    return Path(os.path.abspath(path))


def _climbs(directory: PurePosixPath) -> int:
    """How many leading `..` a recipe manifest dir has."""
    count = 0
    for part in directory.parts:
        if part != "..":
            break
        count += 1
    return count


def _remove_beside(tree: Path, parts: list[str]) -> int:
    """Remove what lies in `tree` neither inside one of `parts` nor on the way to one (what an
    earlier layout left)."""
    keep = [PurePosixPath(part).parts for part in parts]
    removed = 0
    for directory, dirs, files in os.walk(tree):
        here = PurePosixPath(Path(directory).relative_to(tree).as_posix()).parts
        here = () if here == (".",) else here
        for name in [*dirs, *files]:
            path = (*here, name)
            inside = any(path[: len(k)] == k for k in keep)
            on_the_way = any(k[: len(path)] == path for k in keep)
            if not inside and not on_the_way:
                sync.remove(Path(directory, name))
                removed += 1
        dirs[:] = [
            d for d in dirs
            if Path(directory, d).is_dir()
            and not any((*here, d)[: len(k)] == k for k in keep)  # the mirror's own
        ]  # fmt: skip
    return removed
