"""Unit-tier fixtures: values written by hand for pure functions (no cargo, no docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from galley.cachekey import Toolchain
from helpers import RUSTC


@pytest.fixture
def toolchain(tmp_path: Path) -> Toolchain:
    """What a Rust 1.95 toolchain says of itself, with a sysroot holding the std of amd64 and
    arm64 (directories, as a toolchain lays them out)."""
    for triple in ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"):
        (tmp_path / "sysroot" / "lib" / "rustlib" / triple / "lib").mkdir(parents=True)
    return Toolchain(RUSTC, "cargo 1.95.0", tmp_path / "sysroot")
