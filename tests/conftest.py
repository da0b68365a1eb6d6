"""Fixtures. Real tools only; a missing tool fails in CI (CI=true) and skips elsewhere."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from helpers import TOY, require, write_tree


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    def make(files: Mapping[str, str], name: str = "ws") -> Path:
        return write_tree(tmp_path / name, files)

    return make


@pytest.fixture(scope="session")
def cargo() -> str:
    """Path of a cargo that can build offline from Debian's registry."""
    found = shutil.which("cargo")
    require(found is not None, "cargo")
    require(Path("/usr/share/cargo/registry/serde-1.0.152").is_dir(), "Debian's librust-*-dev")
    assert found
    return found


@pytest.fixture
def toy(tmp_path: Path, cargo: str) -> Path:
    """The TOY workspace, with its lockfile, in `tmp_path / "toy"`."""
    root = write_tree(tmp_path / "toy", TOY)
    subprocess.run(
        [cargo, "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True
    )
    return root
