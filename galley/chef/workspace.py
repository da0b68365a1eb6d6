"""Reading a Cargo workspace from its manifests alone (no `cargo metadata`).

Members are the `members` globs minus `exclude`, the root package if there is one, and, as cargo
does, every path dependency of a member that lives inside the workspace directory.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from galley import toml_io
from galley.errors import WorkspaceError

DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


@dataclass(frozen=True)
class Member:
    """A manifest of the workspace: the root (maybe virtual) or a member package."""

    relative_dir: str  # POSIX, "" for the workspace root
    manifest: dict[str, Any]

    @property
    def relative_path(self) -> str:
        return (
            str(PurePosixPath(self.relative_dir) / "Cargo.toml")
            if self.relative_dir
            else ("Cargo.toml")
        )

    @property
    def package_name(self) -> str | None:
        package = self.manifest.get("package")
        name = package.get("name") if isinstance(package, dict) else None
        return name if isinstance(name, str) else None


@dataclass(frozen=True)
class Workspace:
    """The root directory, its manifest and all member manifests (root first, then sorted)."""

    root: Path
    members: tuple[Member, ...]

    @property
    def root_manifest(self) -> dict[str, Any]:
        return self.members[0].manifest

    def local_names(self) -> set[str]:
        return {name for member in self.members if (name := member.package_name)}

    def by_name(self) -> dict[str, Member]:
        return {name: m for m in self.members if (name := m.package_name)}


def load(root: Path) -> Workspace:
    """Read the workspace rooted at `root` (the directory holding the top Cargo.toml)."""
    manifest_path = root / "Cargo.toml"
    if not manifest_path.is_file():
        raise WorkspaceError(f"{root}: no Cargo.toml (is this a Rust workspace?)")
    root_manifest = _read(root, "")
    workspace = root_manifest.get("workspace")
    if workspace is None:
        return Workspace(root, (Member("", root_manifest),))
    if not isinstance(workspace, dict):
        raise WorkspaceError("Cargo.toml: [workspace] must be a table")
    found: dict[str, Member] = {}
    excluded = _string_list(workspace, "exclude")
    for relative in _expand_members(root, workspace):
        if not _is_excluded(relative, excluded):
            found[relative] = Member(relative, _read(root, relative))
    _add_path_dependencies(root, found, excluded, workspace)
    found.pop("", None)
    members = [found[key] for key in sorted(found, key=lambda k: PurePosixPath(k).parts)]
    return Workspace(root, (Member("", root_manifest), *members))


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


def _read(root: Path, relative_dir: str) -> dict[str, Any]:
    origin = f"{relative_dir}/Cargo.toml" if relative_dir else "Cargo.toml"
    return toml_io.load(root / origin, origin)


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
    return PurePosixPath(norm).as_posix()


def _expand_members(root: Path, workspace: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for pattern in _string_list(workspace, "members"):
        if glob.has_magic(pattern):
            matches = glob.glob(pattern, root_dir=root, include_hidden=True)
            found += [m for m in matches if (root / m / "Cargo.toml").is_file()]
        elif (root / pattern / "Cargo.toml").is_file():
            found.append(pattern)
        else:
            raise WorkspaceError(f"workspace member {pattern!r} has no Cargo.toml")
    return sorted({_normalise(item) for item in found})


def _is_excluded(relative: str, excluded: list[str]) -> bool:
    parts = PurePosixPath(relative).parts
    for item in excluded:
        prefix = PurePosixPath(_normalise(item)).parts
        if prefix and parts[: len(prefix)] == prefix:
            return True
    return False


def _add_path_dependencies(
    root: Path, found: dict[str, Member], excluded: list[str], workspace: dict[str, Any]
) -> None:
    shared = workspace.get("dependencies")
    shared = shared if isinstance(shared, dict) else {}
    pending = list(found.values())
    while pending:
        member = pending.pop()
        for _, spec in path_dependencies(member.manifest):
            base, path = member.relative_dir, spec.get("path")
            if spec.get("workspace") is True:
                continue  # resolved below through [workspace.dependencies]
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


def _visit(
    root: Path,
    base: str,
    path: str,
    found: dict[str, Member],
    excluded: list[str],
    pending: list[Member],
) -> None:
    joined = os.path.normpath(os.path.join(base or ".", path.replace("\\", "/")))
    if joined.startswith("..") or os.path.isabs(joined):
        return  # outside the workspace: not a member (cargo-chef does not carry it either)
    relative = "" if joined == "." else PurePosixPath(joined).as_posix()
    if relative in found or _is_excluded(relative, excluded):
        return
    if not (root / relative / "Cargo.toml").is_file():
        raise WorkspaceError(f"path dependency {path!r} of {base or '.'}: no Cargo.toml there")
    member = Member(relative, _read(root, relative))
    found[relative] = member
    pending.append(member)
