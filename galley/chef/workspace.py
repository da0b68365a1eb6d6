"""Reading a Cargo workspace from its manifests alone (no `cargo metadata`).

Members are the `members` globs minus `exclude`, the root package if there is one, and, as cargo
does, every path dependency of a member (the root package included) that lives inside the
workspace directory, with or without a `[workspace]` table. Path crates outside the directory
(`path = "../libs/util"`) are carried too, as local crates with a `../` relative dir (they are
not workspace members for cargo; see galley.layout). Packages a root `[patch.<source>]` entry
points at by a relative path (inside the directory or outside it) are carried too, marked as
patched: they stand for a dependency, so they are neither local crates nor version-masked.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from galley import toml_io
from galley.chef.recipe import path_parts
from galley.errors import WorkspaceError

DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


class Member(NamedTuple):
    """A manifest of the workspace: the root (maybe virtual) or a member package."""

    relative_dir: str  # POSIX, "" for the workspace root
    manifest: dict[str, Any]

    @property
    def relative_path(self) -> str:
        return f"{self.relative_dir}/Cargo.toml" if self.relative_dir else "Cargo.toml"

    @property
    def package_name(self) -> str | None:
        package = self.manifest.get("package")
        name = package.get("name") if isinstance(package, dict) else None
        return name if isinstance(name, str) else None


class Workspace(NamedTuple):
    """The root directory, its manifest and all member manifests (root first, then sorted);
    `patched`: the relative dirs of those that are path patches."""

    root: str
    members: tuple[Member, ...]
    patched: frozenset[str] = frozenset()

    @property
    def root_manifest(self) -> dict[str, Any]:
        return self.members[0].manifest

    def local_names(self) -> set[str]:
        """Package names of the workspace's own crates (path patches are dependencies)."""
        return {
            name
            for member in self.members
            if (name := member.package_name) and member.relative_dir not in self.patched
        }

    def by_name(self) -> dict[str, Member]:
        return {name: m for m in self.members if (name := m.package_name)}


def load(
    workspace_root: str | os.PathLike[str], parsed: Mapping[str, dict[str, Any]] | None = None
) -> Workspace:
    """Read the workspace whose top Cargo.toml is in the directory `workspace_root`.

    `parsed`: manifests already read, by relative directory ("" for the root), used as they are.
    """
    root = os.fspath(workspace_root)
    parsed = parsed or {}
    root_manifest = parsed[""] if "" in parsed else read_root_manifest(root)
    found = {"": Member("", root_manifest)}  # its path dependencies are local crates too
    for relative in listed_members(root, root_manifest):
        manifest = parsed[relative] if relative in parsed else read_manifest(root, relative)
        found[relative] = Member(relative, manifest)
    workspace = root_manifest.get("workspace") or {}
    excluded = _string_list(workspace, "exclude")
    patched = frozenset(patched_dirs(root_manifest, strict=True))
    for relative in sorted(patched - set(found)):
        if not _has_manifest(root, relative):
            raise WorkspaceError(f"path patch {relative!r}: no Cargo.toml there")
        found[relative] = Member(relative, read_manifest(root, relative))
    _add_path_dependencies(root, found, excluded, workspace)
    found.pop("", None)
    members = [found[key] for key in sorted(found, key=path_parts)]
    return Workspace(root, (Member("", root_manifest), *members), patched)


def patched_dirs(root_manifest: dict[str, Any], strict: bool = False) -> list[str]:
    """Relative dirs of the root's `[patch.<source>]` entries with a relative path (`../` ones
    too, placed like path crates outside the workspace, see galley.layout); `strict`: an
    absolute path, or the workspace dir itself, is an error (a recipe cannot carry it)."""
    patches = root_manifest.get("patch")
    found = []
    for source, table in patches.items() if isinstance(patches, dict) else ():
        for name, spec in table.items() if isinstance(table, dict) else ():
            path = spec.get("path") if isinstance(spec, dict) else None
            if not isinstance(path, str):
                continue
            joined = os.path.normpath(path.replace("\\", "/"))
            unusable = os.path.isabs(joined) or joined == "."
            if unusable and not strict:
                continue
            if unusable:
                raise WorkspaceError(
                    f"Cargo.toml: [patch.{source}] {name}: path {path!r} is absolute or the "
                    "workspace dir itself, which no recipe can carry"
                )
            found.append(joined.replace(os.sep, "/"))
    return sorted(set(found))


def path_dependencies(manifest: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table path, dependency spec) for every dependency table of a manifest, cfg ones too."""
    for table in DEPENDENCY_TABLES:
        yield from _specs(manifest.get(table), table)
    targets = manifest.get("target")
    if isinstance(targets, dict):
        for cfg, section in targets.items():
            if isinstance(section, dict):
                for table in DEPENDENCY_TABLES:
                    yield from _specs(section.get(table), f"target.{cfg}.{table}")
    workspace = manifest.get("workspace")
    if isinstance(workspace, dict):
        yield from _specs(workspace.get("dependencies"), "workspace.dependencies")


def _specs(table: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(table, dict):
        for key, spec in table.items():
            if isinstance(spec, dict):
                yield f"{where}.{key}", spec


def read_root_manifest(root: str) -> dict[str, Any]:
    """The top Cargo.toml of the workspace at `root`."""
    if not os.path.isfile(os.path.join(root, "Cargo.toml")):
        raise WorkspaceError(f"{root}: no Cargo.toml (is this a Rust workspace?)")
    return read_manifest(root, "")


def read_manifest(root: str, relative_dir: str) -> dict[str, Any]:
    """The Cargo.toml in `relative_dir` of the workspace at `root`."""
    origin = f"{relative_dir}/Cargo.toml" if relative_dir else "Cargo.toml"
    return toml_io.load(os.path.join(root, origin), origin)


def listed_members(root: str, root_manifest: dict[str, Any]) -> list[str]:
    """The `members` globs minus `exclude` (path-dependency members are found by `load`)."""
    workspace = root_manifest.get("workspace")
    if workspace is None:
        return []
    if not isinstance(workspace, dict):
        raise WorkspaceError("Cargo.toml: [workspace] must be a table")
    excluded = _string_list(workspace, "exclude")
    return [m for m in _expand_members(root, workspace) if not _is_excluded(m, excluded)]


def _string_list(table: dict[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise WorkspaceError(f"Cargo.toml: workspace.{key} must be a list of strings")
    return value


def _normalise(relative: str) -> str:
    norm = os.path.normpath(relative.replace("\\", "/"))
    if norm == ".":
        return ""
    if norm.startswith("..") or os.path.isabs(norm):
        raise WorkspaceError(f"workspace member {relative!r} is outside the workspace root")
    return norm.replace(os.sep, "/")


def _has_manifest(root: str, relative: str) -> bool:
    return os.path.isfile(os.path.join(root, relative, "Cargo.toml"))


def _expand_members(root: str, workspace: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for pattern in _string_list(workspace, "members"):
        if glob.has_magic(pattern):
            matches = glob.glob(pattern, root_dir=root, include_hidden=True)
            found += [m for m in matches if _has_manifest(root, m)]
        elif _has_manifest(root, pattern):
            found.append(pattern)
        else:
            raise WorkspaceError(f"workspace member {pattern!r} has no Cargo.toml")
    return sorted({_normalise(item) for item in found})


def _is_excluded(relative: str, excluded: list[str]) -> bool:
    parts = path_parts(relative)
    for item in excluded:
        prefix = path_parts(_normalise(item))
        if prefix and parts[: len(prefix)] == prefix:
            return True
    return False


def _add_path_dependencies(
    root: str, found: dict[str, Member], excluded: list[str], workspace: dict[str, Any]
) -> None:
    shared = workspace.get("dependencies")
    shared = shared if isinstance(shared, dict) else {}
    pending = list(found.values())
    while pending:
        member = pending.pop()
        for table, spec in path_dependencies(member.manifest):
            base, path = member.relative_dir, spec.get("path")
            if spec.get("workspace") is True or table == "workspace.dependencies":
                continue  # resolved below, for the members that inherit them
            if isinstance(path, str):
                _visit(root, base, path, found, excluded, pending)
        for key in _inherited_keys(member.manifest):
            inherited = shared.get(key)
            if isinstance(inherited, dict) and isinstance(inherited.get("path"), str):
                _visit(root, "", inherited["path"], found, excluded, pending)


def _inherited_keys(manifest: dict[str, Any]) -> Iterator[str]:
    for table, spec in path_dependencies(manifest):
        if spec.get("workspace") is True and not table.startswith("workspace."):
            yield table.rsplit(".", 1)[-1]


def is_outside(relative: str) -> bool:
    """Whether a workspace-relative path leaves the workspace dir (a `../` path crate)."""
    return relative == ".." or relative.startswith("../")


def dependency_dir(root: str, base: str, path: str) -> str | None:
    """The workspace-relative dir of the path dependency `path` of the member at `base`, as
    cargo normalises it (lexically: `../ws/crates/a` from `../util` is `crates/a`); None for
    an absolute path."""
    if os.path.isabs(path):
        return None
    top = os.path.abspath(root)
    where = os.path.normpath(os.path.join(top, base, path.replace("\\", "/")))
    joined = os.path.relpath(where, top)
    return "" if joined == "." else joined.replace(os.sep, "/")


def _visit(
    root: str,
    base: str,
    path: str,
    found: dict[str, Member],
    excluded: list[str],
    pending: list[Member],
) -> None:
    relative = dependency_dir(root, base, path)
    if relative is None:
        return  # an absolute path: found by cargo where it is, in the cook and the build alike
    if relative in found or _is_excluded(relative, excluded):
        return
    if not _has_manifest(root, relative):
        raise WorkspaceError(f"path dependency {path!r} of {base or '.'}: no Cargo.toml there")
    member = Member(relative, read_manifest(root, relative))
    found[relative] = member
    pending.append(member)
