"""Fixtures. Real tools only; a missing tool fails in CI (CI=true) and skips elsewhere.

A test's markers come from the fixtures it uses (`FIXTURE_MARKERS`), so `-m "not docker"`
leaves out exactly the tests that need a docker daemon. tests/unit/ uses none of them.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from helpers import DOCKER, REGISTRY, TOY, require, write_tree

#: The markers a fixture brings to every test that uses it (docker builds vendor with cargo).
FIXTURE_MARKERS = {
    "cargo": ("cargo",), "toy": ("cargo",),
    "docker": ("docker", "cargo"), "registry": ("docker", "cargo"),
}  # fmt: skip
UNIT_TESTS = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in sorted(set(getattr(item, "fixturenames", ())) & FIXTURE_MARKERS.keys()):
            if item.path.is_relative_to(UNIT_TESTS):
                raise pytest.UsageError(f"{item.nodeid}: a unit test may not use `{fixture}`")
            for marker in FIXTURE_MARKERS[fixture]:
                item.add_marker(marker)


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


@pytest.fixture(scope="session")
def docker() -> str:
    """Debian's docker client, its daemon answering."""
    up = subprocess.run([DOCKER, "info"], capture_output=True, check=False).returncode == 0
    require(up, "a running docker daemon (/usr/bin/docker)")
    return DOCKER


@pytest.fixture(scope="session")
def registry(docker: str) -> str:
    """The local registry on 127.0.0.1:5000."""
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as response:
            reachable = response.status == 200
    except OSError:
        reachable = False
    require(reachable, f"the local registry at {REGISTRY}")
    return REGISTRY
