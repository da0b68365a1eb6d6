"""drop_unused keeps what the lockfile and the workspace still name, and only that; verify
reports an entry whose fingerprints and artifacts do not match."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from galley.chef.recipe import Manifest, Recipe
from galley.delta import drop_unused, lock_packages
from helpers import write_tree

LOCK = """version = 4
[[package]]
name = "libc"
version = "0.2.139"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "md-5"
version = "0.10.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "Inflector"
version = "0.11.4"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "utf-8"
version = "0.7.6"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "app"
version = "0.0.1"
"""


def h(n: int) -> str:
    """The n-th unit's hash (cargo's `-<16 hex digits>`)."""
    return f"{n:016x}"


@pytest.mark.parametrize("way", ["local", "docker"])
def test_drop_unused(tmp_path: Path, way: str) -> None:
    """What belongs to a package is what its fingerprint dirs' hashes name, whatever its library
    is called (md-5's is `md5`). galley/drop.sh run by the local backend, and by the lines that
    docker delta cooks and cache mounts run in builder images (here with the system's sh)."""
    recipe = Recipe(
        manifests=(Manifest("Cargo.toml", '[package]\nname = "app"\nversion = "0.0.1"\n'),),
        lock_file=LOCK,
    )
    sourced = ["Inflector 0.11.4", "libc 0.2.139", "md-5 0.10.1", "utf-8 0.7.6"]
    assert lock_packages(recipe) == sourced
    cross = "x86_64-unknown-linux-gnu/release"
    kept = [
        f"release/.fingerprint/md-5-{h(1)}/lib-md5",
        f"release/deps/libmd5-{h(1)}.rlib",
        f"release/deps/libmd5-{h(1)}.rmeta",
        f"release/deps/md5-{h(1)}.d",
        f"release/.fingerprint/Inflector-{h(2)}/lib-inflector",
        f"release/deps/libinflector-{h(2)}.rlib",
        f"release/.fingerprint/utf-8-{h(3)}/lib-utf8",
        f"release/deps/libutf8-{h(3)}.rlib",
        f"release/.fingerprint/libc-{h(4)}/build-script-build-script-build",
        f"release/build/libc-{h(4)}/build_script_build-{h(4)}",
        f"{cross}/.fingerprint/libc-{h(5)}/run-build-script-build-script-build",
        f"{cross}/build/libc-{h(5)}/output",
        f"{cross}/.fingerprint/libc-{h(6)}/lib-libc",
        f"{cross}/deps/liblibc-{h(6)}.rlib",
        f"{cross}/.fingerprint/md-5-{h(7)}/lib-md5",
        f"{cross}/deps/libmd5-{h(7)}.rlib",
        f"{cross}/.fingerprint/app-{h(8)}/bin-app",
        f"{cross}/deps/app-{h(8)}",
        f"{cross}/deps/libplug.so",  # no hash: a local cdylib (cleanup's concern)
    ]
    dropped = [
        f"release/.fingerprint/itoa-{h(9)}/lib-itoa",  # a package the lockfile no longer has
        f"release/deps/libitoa-{h(9)}.rlib",
        f"release/deps/itoa-{h(9)}.d",
        f"{cross}/.fingerprint/xml-rs-{h(10)}/lib-xml",
        f"{cross}/deps/libxml-{h(10)}.rlib",
        f"{cross}/build/xml-rs-{h(10)}/output",
        f"{cross}/deps/libmd5-{h(1)}.rlib",  # its fingerprint is in the other profile dir
    ]
    target = write_tree(tmp_path / "target", dict.fromkeys(kept + dropped, ""))
    if way == "local":
        assert drop_unused(target, recipe) == 7
    else:
        from galley.backends.docker.scripts import drop_script

        subprocess.run(["sh", "-euc", drop_script(recipe, str(target))], check=True)
    for path in kept:
        assert (target / path).exists(), path
    for path in dropped:
        assert not (target / path).exists(), path
