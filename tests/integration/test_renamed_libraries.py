"""Dependencies whose library name differs from the package name stay cooked (#41)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from galley.store import Store
from helpers import RENAMED_LIBS, RENAMED_LIBS_OUTPUT, galley, results, write_tree


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
