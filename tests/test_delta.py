"""drop_unused keeps what the lockfile and the workspace still name, and only that; verify
reports an entry whose fingerprints and artifacts do not match."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from galley.chef.recipe import Manifest, Recipe
from galley.delta import drop_unused, lock_packages
from galley.store import Store
from helpers import RENAMED_LIBS, RENAMED_LIBS_OUTPUT, galley, results, write_tree

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
        from galley.docker.scripts import drop_script

        subprocess.run(["sh", "-euc", drop_script(recipe, str(target))], check=True)
    for path in kept:
        assert (target / path).exists(), path
    for path in dropped:
        assert not (target / path).exists(), path


@pytest.fixture(scope="module")
def renamed_build(
    tmp_path_factory: pytest.TempPathFactory, cargo: str
) -> tuple[Path, Path, dict[str, Any]]:
    """RENAMED_LIBS built cold by the local backend: (workspace, cache dir, the build's result)."""
    root = tmp_path_factory.mktemp("renamed")
    workspace = write_tree(root / "ws", RENAMED_LIBS)
    subprocess.run(
        [cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True, capture_output=True
    )
    (result,) = results(galley("build", "--json", cwd=workspace, cache=root / "cache").stdout)
    return workspace, root / "cache", result


@pytest.mark.cargo
def test_a_cold_build_compiles_only_the_workspace(
    renamed_build: tuple[Path, Path, dict[str, Any]],
) -> None:
    """The cook's entry keeps the dependencies whose library names differ from their package
    names: the build that restores it compiles only the workspace's crate."""
    workspace, cache, result = renamed_build
    assert result["cache"] == "miss" and result["compiled"] == ["app"]
    binary = workspace / "dist" / "amd64" / "bin" / "app"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == RENAMED_LIBS_OUTPUT
    galley("verify", cwd=workspace, cache=cache)


@pytest.mark.cargo
def test_verify_reports_fingerprints_and_artifacts_that_do_not_match(
    renamed_build: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A fingerprint with no artifacts (cargo compiles that package again), and artifacts no
    fingerprint owns, FAIL verify. The damage is made by hand, as no cook can make it: in a copy
    of the entry, dlv-list's deps files and hashbrown's fingerprint are deleted, and the copy is
    published again through the store, so its files.json matches what it holds (as it did for
    entries whose drop deleted the artifacts of dependencies named unlike their libraries)."""
    workspace, cache, _ = renamed_build
    shutil.copytree(cache / "entries", tmp_path / "cache" / "entries", symlinks=True)
    store = Store(tmp_path / "cache")
    [entry] = store.entries()
    target = tmp_path / "target"
    shutil.copytree(entry.target_dir, target, symlinks=True)
    [profile] = [p.parent for p in target.glob("*/release/.fingerprint")]
    where = f"  FAIL: cache entry {entry.key[:12]}: {profile.relative_to(target).as_posix()}"
    [dlv_list] = profile.glob(".fingerprint/dlv-list-*")
    removed = sorted(profile.glob(f"deps/*dlv_list{dlv_list.name.removeprefix('dlv-list')}*"))
    [hashbrown] = profile.glob(".fingerprint/hashbrown-*")
    unowned = sorted(profile.glob(f"deps/*{hashbrown.name.removeprefix('hashbrown')}*"))
    assert removed and unowned, sorted(p.name for p in (profile / "deps").iterdir())
    expected = [
        f"{where}/.fingerprint/{dlv_list.name}: no file of deps/ or build/ has its hash",
        *(f"{where}/deps/{path.name}: no fingerprint has its hash" for path in unowned),
    ]
    for path in removed:
        path.unlink()
    shutil.rmtree(hashbrown)
    with store.lock(entry.key):
        store.publish(entry.key, entry.meta["key_manifest"], target, entry.meta)

    failed = galley("verify", cwd=workspace, cache=tmp_path / "cache", check=False)
    assert failed.returncode == 9, failed.stderr
    fails = [line for line in failed.stderr.splitlines() if line.startswith("  FAIL: ")]
    assert sorted(fails) == sorted(expected), failed.stderr
