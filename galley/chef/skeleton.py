"""Writing a recipe's skeleton (manifests, lockfile, config, toolchain file, dummy sources).

Every path is validated before anything is written: it must stay inside the cook directory,
never pass through a symlink, and manifests must be TOML Cargo manifests. On any problem a
RecipeError is raised and nothing has been written.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from galley.chef.recipe import Manifest, Recipe, Target, TargetKind
from galley.chef.targets import without_harness
from galley.errors import RecipeError

MAX_FILES = 100_000

MAIN = "fn main() {}"  # cargo-chef's bytes, no newline
NO_STD_LIB = "#![no_std]"
NO_STD_MAIN = """#![no_std]
#![no_main]

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
"""
NO_STD_TEST = """#![no_std]
#![no_main]
#![feature(custom_test_frameworks)]
#![test_runner(test_runner)]

#[no_mangle]
pub extern "C" fn _init() {}

fn test_runner(_: &[&dyn Fn()]) {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
"""


@dataclass(frozen=True)
class SkeletonFile:
    """One file of the skeleton: a path relative to the cook dir and its contents."""

    path: str
    contents: str


def plan(recipe: Recipe, no_std: bool = False) -> list[SkeletonFile]:
    """The validated list of files to write, in writing order."""
    files: dict[str, str] = {}
    if recipe.lock_file is not None:
        _add(files, "Cargo.lock", recipe.lock_file)
    if recipe.rust_toolchain_file is not None:
        kind, text = recipe.rust_toolchain_file
        _add(files, "rust-toolchain" if kind == "Bare" else "rust-toolchain.toml", text)
    if recipe.config_file is not None:
        _add(files, ".cargo/config.toml", recipe.config_file)
    for manifest in recipe.manifests:
        _add(files, manifest.relative_path, manifest.contents)
    dummies: dict[str, str] = {}
    for manifest in recipe.manifests:
        harness_free = without_harness(_parse_manifest(manifest))
        for target in manifest.targets:
            path = posixpath.normpath(posixpath.join(manifest.directory.as_posix(), target.path))
            dummy = dummy_source(target, target_harness_free(target, harness_free), no_std)
            dummies[path] = _one_for_both(dummies.get(path, dummy), dummy)
    for path, dummy in dummies.items():
        _add(files, path, dummy)
    if len(files) > MAX_FILES:
        raise RecipeError(f"recipe has more than {MAX_FILES} files")
    _check_no_file_is_a_directory(files)
    return [SkeletonFile(path, contents) for path, contents in files.items()]


def write(files: list[SkeletonFile], directory: Path, within: Path | None = None) -> None:
    """Write a planned skeleton under `directory`; refuses any path through a symlink, and any
    that leaves `within` (default: `directory`; a path crate outside the workspace has a
    `../` manifest, which galley's cooks place in a tree above the workspace)."""
    root = (within or directory).resolve()
    placed = [SkeletonFile(place(directory, within, i.path), i.contents) for i in files]
    for item in placed:
        check_inside(root, item.path)
    for item in placed:
        _write_file(root, item)


def place(directory: Path, within: Path | None, relative: str) -> str:
    """`relative` (to `directory`) as a path relative to the root the skeleton may be written
    in (`within`, default `directory`); a RecipeError if it leaves that root."""
    root = (within or directory).resolve()
    path = os.path.normpath(directory.resolve() / relative)
    if os.path.commonpath([root, path]) != str(root):
        raise RecipeError(
            f"{relative}: outside the directory the skeleton may be written to ({root}); "
            "a path crate outside the workspace needs GALLEY_CHEF_SKELETON_ROOT=<a dir above>"
        )
    return os.path.relpath(path, root)


def target_harness_free(target: Target, harness_free: set[str]) -> bool:
    return target.kind in (TargetKind.TEST, TargetKind.BENCH) and (
        target.name in harness_free or target.path in harness_free
    )


def dummy_source(target: Target, harness_free: bool, no_std: bool) -> str:
    """The stand-in source for a target (cargo-chef's dummies)."""
    kind = target.kind
    if kind is TargetKind.BUILD_SCRIPT:
        return MAIN
    if kind is TargetKind.PROC_MACRO:
        return ""
    if kind is TargetKind.LIB:
        return NO_STD_LIB if no_std else ""
    if kind in (TargetKind.BIN, TargetKind.EXAMPLE) or harness_free:
        return NO_STD_MAIN if no_std else MAIN
    return NO_STD_TEST if no_std else ""


#: Dummies by how much they define: a file shared by several targets (a `[lib]` and an example
#: on one source, which cargo warns about and builds) gets the one that serves them all.
_DUMMY_ORDER = ("", NO_STD_LIB, MAIN, NO_STD_TEST, NO_STD_MAIN)


def _one_for_both(first: str, second: str) -> str:
    """The dummy that compiles as both targets' source: a `fn main` serves a library and a test
    too (as dead code), an empty file serves neither a binary nor a build script."""
    return max(first, second, key=_DUMMY_ORDER.index)


def _add(files: dict[str, str], path: str, contents: str) -> None:
    if path in files and files[path] != contents:
        raise RecipeError(f"recipe writes {path!r} twice with different contents")
    files[path] = contents


def _parse_manifest(manifest: Manifest) -> dict[str, object]:
    try:
        table = tomllib.loads(manifest.contents)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{manifest.relative_path}: contents are not TOML ({exc})") from None
    if not isinstance(table.get("package"), dict) and not isinstance(table.get("workspace"), dict):
        raise RecipeError(f"{manifest.relative_path}: not a Cargo manifest (no [package])")
    return table


def _check_no_file_is_a_directory(files: dict[str, str]) -> None:
    directories = {str(parent) for path in files for parent in PurePosixPath(path).parents}
    clash = sorted(directories.intersection(files))
    if clash:
        raise RecipeError(f"recipe uses {clash[0]!r} both as a file and as a directory")


def check_inside(root: Path, relative: str, is_dir: bool = False) -> None:
    """No existing component of `root/relative` may be a symlink or a non-directory parent,
    nor the last one other than a regular file (a directory with `is_dir`)."""
    current = root
    parts = PurePosixPath(relative).parts
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise RecipeError(f"{relative}: cannot inspect ({exc.strerror})") from None
        if stat.S_ISLNK(mode):
            raise RecipeError(f"{relative}: refusing to write through the symlink {current}")
        last = index == len(parts) - 1
        if not last and not stat.S_ISDIR(mode):
            raise RecipeError(f"{relative}: {current} is not a directory")
        if last and not (stat.S_ISDIR(mode) if is_dir else stat.S_ISREG(mode)):
            kind = "a directory" if is_dir else "a regular file"
            raise RecipeError(f"{relative}: {current} exists and is not {kind}")


def _write_file(root: Path, item: SkeletonFile) -> None:
    path = root / item.path
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(item.contents)
