"""Damaged caches, dists and disks, met by real builds."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from galley.units import format_size
from helpers import flip_metadata, galley, patched_workspace, write_tree


def _fails(stderr: str) -> list[str]:
    """verify's FAIL lines, once every line of its output is checked to be one of its own (a
    traceback or a message spanning lines is not)."""
    lines = stderr.splitlines()
    assert all(line.startswith(("  FAIL: ", "  note: ", "galley: ")) for line in lines), stderr
    return [line for line in lines if line.startswith("  FAIL: ")]


def test_a_damaged_cache_entry_is_reported_pruned_and_recooked(toy: Path, tmp_path: Path) -> None:
    """Through the commands, on one entry: damaged usage (rewritten by the next cook), damaged
    sizes and dates (prune still decides), a files.json of the wrong shape (one FAIL line, then
    quarantined and re-cooked), then none at all (a FAIL line, and prune removes the entry)."""
    cache = tmp_path / "cache"
    galley("cook", cwd=toy, cache=cache)
    [entry] = (cache / "entries").iterdir()
    usage = cache / "usage" / f"{entry.name}.json"
    usage.write_text('{"hits": "abc", "last_used": "yesterday"}')
    galley("cook", cwd=toy, cache=cache)  # a hit
    assert json.loads(usage.read_text())["hits"] == 1
    usage.write_text('{"last_used": 1e400}')
    kept = galley("cache-prune", "--older-than", "1d", cwd=toy, cache=cache).stderr
    assert "0.0h ago" in kept and "removed" not in kept
    meta = json.loads((entry / "entry.json").read_text())
    (entry / "entry.json").write_text(json.dumps({**meta, "size": "big", "created": "x"}))
    for limit in (["--keep", "0"], ["--max-size", "1K"]):
        dry = galley("cache-prune", "--dry-run", *limit, cwd=toy, cache=cache)
        assert "would remove" in dry.stderr
    (entry / "files.json").write_text('[["a", "b"]]')
    failed = galley("verify", cwd=toy, cache=cache, check=False)
    unreadable = f"cache entry {entry.name[:12]}: files.json is missing, unreadable or not a JSON"
    assert failed.returncode == 9 and any(unreadable in line for line in _fails(failed.stderr))
    assert "quarantined" in galley("cook", cwd=toy, cache=cache).stderr
    recooked = galley("verify", cwd=toy, cache=cache, check=False)  # no dist yet: exit 9
    assert not any(entry.name[:12] in line for line in _fails(recooked.stderr))
    (entry / "files.json").unlink()
    failed = galley("verify", cwd=toy, cache=cache, check=False)
    assert failed.returncode == 9 and any(unreadable in line for line in _fails(failed.stderr))
    assert "removed" in galley("cache-prune", "--keep", "0", cwd=toy, cache=cache).stderr
    assert list((cache / "entries").iterdir()) == []


@pytest.mark.parametrize("intruder", ["a file", "a symlink"])
def test_a_file_or_symlink_in_an_entrys_place_is_reported_recooked_and_pruned(
    toy: Path, tmp_path: Path, intruder: str
) -> None:
    """Not a directory galley published: verify FAILs it, a cook quarantines it and cooks the
    entry again, prune removes it and reports what that frees."""
    cache = tmp_path / "cache"
    galley("cook", cwd=toy, cache=cache)
    [entry] = (cache / "entries").iterdir()
    elsewhere = Path(shutil.move(entry, tmp_path / "elsewhere"))

    def intrude() -> None:
        if intruder == "a file":
            entry.write_text("x" * 2048)
        else:
            entry.symlink_to(elsewhere)

    intrude()
    failed = galley("verify", cwd=toy, cache=cache, check=False)
    what = "is a file" if intruder == "a file" else "is a symlink"
    assert failed.returncode == 9
    assert any(f"cache entry {entry.name[:12]}: {what}" in line for line in _fails(failed.stderr))
    assert "quarantined" in galley("cook", cwd=toy, cache=cache).stderr
    assert entry.is_dir() and not entry.is_symlink()
    shutil.rmtree(entry)
    intrude()
    size = entry.lstat().st_size  # 2048, or the link's own few bytes
    pruned = galley("cache-prune", "--keep", "0", cwd=toy, cache=cache).stderr
    assert "removed" in pruned and list((cache / "entries").iterdir()) == []
    assert f"freed {format_size(size)}\n" in pruned, pruned
    assert (elsewhere / "files.json").is_file()  # a symlink's target is not the cache's


def test_a_damaged_dependency_in_the_work_dir_is_found_and_healed(
    toy: Path, tmp_path: Path
) -> None:
    """64 bytes of log's rlib in the local work dir flipped by hand (a bad sector cannot be
    caused on purpose): `verify` names it and the next build restores it from the entry; with
    its mtime kept (no cheap check can see it), the build fails, restores and builds again; a
    tool's write (new mtime) is restored before the build; `verify --repair` restores it too.
    Each binary runs right. Before: verify said OK, and every build failed."""
    cache = tmp_path / "cache"
    galley("build", cwd=toy, cache=cache)
    galley("verify", cwd=toy, cache=cache)  # untouched: OK
    [rlib] = (cache / "work" / "amd64" / "target").glob("*/release/deps/liblog-*.rlib")
    where = rlib.relative_to(cache / "work" / "amd64").as_posix()
    main = toy / "app" / "src" / "main.rs"
    app = toy / "dist" / "amd64" / "bin" / "app"

    def edit_and_build(greeting: str) -> subprocess.CompletedProcess[str]:
        main.write_text(
            re.sub(r'GREETING: &str = "\w*"', f'GREETING: &str = "{greeting}"', main.read_text())
        )
        built = galley("build", "--json", cwd=toy, cache=cache)
        assert subprocess.run([app], capture_output=True, text=True).stdout == f"{greeting} 41\n"
        return built

    flip_metadata(rlib, keep_mtime=True)
    failed = galley("verify", cwd=toy, cache=cache, check=False)
    assert failed.returncode == 9
    assert [
        where in line and "differs from cache entry" in line for line in _fails(failed.stderr)
    ] == [True]
    healed = edit_and_build("a")  # verify marked it: restored before cargo runs
    assert json.loads(healed.stdout)["results"][0]["healed"] == [where]
    galley("verify", cwd=toy, cache=cache)

    flip_metadata(rlib, keep_mtime=True)
    retried = edit_and_build("b")
    assert "crate `log` required to be available in rlib format" in retried.stderr
    said = [line for line in retried.stderr.splitlines() if line.startswith("galley: amd64: ")]
    assert len(said) == 1 and "the build failed" in said[0] and rlib.name in said[0], said
    assert "building again" in said[0]

    flip_metadata(rlib, keep_mtime=False)  # a tool wrote it: the cheap check sees it
    before = edit_and_build("c")
    assert "cargo build again" not in json.loads(before.stdout)["results"][0]["phases"]
    assert f"({rlib.name}) in the work dir differed" in before.stderr

    flip_metadata(rlib, keep_mtime=True)
    repaired = galley("verify", "--repair", cwd=toy, cache=cache)
    assert f"work dir amd64: {where} differed from cache entry" in repaired.stderr
    galley("verify", cwd=toy, cache=cache)
    edit_and_build("d")

    main.write_text(main.read_text() + "fn broken() {\n")  # the build's own failure: as before
    broken = galley("build", cwd=toy, cache=cache, check=False)
    assert broken.returncode == 6 and "restored" not in broken.stderr
    last = broken.stderr.strip().splitlines()[-1]
    assert last.startswith("galley: error: cargo exited with 101: error: could not compile `app`")


def test_a_dependency_cargo_compiles_again_is_not_damage(tmp_path: Path, cargo: str) -> None:
    """A path patch whose build script reruns when an environment variable that is no key input
    changes: cargo compiles it again in the work dir, over files the entry gave. They leave the
    record, so the next build restores nothing and compiles only `app` (were they kept, it
    would put the entry's copies back and cargo would compile the patch again every time)."""
    workspace = patched_workspace(tmp_path / "ws", "patched")
    write_tree(workspace, {"patched/cfg-if/build.rs": (
        "fn main() {\n"
        '    println!("cargo:rerun-if-env-changed=GALLEY_WORD");\n'
        '    let word = std::env::var("GALLEY_WORD").unwrap_or_default();\n'
        '    println!("cargo:rustc-env=GALLEY_WORD={word}");\n'
        "}\n"
    )})  # fmt: skip
    lib = workspace / "patched" / "cfg-if" / "src" / "lib.rs"
    lib.write_text(
        lib.read_text().replace('"patched";', 'concat!("patched", env!("GALLEY_WORD"));')
    )
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache, binary = tmp_path / "cache", workspace / "dist" / "amd64" / "bin" / "app"

    def build(word: str) -> dict[str, Any]:
        built = galley("build", "--json", cwd=workspace, cache=cache, env={"GALLEY_WORD": word})
        assert "restored" not in built.stderr
        assert (
            subprocess.run([binary], capture_output=True, text=True).stdout
            == f"patched{word} Off\n"
        )
        return dict(json.loads(built.stdout)["results"][0])

    build("one")
    assert set(build("two")["compiled"]) == {"cfg-if", "log", "app"}
    main = workspace / "app" / "src" / "main.rs"
    main.write_text(main.read_text() + "// edited\n")
    assert build("two")["compiled"] == ["app"]
    galley("verify", cwd=workspace, cache=cache)


DIST_DAMAGE = {
    'dummies: "x"': "manifest.json: dummies is not an object of names to sha256 digests",
    "artifacts: 5": "manifest.json: artifacts is not an object of names to sha256 digests",
    "artifacts: []": "manifest.json: lists no artifacts",
    "a name with ..": "manifest.json: artifact '../../../app' is not rootfs.tar, bin/<file> or",
    "an absolute name": "is not rootfs.tar, bin/<file> or lib/<file> (not checked)",
    "an unlisted file": "amd64: bin/notelf is not listed in manifest.json",
    "a newline in a name": "amd64: bin/evil\\nname\\xff is not listed in manifest.json",
    "a symlink out": "amd64: bin/app is a symlink leading out of",
    "a rootfs.tar that is not a tar": "rootfs.tar: not a readable tar archive (truncated header)",
}


def _damage_dist(arch_dir: Path, damage: str, outside: Path) -> None:
    """Damage `dist/<arch>` one way; `outside`: a copy of its bin/app elsewhere (a valid ELF)."""
    path = arch_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    if damage == 'dummies: "x"':
        manifest["dummies"] = "x"
    elif damage == "artifacts: 5":
        manifest["artifacts"] = 5
    elif damage == "artifacts: []":
        manifest["artifacts"] = []
    elif damage == "a name with ..":
        manifest["artifacts"]["../../../app"] = digest  # dist/amd64/../../../app is `outside`
    elif damage == "an absolute name":
        manifest["artifacts"][str(outside)] = digest
    elif damage == "an unlisted file":
        (arch_dir / "bin" / "notelf").write_text("#!/bin/sh\n")
    elif damage == "a newline in a name":
        Path(os.fsdecode(os.fsencode(arch_dir / "bin") + b"/evil\nname\xff")).write_text("")
    elif damage == "a symlink out":
        (arch_dir / "bin" / "app").unlink()
        (arch_dir / "bin" / "app").symlink_to(outside)
    else:
        (arch_dir / "rootfs.tar").write_text("not a tar\n")
        manifest["artifacts"]["rootfs.tar"] = hashlib.sha256(b"not a tar\n").hexdigest()
    path.write_text(json.dumps(manifest))


def test_a_damaged_dist_fails_verify_in_one_line(toy: Path, tmp_path: Path) -> None:
    """Each damage of one built dist is exactly one FAIL line, exit 9, and nothing outside the
    dist dir is read."""
    cache = tmp_path / "cache"
    galley("build", cwd=toy, cache=cache)
    galley("verify", cwd=toy, cache=cache)
    arch_dir = toy / "dist" / "amd64"
    pristine = shutil.copytree(arch_dir, tmp_path / "pristine")
    outside = Path(shutil.copy(arch_dir / "bin" / "app", tmp_path / "app"))
    for damage, expected in DIST_DAMAGE.items():
        shutil.rmtree(arch_dir)
        shutil.copytree(pristine, arch_dir)
        _damage_dist(arch_dir, damage, outside)
        failed = galley("verify", cwd=toy, cache=cache, check=False)
        fails = _fails(failed.stderr)
        assert failed.returncode == 9 and len(fails) == 1 and expected in fails[0], (damage, fails)


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
