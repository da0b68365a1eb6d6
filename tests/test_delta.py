"""drop_unused keeps what the lockfile and the workspace still name, and only that."""

from __future__ import annotations

from pathlib import Path

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


def test_drop_unused(tmp_path: Path) -> None:
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
    assert drop_unused(target, recipe) == 4
    for path in kept:
        assert (target / path).exists(), path
    for path in dropped:
        assert not (target / path).exists(), path
