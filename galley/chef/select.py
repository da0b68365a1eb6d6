"""`prepare --bin NAME`: keep only the local closure of some binaries (or packages).

Members outside the closure are dropped, `[workspace] members` is rewritten as the explicit list
of what stays (`default-members` removed), `[workspace.dependencies]` keeps only the keys the
remaining members inherit, and the lockfile keeps only packages reachable from the closure.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

from galley.chef.targets import discover
from galley.chef.workspace import LocalPackage, Workspace, path_dependencies
from galley.errors import WorkspaceError


def select_binaries(workspace: Workspace, names: Sequence[str]) -> Workspace:
    """The workspace trimmed to what the `names` (packages or binary targets) need."""
    closure: set[str] = set()
    for name in names:
        closure |= _local_closure(workspace, _find_package(workspace, name))
    kept = [
        p
        for p in workspace.packages[1:]
        if p.relative_dir in closure or p.relative_dir in workspace.patched
    ]
    members = sorted(p.relative_dir for p in kept if p.relative_dir in workspace.members)
    root = workspace.packages[0]
    root_manifest = _rewrite_root(root.manifest, members, kept)
    return workspace._replace(packages=(root._replace(manifest=root_manifest), *kept))


def trim_lockfile(lock: dict[str, Any], keep_names: set[str]) -> dict[str, Any]:
    """Keep the lockfile packages reachable from the local packages named in `keep_names`."""
    packages = [p for p in lock.get("package", []) if isinstance(p, dict)]
    index: dict[str, list[dict[str, Any]]] = {}
    for package in packages:
        index.setdefault(str(package.get("name")), []).append(package)
    reached: set[int] = set()
    pending = [p for p in packages if p.get("name") in keep_names and "source" not in p]
    while pending:
        package = pending.pop()
        if id(package) in reached:
            continue
        reached.add(id(package))
        for reference in package.get("dependencies", []):
            pending.extend(_resolve(index, str(reference)))
    trimmed = copy.deepcopy(lock)
    trimmed["package"] = [copy.deepcopy(p) for p in packages if id(p) in reached or "name" not in p]
    return trimmed


def _resolve(index: dict[str, list[dict[str, Any]]], reference: str) -> list[dict[str, Any]]:
    name, *rest = reference.split(" ")
    candidates = index.get(name, [])
    if rest:
        candidates = [p for p in candidates if p.get("version") == rest[0]]
    if len(rest) > 1:
        source = rest[1].strip("()")
        candidates = [p for p in candidates if p.get("source") == source]
    return candidates


def _find_package(workspace: Workspace, name: str) -> LocalPackage:
    """The local package named `name`, else the one with a binary target of that name."""
    packages = [p for p in workspace.packages if p.relative_dir not in workspace.patched]
    for package in packages:
        if package.package_name == name:
            return package
    for package in sorted(packages, key=lambda p: p.package_name or ""):
        package_dir = os.path.join(workspace.root, package.relative_dir)
        edition = workspace.edition_of(package.relative_dir)
        targets = discover(package.manifest, package_dir, package.relative_path, edition)
        if any(t.kind.value == "Bin" and t.name == name for t in targets):
            return package
    raise WorkspaceError(f"--bin {name}: no such package or binary in the workspace")


def _local_closure(workspace: Workspace, start: LocalPackage) -> set[str]:
    """The relative dirs of `start` and of the path packages it needs, transitively."""
    by_dir = {p.relative_dir: p for p in workspace.packages}
    closure: set[str] = set()
    pending = [start.relative_dir]
    while pending:
        relative = pending.pop()
        if relative in closure or relative not in by_dir:
            continue
        closure.add(relative)
        pending += workspace.path_dependency_dirs(by_dir[relative])
    return closure


def _rewrite_root(
    manifest: dict[str, Any], members: list[str], kept: list[LocalPackage]
) -> dict[str, Any]:
    """The root manifest with `members` listed explicitly (the members of the closure: a path
    package that was no member, being excluded or outside the directory, stays none), no
    `default-members`, and only the `[workspace.dependencies]` the kept packages inherit."""
    root = copy.deepcopy(manifest)
    workspace = root.get("workspace")
    if not isinstance(workspace, dict):
        return root
    workspace["members"] = [relative for relative in members if relative]
    workspace.pop("default-members", None)
    shared = workspace.get("dependencies")
    if isinstance(shared, dict):
        used = {
            where.rsplit(".", 1)[-1]
            for package in kept
            for where, spec in path_dependencies(package.manifest)
            if spec.get("workspace") is True
        }
        workspace["dependencies"] = {k: v for k, v in shared.items() if k in used}
    return root
