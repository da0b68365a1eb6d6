"""The workspace's rust-toolchain file: rustup honours it on the host, but builder images have
no rustup, so the docker backend compiles with the image's rustc whatever the file pins."""

from __future__ import annotations

import re
import tomllib

from galley import shell
from galley.chef.recipe import Recipe
from galley.errors import CommandFailed

_RELEASE = re.compile(r"\d+\.\d+(\.\d+)?")


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
        f"{image} has rustc {release} (no rustup there); set builder_image to one with {pin}"
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
