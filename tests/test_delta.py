"""drop_unused keeps what the lockfile and the workspace still name, and only that."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from galley.chef.recipe import Manifest, Recipe
from galley.delta import drop_unused, lock_packages
from helpers import write_tree

H = "0123456789abcdef"
LOCK = """version = 4
[[package]]
name = "libc"
version = "0.2.139"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "serde_json"
version = "1.0.87"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "app"
version = "0.0.1"
"""


@pytest.mark.parametrize("way", ["python", "sh"])
def test_drop_unused(tmp_path: Path, way: str) -> None:
    """The same rule in Python (local store) and as the sh + awk script the builder images run
    (docker delta cooks and cache mounts), with the system's own sh and awk."""
    recipe = Recipe(
        manifests=(Manifest("Cargo.toml", '[package]\nname = "app"\nversion = "0.0.1"\n'),),
        lock_file=LOCK,
    )
    assert lock_packages(recipe) == ["libc 0.2.139", "serde_json 1.0.87"]
    kept = [
        f"release/.fingerprint/libc-{H}/lib-libc",
        f"release/deps/liblibc-{H}.rlib",
        f"release/deps/libserde_json-{H}.rmeta",
        f"release/build/libc-{H}/output",
        f"release/.fingerprint/app-{H}/x",
        f"release/deps/build_script_build-{H}",
    ]
    dropped = [
        f"release/.fingerprint/itoa-{H}/lib-itoa",
        f"release/deps/libitoa-{H}.rlib",
        f"release/deps/itoa-{H}.d",
        f"release/build/itoa-{H}/output",
    ]
    target = write_tree(tmp_path / "target", dict.fromkeys(kept + dropped, ""))
    if way == "python":
        assert drop_unused(target, recipe) == 4
    else:
        from galley.docker.scripts import drop_script

        subprocess.run(["sh", "-euc", drop_script(recipe, str(target))], check=True)
    for path in kept:
        assert (target / path).exists(), path
    for path in dropped:
        assert not (target / path).exists(), path
