"""Hostile input: generated recipes never make cook write outside its directory; every one ends
in a clean RecipeError or a valid skeleton. Plus tampered cache entries, usage files and dist
manifests (each a one-line FAIL or treated as damaged, never a traceback), and a full disk."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galley import cachekey, delta
from galley.chef import CookOptions, Recipe, cook
from galley.chef.recipe import Manifest
from galley.errors import CacheError, RecipeError
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


@pytest.mark.parametrize(
    "damage",
    ["flip", "truncate", "add", "remove", "chmod", "entry.json", "files.json=5",
     'files.json=[["a", "b"]]', "no files.json", "symlink", "a file"],
)  # fmt: skip
def test_any_change_to_an_entry_is_detected(tmp_path: Path, damage: str) -> None:
    """Each damage is found in the entry as listed, and removing it leaves nothing behind."""
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
    elif damage.startswith("files.json="):
        (entry.path / "files.json").write_text(damage.partition("=")[2])
    elif damage == "no files.json":
        (entry.path / "files.json").unlink()
    elif damage == "symlink":  # an intact entry, linked in from elsewhere
        elsewhere = shutil.move(entry.path, tmp_path / "elsewhere")
        entry.path.symlink_to(elsewhere)
    elif damage == "a file":
        shutil.rmtree(entry.path)
        entry.path.write_text("not an entry")
    else:
        meta = json.loads((entry.path / "entry.json").read_text())
        meta["arch"] = "arm64"
        (entry.path / "entry.json").write_text(json.dumps(meta))
    listed = store.entries()
    assert [e.key for e in listed] == [key] and store.problems(listed[0]) != []
    if damage in ("symlink", "a file"):  # what removing it frees: the link, the file
        assert listed[0].size == entry.path.lstat().st_size < 301
    store.remove(listed[0])  # what prune does
    assert store.entries() == [] and list((tmp_path / "tmp").iterdir()) == []
    if damage == "symlink":
        assert (tmp_path / "elsewhere" / "files.json").is_file()  # only the link went


@pytest.mark.parametrize(
    "usage",
    ['{"hits": "abc"}', '{"hits": 1e400, "misses": -2}', '{"last_used": "yesterday"}',
     '{"last_used": 1e400}', '{"last_used": NaN}', '{"last_used": true}'],
)  # fmt: skip
def test_a_damaged_usage_file_counts_as_none(tmp_path: Path, usage: str) -> None:
    """Usage is advisory: a damaged count is 0, a damaged last use the entry's creation, and
    the next record rewrites the file whole."""
    store = Store(tmp_path)
    key = _entry(store)
    entry = store.get(key)
    assert entry is not None
    store.record(key, hit=False)  # the cook's miss
    path = tmp_path / "usage" / f"{key}.json"
    path.write_text(usage)
    assert store.last_used(entry) == entry.created > 0
    store.record(key, hit=True)
    recorded = json.loads(path.read_text())
    assert recorded["hits"] == 1 and recorded["misses"] == 0
    assert math.isfinite(store.last_used(entry)) and store.last_used(entry) >= entry.created


LOG_LOCK = 'version = 4\n[[package]]\nname = "log"\nversion = "0.4.20"\nsource = "registry+x"\n'


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", "big"), ("size", -1), ("created", "yesterday"), ("created", float("inf")),
     ("lock_packages", 5), ("lock_packages", [["log 0.4.20"]]), ("key_manifest", "x")],
)  # fmt: skip
def test_damaged_entry_records_are_not_trusted(tmp_path: Path, field: str, value: Any) -> None:
    """entry.json is read before the entry is verified (prune's sizes and ages, the choice of a
    delta seed): a damaged field counts as absent, the size is measured instead."""
    store = Store(tmp_path)
    key = _entry(store)
    path = store.entry_path(key) / "entry.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "lock_packages": ["log 0.4.20"], field: value}))
    entry = store.get(key)
    assert entry is not None
    assert entry.size == 301 and math.isfinite(store.last_used(entry))
    recipe = Recipe(manifests=(Manifest("Cargo.toml", "[workspace]\n"),), lock_file=LOG_LOCK)
    seed = delta.closest(store, cachekey.key_manifest(recipe="y", target="t"), recipe)
    trusted = field not in ("lock_packages", "key_manifest")
    assert (seed.key if seed else None) == (key if trusted else None)


def test_a_renamed_entry_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    key = _entry(store)
    other = "f" * 64
    shutil.copytree(store.entry_path(key), store.entry_path(other))
    copied = store.get(other)
    assert copied is not None
    assert any("does not hash to the entry's key" in p for p in store.problems(copied))


def test_a_publish_that_fails_names_the_file(tmp_path: Path) -> None:
    """A cook whose cargo left no target dir (a `cargo` wrapper that did nothing): one line
    that says which path is missing, and no entry."""
    store = Store(tmp_path / "cache")
    manifest = cachekey.key_manifest(recipe="x", target="t")
    missing = tmp_path / "cache" / "work" / "amd64" / "target"
    with pytest.raises(CacheError, match=f"No such file or directory: {missing}"):
        store.publish(cachekey.cache_key(manifest), manifest, missing, {"arch": "amd64"})
    assert store.entries() == []
