"""Composing the chef command line: `galley-chef cook …` or `cargo chef cook …` (same flags)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from galley import shell
from galley.chef.cooker import CookOptions, cargo_args
from galley.errors import ConfigError


def resolve(chef: str, cargo: str) -> str:
    """`builtin` or `cargo-chef`; `auto` picks cargo-chef when `cargo chef --version` answers."""
    if chef == "auto":
        return "cargo-chef" if shell.succeeds([cargo, "chef", "--version"]) else "builtin"
    if chef not in ("builtin", "cargo-chef"):
        raise ConfigError(f"chef must be builtin, cargo-chef or auto, not {chef!r}")
    return chef


def program(chef: str, cargo: str) -> list[str]:
    """The argv prefix that runs the chef."""
    if chef == "cargo-chef":
        return [cargo, "chef"]
    beside = Path(sys.executable).with_name("galley-chef")
    found = str(beside) if beside.exists() else shutil.which("galley-chef")
    return [found] if found else [sys.executable, "-m", "galley.chef.cli"]


def cook_command(prefix: list[str], recipe_path: Path, options: CookOptions) -> list[str]:
    """`<prefix> cook --recipe-path P <flags>`: cargo-chef's flags, in cargo-chef's order."""
    flags = cargo_args(options)[1:]  # without the cargo subcommand
    mode = {"check": "--check", "clippy": "--clippy", "zigbuild": "--zigbuild"}
    extra = [mode[options.subcommand]] if options.subcommand in mode else []
    extra += ["--no-build"] if options.no_build else []
    extra += ["--no-std"] if options.no_std else []
    return [*prefix, "cook", "--recipe-path", str(recipe_path), *extra, *flags]
