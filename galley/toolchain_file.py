"""What Rust the workspace asks for: its rust-toolchain file (rustup honours it on the host, but
builder images have no rustup, so the docker backend compiles with the image's rustc) and the
`rust-version` of its packages (cargo refuses an older rustc)."""

from __future__ import annotations

import posixpath
import re
import tomllib
from typing import Any, NamedTuple

from galley import shell
from galley.chef.recipe import Recipe
from galley.errors import CommandFailed

_RELEASE = re.compile(r"\d+\.\d+(\.\d+)?")


class Requirement(NamedTuple):
    """The oldest Rust release the workspace builds with, and who asks for it."""

    release: str  # "1.95", "1.95.0"
    source: str  # "rust-version of package kata-deploy", "the toolchain file"


def release_tuple(release: str) -> tuple[int, ...]:
    """(1, 95, 0) for "1.95" or "1.95.0" (a missing patch is 0, as cargo compares them)."""
    parts = [int(part) for part in release.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def meets(release: str, required: str) -> bool:
    """Whether rustc `release` ("1.96.0") is at least `required` ("1.95")."""
    return release_tuple(release) >= release_tuple(required)


def required_release(recipe: Recipe) -> Requirement | None:
    """The newest of the release the toolchain file pins and the `rust-version`s of the
    recipe's packages, as cargo reads them: the package's own, or `[workspace.package]`'s of
    its workspace root with `rust-version.workspace = true`; None if nothing asks."""
    tables = {m.relative_path: _toml(m.contents) for m in recipe.manifests}
    pin = pinned_release(recipe)
    found = Requirement(pin, "the toolchain file") if pin else None
    for path, table in tables.items():
        package = table.get("package")
        if not isinstance(package, dict) or "rust-version" not in package:
            continue
        release = package["rust-version"]
        if isinstance(release, dict) and release.get("workspace") is True:
            release = _workspace_release(path, tables)
        if not isinstance(release, str) or not _RELEASE.fullmatch(release):
            continue
        if found is None or release_tuple(release) > release_tuple(found.release):
            found = Requirement(release, f"rust-version of package {package.get('name', path)}")
    return found


def _workspace_release(path: str, tables: dict[str, dict[str, Any]]) -> Any:
    """`[workspace.package] rust-version` of the closest manifest above `path` with a
    `[workspace]` table (the package's own manifest first, as cargo looks)."""
    directory = posixpath.dirname(path)
    while True:
        root = tables.get(posixpath.join(directory, "Cargo.toml") if directory else "Cargo.toml")
        workspace = root.get("workspace") if root else None
        if isinstance(workspace, dict):
            package = workspace.get("package")
            return package.get("rust-version") if isinstance(package, dict) else None
        if directory in ("", "."):
            return None
        directory = posixpath.dirname(directory)


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def pinned_release(recipe: Recipe) -> str | None:
    """The release the file pins ("1.80.0", "1.80"); None with no file or a channel name
    (stable, nightly-…), which says no release."""
    if not recipe.rust_toolchain_file:
        return None
    kind, text = recipe.rust_toolchain_file
    channel = text.strip()
    if kind == "Toml" or "[toolchain]" in text:
        try:
            table = tomllib.loads(text).get("toolchain", {})
        except tomllib.TOMLDecodeError:
            return None
        channel = table.get("channel", "") if isinstance(table, dict) else ""
    return channel if isinstance(channel, str) and _RELEASE.fullmatch(channel) else None


def mismatch_warning(recipe: Recipe, release: str, image: str) -> str | None:
    """A line saying the image's rustc is not the release the file pins, or None."""
    pin = pinned_release(recipe)
    if pin is None or release.split(".")[: len(pin.split("."))] == pin.split("."):
        return None
    return (
        f"galley: warning: the workspace's toolchain file pins Rust {pin}, but builder image "
        f"{image} has rustc {release} (no rustup there); set rust or builder_image to one "
        f"with {pin}"
    )


def host_default() -> str | None:
    """The toolchain rustup uses outside any workspace, or None (no rustup, or no default)."""
    if not shell.which("rustup"):
        return None
    try:
        out = shell.capture(["rustup", "show", "active-toolchain"], cwd="/")
    except CommandFailed:
        return None
    return out.split()[0] if out.strip() else None
