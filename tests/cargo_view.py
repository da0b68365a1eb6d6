"""What cargo itself says of a workspace (`cargo metadata`), and what galley's recipe says,
in one comparable shape: {package dir: (name, {(kind, name, path)})}."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

from galley.chef.recipe import Recipe

Targets = frozenset[tuple[str, str, str]]
Packages = dict[str, tuple[str, Targets]]

_LIB_KINDS = {"lib", "rlib", "dylib", "cdylib", "staticlib"}
_KINDS = {"bin": "Bin", "test": "Test", "bench": "Bench", "example": "Example",
          "custom-build": "BuildScript"}  # fmt: skip


class CargoView(NamedTuple):
    """Packages (members, or every path package with `with_deps`), members, default members."""

    packages: Packages
    members: frozenset[str]
    default_members: frozenset[str]


def cargo_metadata(root: Path, with_deps: bool = False) -> dict[str, Any]:
    """`cargo metadata` of the workspace at `root`, offline (a toolchain file is ignored)."""
    argv = ["cargo", "metadata", "--format-version", "1", "--offline"]
    argv += [] if with_deps else ["--no-deps"]
    env = {**os.environ, "RUSTUP_TOOLCHAIN": os.environ.get("RUSTUP_TOOLCHAIN", "stable")}
    result = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, f"cargo metadata in {root}: {result.stderr[-3000:]}"
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def cargo_view(root: Path, with_deps: bool = False) -> CargoView:
    """What cargo says of the workspace at `root`; paths relative to `root`, as the recipe's."""
    meta = cargo_metadata(root, with_deps)
    real = os.path.realpath(root)
    packages: Packages = {}
    dirs: dict[str, str] = {}
    for package in meta["packages"]:
        if not package["id"].startswith("path+"):
            continue
        directory = _relative(os.path.dirname(package["manifest_path"]), real)
        dirs[package["id"]] = directory
        package_dir = os.path.join(real, directory)
        targets = frozenset(_target(t, package_dir) for t in package["targets"])
        packages[directory] = (package["name"], targets)
    members = frozenset(dirs[i] for i in meta["workspace_members"])
    defaults = frozenset(dirs[i] for i in meta.get("workspace_default_members", []))
    return CargoView(packages, members, defaults)


def _relative(path: str, root: str) -> str:
    relative = os.path.relpath(os.path.realpath(path), root)
    return "" if relative == "." else relative


def _target(target: dict[str, Any], package_dir: str) -> tuple[str, str, str]:
    kinds = set(target["kind"])
    if "proc-macro" in kinds:
        kind = "ProcMacro"
    elif kinds & _LIB_KINDS:
        kind = "Lib"
    else:
        kind = _KINDS[target["kind"][0]]
    name = target["name"] if kind != "Lib" else target["name"].replace("-", "_")
    path = os.path.relpath(target["src_path"], package_dir)
    return (kind, name, path)


def recipe_packages(recipe: Recipe) -> Packages:
    """The recipe's packages in CargoView's shape (virtual manifests are no packages)."""
    found: Packages = {}
    for manifest in recipe.manifests:
        package = tomllib.loads(manifest.contents).get("package")
        if not isinstance(package, dict):
            continue
        directory = str(manifest.directory)
        targets = frozenset((t.kind.value, t.name, t.path) for t in manifest.targets)
        found["" if directory == "." else directory] = (package["name"], targets)
    return found
