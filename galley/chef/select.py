"""`prepare --bin NAME`: keep only the local closure of one binary (or package).

Members outside the closure are dropped, `[workspace] members` is rewritten as the explicit list
of what stays (`default-members` removed), `[workspace.dependencies]` keeps only the keys the
remaining members inherit, and the lockfile keeps only packages reachable from the closure.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from galley.chef.targets import discover
from galley.chef.workspace import (
    Member,
    Workspace,
    dependency_dir,
    is_outside,
    path_dependencies,
)
from galley.errors import WorkspaceError


def select_binary(workspace: Workspace, name: str) -> Workspace:
    """The workspace trimmed to what `name` (a package or a binary target) needs."""
    start = _find_package(workspace, name)
    closure = _local_closure(workspace, start)
    kept = [
        m
        for m in workspace.members[1:]
        if m.package_name in closure or m.relative_dir in workspace.patched
    ]
    root = workspace.members[0]
    root_manifest = _rewrite_root(root.manifest, [m for m in kept if m.relative_dir not in
                                                   workspace.patched])  # fmt: skip
    return workspace._replace(members=(root._replace(manifest=root_manifest), *kept))


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


def _find_package(workspace: Workspace, name: str) -> str:
    packages = workspace.by_name()
    if name in packages:
        return name
    for package, member in sorted(packages.items()):
        package_dir = os.path.join(workspace.root, member.relative_dir)
        targets = discover(member.manifest, package_dir, package)
        if any(t.kind.value == "Bin" and t.name == name for t in targets):
            return package
    raise WorkspaceError(f"--bin {name}: no such package or binary in the workspace")


def _local_closure(workspace: Workspace, start: str) -> set[str]:
    packages = workspace.by_name()
    shared = workspace.root_manifest.get("workspace", {}).get("dependencies", {})
    dir_to_name = {m.relative_dir: n for n, m in packages.items()}
    closure: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure.add(name)
        pending += _local_dependencies(workspace.root, packages[name], shared, dir_to_name)
    return closure


def _local_dependencies(
    root: str, member: Member, shared: dict[str, Any], dir_to_name: dict[str, str]
) -> list[str]:
    found: list[str] = []
    for where, spec in path_dependencies(member.manifest):
        key = where.rsplit(".", 1)[-1]
        if spec.get("workspace") is True and isinstance(shared.get(key), dict):
            spec, base = shared[key], ""
        else:
            base = member.relative_dir
        path = spec.get("path")
        relative = dependency_dir(root, base, path) if isinstance(path, str) else None
        name = dir_to_name.get(relative) if relative is not None else None
        if name:
            found.append(name)
    return found


def _rewrite_root(manifest: dict[str, Any], kept: list[Member]) -> dict[str, Any]:
    root = copy.deepcopy(manifest)
    workspace = root.get("workspace")
    if not isinstance(workspace, dict):
        return root
    # crates outside the directory are path dependencies, never members (cargo would want a
    # `package.workspace` pointing back from them)
    workspace["members"] = sorted(m.relative_dir for m in kept if not is_outside(m.relative_dir))
    workspace.pop("default-members", None)
    shared = workspace.get("dependencies")
    if isinstance(shared, dict):
        used = {
            where.rsplit(".", 1)[-1]
            for member in kept
            for where, spec in path_dependencies(member.manifest)
            if spec.get("workspace") is True
        }
        workspace["dependencies"] = {k: v for k, v in shared.items() if k in used}
    return root
