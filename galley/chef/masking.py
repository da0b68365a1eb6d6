"""Version masking: local crate versions become `0.0.1` so a version bump keeps the recipe.

Masks `package.version`, `workspace.package.version`, the `version` of every path dependency on a
local crate (all dependency tables, `target.'cfg(..)'` ones and `workspace.dependencies`, renamed
ones through `package =`), local `[[package]]` entries of Cargo.lock **and** the lockfile's
`"name version"` references to them. `[lints]` and `[workspace.lints]` are dropped so lint levels
cannot break the dummy sources.
"""

from __future__ import annotations

from typing import Any

from galley.chef.workspace import path_dependencies

MASKED_VERSION = "0.0.1"


def mask_manifest(
    manifest: dict[str, Any],
    local_names: set[str],
    in_place: bool = False,
    keep_version: bool = False,
) -> dict[str, Any]:
    """A masked deep copy of a parsed Cargo.toml (or the table itself, masked, with in_place).
    `keep_version`: a path patch, whose version must still match what depends on it."""
    masked = manifest if in_place else _deep_copy(manifest)
    package = masked.get("package")
    if isinstance(package, dict) and isinstance(package.get("version"), str) and not keep_version:
        package["version"] = MASKED_VERSION
    workspace = masked.get("workspace")
    if isinstance(workspace, dict):
        shared = workspace.get("package")
        if isinstance(shared, dict) and isinstance(shared.get("version"), str):
            shared["version"] = MASKED_VERSION
        workspace.pop("lints", None)
    masked.pop("lints", None)
    for where, spec in path_dependencies(masked):
        name = spec.get("package", where.rsplit(".", 1)[-1])
        if "path" in spec and name in local_names and isinstance(spec.get("version"), str):
            spec["version"] = MASKED_VERSION
    return masked


def mask_lockfile(
    lock: dict[str, Any], local_names: set[str], in_place: bool = False
) -> dict[str, Any]:
    """A masked deep copy of a parsed Cargo.lock (or the table itself, with in_place)."""
    masked = lock if in_place else _deep_copy(lock)
    packages = [p for p in masked.get("package", []) if isinstance(p, dict)]
    local = {
        (p["name"], p.get("version"))
        for p in packages
        if p.get("name") in local_names and "source" not in p
    }
    for package in packages:
        if (package.get("name"), package.get("version")) in local:
            package["version"] = MASKED_VERSION
        dependencies = package.get("dependencies")
        if isinstance(dependencies, list):
            package["dependencies"] = [_mask_reference(dep, local) for dep in dependencies]
    return masked


def _deep_copy(table: dict[str, Any]) -> dict[str, Any]:
    import copy  # not at import: `prepare` masks in place

    return copy.deepcopy(table)


def _mask_reference(reference: Any, local: set[tuple[str, Any]]) -> Any:
    """`"name 1.2.3"` pointing at a local package becomes `"name 0.0.1"`; others stay."""
    if not isinstance(reference, str):
        return reference
    parts = reference.split(" ")
    if len(parts) == 2 and (parts[0], parts[1]) in local:
        return f"{parts[0]} {MASKED_VERSION}"
    return reference
