"""Hostile input: generated recipes never make cook write outside its directory; every one ends
in a clean RecipeError or a valid skeleton. Plus tampered cache entries and a full disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galley import cachekey
from galley.chef import CookOptions, Recipe, cook
from galley.errors import RecipeError
from galley.store import Store
from helpers import write_tree

SEGMENTS = st.sampled_from(
    ["src", "..", ".", "", "a", "Cargo.toml", "lib.rs", "~", "/", "\\", "link", "x\0y", "é"]
)
PATHS = st.lists(SEGMENTS, min_size=1, max_size=5).map("/".join) | st.text(max_size=30)
KINDS = st.sampled_from(
    ["Bin", "Test", "Bench", "Example", "BuildScript", {"Lib": {"is_proc_macro": True}},
     {"Lib": {"is_proc_macro": False}}, "Lib", 3, None, {"Lib": {}}]
)  # fmt: skip
CONTENTS = st.sampled_from(
    ['[package]\nname = "p"\n', "[workspace]\nmembers = []\n", "not toml [", "[dependencies]\n",
     '[package]\nname = "p"\n[[test]]\nname = "t"\nharness = false\n', ""]
)  # fmt: skip
TARGETS = st.fixed_dictionaries({"path": PATHS, "kind": KINDS, "name": st.text(max_size=8)})
MANIFESTS = st.fixed_dictionaries(
    {
        "relative_path": PATHS | PATHS.map(lambda p: p + "/Cargo.toml"),
        "contents": CONTENTS,
        "targets": st.lists(TARGETS, max_size=4),
    }
)
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)
RECIPES = (
    st.fixed_dictionaries(
        {
            "skeleton": st.fixed_dictionaries(
                {
                    "manifests": st.lists(MANIFESTS, max_size=4) | JUNK,
                    "config_file": st.none() | st.text(max_size=10) | st.integers(),
                    "lock_file": st.none() | st.just("version = 4\n"),
                    "rust_toolchain_file": st.none()
                    | st.just(["Bare", "1.85"])
                    | st.just(["Toml", 1])
                    | JUNK,
                }
            )
        }
    )
    | JUNK
)


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=RECIPES)
def test_generated_recipes_never_escape(
    document: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("hostile")
    cook_dir, outside = base / "cook", base / "outside"
    cook_dir.mkdir()
    outside.mkdir()
    (cook_dir / "link").symlink_to(outside)
    before = _snapshot(base)
    try:
        recipe = Recipe.from_json(json.dumps(document))
        cook(recipe, cook_dir, CookOptions(no_build=True))
    except RecipeError:
        assert _snapshot(base) == before  # refused: nothing written at all
        return
    assert list(outside.iterdir()) == []
    written = _snapshot(base) - before
    assert all(path.startswith("cook/") for path in written)
    for path in written:
        assert os.path.realpath(base / path).startswith(str(cook_dir.resolve()))


def test_huge_recipes_are_refused() -> None:
    with pytest.raises(RecipeError, match="larger than"):
        Recipe.from_json(b" " * (256 * 1024 * 1024 + 1))


# --- tampered cache entries --------------------------------------------------------------------


def _entry(store: Store) -> str:
    manifest = cachekey.key_manifest(recipe="x", target="t")
    key = cachekey.cache_key(manifest)
    target = write_tree(store.root / "cooked", {"release/libx.rlib": "abc" * 100, "release/y": "1"})
    store.publish(key, manifest, target, {"arch": "amd64"})
    return key


@pytest.mark.parametrize("damage", ["flip", "truncate", "add", "remove", "chmod", "entry.json"])
def test_any_change_to_an_entry_is_detected(tmp_path: Path, damage: str) -> None:
    store = Store(tmp_path)
    key = _entry(store)
    entry = store.get(key)
    assert entry is not None and store.problems(entry) == []
    rlib = entry.target_dir / "release" / "libx.rlib"
    if damage == "flip":
        data = bytearray(rlib.read_bytes())
        data[7] ^= 1
        rlib.write_bytes(bytes(data))
    elif damage == "truncate":
        rlib.write_bytes(rlib.read_bytes()[:-1])
    elif damage == "add":
        (entry.target_dir / "release" / "extra").write_text("")
    elif damage == "remove":
        rlib.unlink()
    elif damage == "chmod":
        rlib.chmod(0o777)
    else:
        meta = json.loads((entry.path / "entry.json").read_text())
        meta["arch"] = "arm64"
        (entry.path / "entry.json").write_text(json.dumps(meta))
    assert store.problems(entry) != []


def test_a_renamed_entry_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    key = _entry(store)
    other = "f" * 64
    shutil.copytree(store.entry_path(key), store.entry_path(other))
    copied = store.get(other)
    assert copied is not None
    assert any("does not hash to the entry's key" in p for p in store.problems(copied))


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_disk_full_in_the_cache_is_a_clean_error(tmp_path: Path, toy: Path) -> None:
    """A small tmpfs we mount ourselves as the cache dir: the cook runs out of space."""
    workspace = toy
    cache = tmp_path / "small"
    cache.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(cache)], check=True)
    try:
        failed = subprocess.run(
            [sys.executable, "-m", "galley", "cook"], cwd=workspace, capture_output=True, text=True,
            env={**os.environ, "GALLEY_CACHE_DIR": str(cache)},
        )  # fmt: skip
        assert failed.returncode != 0
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith("galley: error:") and "no space left on device" in last
        assert "Traceback" not in failed.stderr
        assert not (cache / "entries").exists() or list((cache / "entries").iterdir()) == []
    finally:
        subprocess.run(["umount", str(cache)], check=True)
