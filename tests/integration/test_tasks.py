"""The task collection with real cargo: cook/build/prune/verify, concurrency, tamper, errors."""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import tomllib
from pathlib import Path

import pytest

from galley.chef import Recipe, prepare
from helpers import (
    EPOCH_CRATE,
    EXAMPLE,
    TOY,
    TWO_BINARIES,
    galley,
    outside_crates_repo,
    patched_workspace,
    plugin_workspace,
    proto_reading_crate,
    results,
    rootfs_mtimes,
    set_patched_greeting,
    set_plugin_answer,
    vendored_workspace,
    write_tree,
)


def test_cook_miss_then_hit_and_build(toy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = results(galley("cook", "--json", cwd=toy, cache=cache).stdout)
    assert [r["cache"] for r in first] == ["miss"]
    assert set(first[0]) >= {"arch", "target", "key", "cache", "seconds", "size"}
    second = results(galley("cook", "--json", cwd=toy, cache=cache).stdout)
    assert second[0]["cache"] == "hit" and second[0]["key"] == first[0]["key"]
    built = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]
    assert built["cache"] == "hit"
    assert set(built["compiled"]) == {"app", "lib1"}  # only workspace crates after the cook
    binary = toy / "dist" / "amd64" / "bin" / "app"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "hello 41\n"
    manifest = json.loads((toy / "dist" / "amd64" / "manifest.json").read_text())
    assert manifest["key"] == first[0]["key"] and "bin/app" in manifest["artifacts"]
    galley("verify", cwd=toy, cache=cache)

    main = toy / "app" / "src" / "main.rs"
    main.write_text(main.read_text().replace('"hello"', '"edited"'))
    edited = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]
    assert edited["cache"] == "hit" and edited["compiled"] == ["app"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "edited 41\n"


def test_a_cdylib_ships_beside_the_binaries(tmp_path: Path, cargo: str) -> None:
    """`crate-type = ["cdylib"]`: `dist/<arch>/lib/libplug.so` and `usr/lib/libplug.so` in
    rootfs.tar (mode 0644), the real library (loaded and called here), not the cook's dummy;
    an edit reaches it. A workspace that makes nothing to ship is one line and leaves dist
    alone."""
    workspace = plugin_workspace(tmp_path / "plugin", cargo, 42)
    cache, arch_dir = tmp_path / "cache", workspace / "dist" / "amd64"
    galley("build", cwd=workspace, cache=cache)
    manifest = json.loads((arch_dir / "manifest.json").read_text())
    assert sorted(manifest["artifacts"]) == ["bin/tool", "lib/libplug.so", "rootfs.tar"]
    assert ctypes.CDLL(str(arch_dir / "lib" / "libplug.so")).plug_answer() == 42
    with tarfile.open(arch_dir / "rootfs.tar") as archive:
        modes = {m.name: m.mode for m in archive.getmembers() if m.isfile()}
    assert modes == {"usr/bin/tool": 0o755, "usr/lib/libplug.so": 0o644}
    galley("verify", cwd=workspace, cache=cache)
    set_plugin_answer(workspace, 43)
    edited = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert edited["compiled"] == ["plug"]
    copy = tmp_path / "libplug-43.so"  # a new path: dlopen would hand back the loaded one
    shutil.copyfile(arch_dir / "lib" / "libplug.so", copy)
    assert ctypes.CDLL(str(copy)).plug_answer() == 43

    (workspace / "Cargo.toml").write_text('[workspace]\nmembers = ["plug"]\nresolver = "2"\n')
    (workspace / "plug" / "Cargo.toml").write_text(
        '[package]\nname = "plug"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nlibc = "0.2"\n'
    )  # an rlib only
    failed = galley("build", cwd=workspace, cache=cache, check=False)
    errors = [line for line in failed.stderr.splitlines() if line.startswith("galley: error:")]
    assert failed.returncode == 4 and len(errors) == 1 and "nothing to ship" in errors[0]
    assert failed.stderr.strip().splitlines()[-1] == errors[0]
    assert json.loads((arch_dir / "manifest.json").read_text()) != manifest  # the 43 build's
    assert (arch_dir / "lib" / "libplug.so").read_bytes() == copy.read_bytes()


def test_one_binary_of_a_workspace_is_cooked_built_and_shipped(tmp_path: Path, cargo: str) -> None:
    """`--bin app` (or `bin = "app"` in galley.toml): the cook compiles app's dependencies only
    (not tool's `log`), the build compiles and ships app only, and the key differs from the
    whole workspace's. verify needs the same selection (one line saying so without it); an
    unknown name is one line."""
    workspace = write_tree(tmp_path / "two", TWO_BINARIES)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache, arch_dir = tmp_path / "cache", workspace / "dist" / "amd64"
    built = galley("build", "--bin", "app", "--json", cwd=workspace, cache=cache)
    result = results(built.stdout)[0]
    assert "Compiling libc" in built.stderr and "Compiling log" not in built.stderr
    assert result["compiled"] == ["app"] and result["artifacts"] == ["bin/app", "rootfs.tar"]
    assert subprocess.run([arch_dir / "bin" / "app"], capture_output=True, text=True).stdout == (
        "app true\n"
    )
    galley("verify", "--bin", "app", cwd=workspace, cache=cache)
    failed = galley("verify", cwd=workspace, cache=cache, check=False)
    assert failed.returncode == 9 and "built with bins = ['app'], verified with []" in failed.stderr
    (workspace / "galley.toml").write_text('bin = "tool"\n')
    again = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert again["cache"] == "miss" and again["key"] != result["key"]
    assert again["artifacts"] == ["bin/tool", "rootfs.tar"]
    galley("verify", cwd=workspace, cache=cache)
    unknown = galley("build", "--bin", "nope", cwd=workspace, cache=cache, check=False)
    assert unknown.returncode == 4
    assert unknown.stderr.strip().splitlines() == [
        "galley: error: --bin nope: no such package or binary in the workspace"
    ]


def test_build_never_replaces_a_directory_it_did_not_write(toy: Path, tmp_path: Path) -> None:
    """A mistaken --dist: `<dist>/amd64` holding the user's files is refused before any work
    and left as it was; an empty one is used; no staging directory is left beside it."""
    cache, home = tmp_path / "cache", tmp_path / "home"
    precious = home / "amd64" / "notes.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("mine\n")
    failed = galley("build", "--dist", str(home), cwd=toy, cache=cache, check=False)
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 2 and len(lines) == 1 and "is not galley's output" in lines[0]
    assert precious.read_text() == "mine\n" and not (cache / "entries").exists()
    precious.unlink()
    galley("build", "--dist", str(home), cwd=toy, cache=cache)
    main = toy / "app" / "src" / "main.rs"
    main.write_text(main.read_text().replace('"hello"', '"again"'))
    galley("build", "--dist", str(home), cwd=toy, cache=cache)  # replaces galley's own dir
    assert sorted(p.name for p in home.iterdir()) == ["amd64"]
    binary = home / "amd64" / "bin" / "app"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "again 41\n"


def test_source_dirs_named_like_build_dirs_are_built(toy: Path, tmp_path: Path) -> None:
    """Modules in `src/target/` and `src/dist/` reach the build; a cargo target dir below the
    root (it holds CACHEDIR.TAG) and the root's `dist/` do not."""
    main = toy / "app" / "src" / "main.rs"
    main.write_text(
        'mod dist;\nmod target;\nfn main() { println!("{} {}", target::A, dist::B); }\n'
    )
    write_tree(toy / "app" / "src", {
        "target/mod.rs": 'pub const A: &str = "from src/target";\n',
        "dist/mod.rs": 'pub const B: &str = "from src/dist";\n',
    })  # fmt: skip
    stray = write_tree(
        toy / "lib1" / "target",
        {"CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n", "junk.bin": "x"},
    )
    cache = tmp_path / "cache"
    galley("build", cwd=toy, cache=cache)
    binary = toy / "dist" / "amd64" / "bin" / "app"
    assert (
        subprocess.run([binary], capture_output=True, text=True).stdout
        == "from src/target from src/dist\n"
    )
    (toy / "app" / "src" / "dist" / "mod.rs").write_text('pub const B: &str = "edited";\n')
    galley("build", cwd=toy, cache=cache)  # now with the root's dist/ from the first build
    assert subprocess.run([binary], capture_output=True, text=True).stdout == (
        "from src/target edited\n"
    )
    mirrored = cache / "work" / "amd64" / "src"
    assert (mirrored / "app" / "src" / "target" / "mod.rs").is_file()
    assert not (mirrored / "lib1" / "target").exists() and not (mirrored / "dist").exists()
    assert stray.is_dir()


FLAGGED = {
    "Cargo.toml": '[package]\nname = "flagged"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/main.rs": 'fn main() { println!("{}", if cfg!(galley_flag) { "on" } else { "off" }); }\n',
}


@pytest.mark.parametrize("variable", [
    "RUSTFLAGS", "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS",
])  # fmt: skip
def test_rustflags_from_the_environment_reach_the_binary(
    tmp_path: Path, cargo: str, variable: str
) -> None:
    """Each way cargo takes rustflags from the environment changes the key and the binary
    (galley's own CARGO_ENCODED_RUSTFLAGS would otherwise hide the last two from cargo)."""
    workspace = write_tree(tmp_path / "flagged", FLAGGED)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache, binary = tmp_path / "cache", workspace / "dist" / "amd64" / "bin" / "flagged"
    plain = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "off\n"
    env = {variable: "--cfg galley_flag"}
    flagged = results(galley("build", "--json", cwd=workspace, cache=cache, env=env).stdout)[0]
    assert flagged["key"] != plain["key"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "on\n"


ASSERTING = {
    "Cargo.toml": '[package]\nname = "asserting"\nversion = "0.1.0"\nedition = "2021"\n',
    "src/main.rs": 'fn main() { println!("{}", cfg!(debug_assertions)); }\n',
}


def test_a_cache_dir_inside_the_workspace_is_not_mirrored(tmp_path: Path, cargo: str) -> None:
    """`--cache-dir cache` in the workspace: galley tags it (CACHEDIR.TAG) and the mirror leaves
    it out (the mirror used to copy the cache into itself until "File name too long")."""
    workspace = write_tree(tmp_path / "asserting", ASSERTING)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = workspace / "cache"
    for expected in ("miss", "hit"):
        built = results(galley("build", "--json", "--cache-dir", "cache", cwd=workspace,
                               cache=cache).stdout)[0]  # fmt: skip
        assert built["cache"] == expected
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172")
    assert not list(cache.glob("work/*/src/cache"))


def test_a_vendored_workspace_cooks(tmp_path: Path, cargo: str) -> None:
    """The vendor dir the workspace's cargo config names is in the cook dir too (the cook used
    to fail with "failed to get `log`": the skeleton had the config but not the dir)."""
    workspace = vendored_workspace(tmp_path / "vendored", cargo, "vendored")
    galley("build", cwd=workspace, cache=tmp_path / "cache")
    binary = workspace / "dist" / "amd64" / "bin" / "vendored"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "vendored OFF\n"


@pytest.mark.parametrize("root_table", ["", "[workspace]\n"], ids=["package", "root-package"])
def test_a_path_dependency_of_the_root_package_is_a_local_crate(
    tmp_path: Path, cargo: str, root_table: str
) -> None:
    """A root package (alone, or the root of a workspace) with a path dependency in a subdir:
    the dependency's manifest is in the recipe, as cargo-chef's walk finds it, its edit
    compiles it and the app only. The cook used to fail with "failed to get `util`": galley
    followed path dependencies of members, never of the root package."""
    workspace = write_tree(tmp_path / "single", {
        "Cargo.toml": root_table + '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
                      '[dependencies]\nutil = { path = "util" }\n',
        "src/main.rs": 'fn main() { println!("{}", util::said()); }\n',
        "util/Cargo.toml": '[package]\nname = "util"\nversion = "0.2.0"\nedition = "2021"\n'
                           '[dependencies]\nlibc = "0.2"\n',
        "util/src/lib.rs": 'pub fn said() -> &\'static str { "util one" }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    recipe = prepare(workspace)
    assert [m.relative_path for m in recipe.manifests] == ["Cargo.toml", "util/Cargo.toml"]
    cache, binary = tmp_path / "cache", workspace / "dist" / "amd64" / "bin" / "app"
    galley("build", cwd=workspace, cache=cache)
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "util one\n"
    (workspace / "util" / "src" / "lib.rs").write_text(
        'pub fn said() -> &\'static str { "util two" }\n'
    )
    again = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert again["cache"] == "hit" and sorted(again["compiled"]) == ["app", "util"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "util two\n"


def test_path_crates_outside_the_workspace_are_built(tmp_path: Path, cargo: str) -> None:
    """`../../libs/util` (which needs `../../src/proto`) from the workspace `src/agent`
    (cargo-chef #4): the recipe carries their manifests as `../` paths, the work dir holds the
    workspace and the two crates at their places and nothing else, an edit of the innermost
    one recompiles the three local crates that see it, not the dependencies. Before: silently
    left out of the recipe, then "failed to get `util`" in the cook."""
    workspace = outside_crates_repo(tmp_path / "repo", cargo)
    recipe = prepare(workspace)
    assert [m.relative_path for m in recipe.manifests] == [
        "Cargo.toml", "../../libs/util/Cargo.toml", "../proto/Cargo.toml", "rustjail/Cargo.toml"
    ]  # fmt: skip
    cache, binary = tmp_path / "cache", workspace / "dist" / "amd64" / "bin" / "app"
    galley("build", cwd=workspace, cache=cache)
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "util one 3\n"
    tree = cache / "work" / "amd64" / "src"
    assert sorted(p.relative_to(tree).as_posix() for p in tree.glob("*/*")) == [
        "libs/util", "src/agent", "src/proto"
    ]  # fmt: skip
    (tmp_path / "repo" / "src" / "proto" / "src" / "lib.rs").write_text(
        'pub const WORD: &str = "two";\n'
    )
    again = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert again["cache"] == "hit" and sorted(again["compiled"]) == ["app", "proto", "util"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "util two 3\n"
    galley("verify", cwd=workspace, cache=cache)
    galley("prepare", "--bin", "app", "--output", str(tmp_path / "app.json"), cwd=workspace,
           cache=cache)  # fmt: skip
    only_app = Recipe.from_json((tmp_path / "app.json").read_text())
    assert len(only_app.manifests) == 4  # proto too, reached from util
    root = next(m for m in only_app.manifests if m.relative_path == "Cargo.toml")
    members = tomllib.loads(root.contents)["workspace"]["members"]
    assert members == ["rustjail"]  # the outside crates are no members


def test_extra_sources_outside_the_workspace_reach_the_build(tmp_path: Path, cargo: str) -> None:
    """A build script reading `../proto/msg.txt`: without `extra_sources` the build fails in
    one line (the work dir has no such file); with `extra_sources = ["../proto"]` it builds,
    and an edit of the file reaches the binary (a cache hit: not a key input)."""
    workspace = proto_reading_crate(tmp_path / "repo", cargo, "proto one")
    cache, binary = tmp_path / "cache", workspace / "dist" / "amd64" / "bin" / "app"
    failed = galley("build", cwd=workspace, cache=cache, check=False)
    assert failed.returncode == 6 and "failed to run custom build command" in failed.stderr
    (workspace / "galley.toml").write_text('extra_sources = ["../proto"]\n')
    galley("build", cwd=workspace, cache=cache)
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "proto one\n"
    (tmp_path / "repo" / "proto" / "msg.txt").write_text("proto two\n")
    again = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert again["cache"] == "hit" and again["compiled"] == ["app"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "proto two\n"
    (workspace / "galley.toml").write_text('extra_sources = ["../nothing"]\n')
    missing = galley("build", cwd=workspace, cache=cache, check=False)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"galley: error: extra_sources: {tmp_path / 'repo' / 'nothing'} is not a directory"
    ]


def test_feature_switches_on_the_command_line(tmp_path: Path, cargo: str) -> None:
    """`--no-default-features` and `--all-features` reach cook and build as cargo's flags (they
    were galley.toml keys only), each with a key of its own."""
    workspace = write_tree(tmp_path / "feat", {
        "Cargo.toml": '[package]\nname = "feat"\nversion = "0.1.0"\nedition = "2021"\n'
                      '[features]\ndefault = ["a"]\na = []\nb = []\n',
        "src/main.rs": 'fn main() { println!("a={} b={}", cfg!(feature = "a"), '
                       'cfg!(feature = "b")); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache, binary = tmp_path / "cache", workspace / "dist" / "amd64" / "bin" / "feat"
    keys = set()
    for flags, printed in (([], "a=true b=false"), (["--no-default-features"], "a=false b=false"),
                           (["--all-features"], "a=true b=true")):  # fmt: skip
        built = results(galley("build", "--json", *flags, cwd=workspace, cache=cache).stdout)[0]
        keys.add(built["key"])
        assert subprocess.run([binary], capture_output=True, text=True).stdout == printed + "\n"
    assert len(keys) == 3
    galley("verify", "--all-features", cwd=workspace, cache=cache)


def test_a_member_linked_in_from_elsewhere_is_built(tmp_path: Path, cargo: str) -> None:
    """A member directory that is a symlink (to outside the workspace) is followed, as cargo
    follows it, and a link back up is not walked forever (the mirror used to leave linked
    directories out, so the build failed to load the member's manifest)."""
    write_tree(tmp_path / "shared" / "util", {
        "Cargo.toml": '[package]\nname = "util"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": "pub fn n() -> u8 { 7 }\n",
    })  # fmt: skip
    workspace = write_tree(tmp_path / "linked", {
        "Cargo.toml": '[workspace]\nmembers = ["app", "crates/*"]\nresolver = "2"\n',
        "app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n'
                          '[dependencies]\nutil = { path = "../crates/util" }\n',
        "app/src/main.rs": "fn main() { println!(\"{}\", util::n()); }\n",
    })  # fmt: skip
    (workspace / "crates").mkdir()
    (workspace / "crates" / "util").symlink_to(tmp_path / "shared" / "util")
    (workspace / "app" / "up").symlink_to("..")  # a loop
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    galley("build", cwd=workspace, cache=tmp_path / "cache")
    binary = workspace / "dist" / "amd64" / "bin" / "app"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "7\n"
    galley("verify", "--reproducible", cwd=workspace, cache=tmp_path / "cache")


def test_a_dist_dir_inside_the_workspace_is_not_mirrored(tmp_path: Path, cargo: str) -> None:
    """The last build's outputs (`--dist out/bin`) are not copied into the work dir's sources."""
    workspace = write_tree(tmp_path / "asserting", ASSERTING)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    for _ in range(2):
        galley("build", "--dist", "out/bin", cwd=workspace, cache=tmp_path / "cache")
    assert (workspace / "out" / "bin" / "amd64" / "bin" / "asserting").is_file()
    assert not (tmp_path / "cache" / "work" / "amd64" / "src" / "out" / "bin").exists()


def test_source_date_epoch_from_the_environment(tmp_path: Path, cargo: str) -> None:
    """SOURCE_DATE_EPOCH set in the environment (no galley.toml) dates rootfs.tar's entries and
    reaches build scripts; a bad value is one line (the tar used to say 1970 whatever it was)."""
    workspace = write_tree(tmp_path / "epoch", EPOCH_CRATE)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    galley("build", cwd=workspace, cache=tmp_path / "cache", env=env)
    arch_dir = workspace / "dist" / "amd64"
    printed = subprocess.run([arch_dir / "bin" / "epoch"], capture_output=True, text=True).stdout
    assert printed == "1700000000\n"
    assert rootfs_mtimes(arch_dir / "rootfs.tar") == {1700000000}
    for wrong in ("yesterday", "²"):  # "²".isdigit() is true
        bad = {"SOURCE_DATE_EPOCH": wrong}
        failed = galley("build", cwd=workspace, cache=tmp_path / "cache", env=bad, check=False)
        assert failed.returncode == 2 and failed.stderr.strip().splitlines() == [
            f"galley: error: SOURCE_DATE_EPOCH must be a number of seconds, not {wrong!r}"
        ]


def test_profile_variables_are_key_inputs(tmp_path: Path, cargo: str) -> None:
    """CARGO_PROFILE_<NAME>_<KEY> changes the bits, so it changes the key (the entry cooked
    without it used to be hit, whatever the variable said)."""
    workspace = write_tree(tmp_path / "asserting", ASSERTING)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    binary = workspace / "dist" / "amd64" / "bin" / "asserting"
    keys = []
    for value, printed in (("false", "false\n"), ("true", "true\n")):
        env = {"CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS": value}
        built = results(galley("build", "--json", cwd=workspace, cache=tmp_path / "cache",
                               env=env).stdout)[0]  # fmt: skip
        assert built["cache"] == "miss"
        keys.append(built["key"])
        assert subprocess.run([binary], capture_output=True, text=True).stdout == printed
    assert keys[0] != keys[1]


CFG_TABLES = {
    "Cargo.toml": FLAGGED["Cargo.toml"],
    "src/main.rs": (
        'fn main() { println!("{:?}", [cfg!(galley_triple), cfg!(galley_arch), '
        "cfg!(galley_second), cfg!(galley_windows), cfg!(galley_env), cfg!(galley_build)]); }\n"
    ),
    ".cargo/config.toml": """[target.x86_64-unknown-linux-gnu]
rustflags = ["--cfg", "galley_triple"]
[target.'cfg(target_arch = "x86_64")']
rustflags = ["--cfg", "galley_arch"]
[target.'cfg(all(galley_arch, unix))']
rustflags = ["--cfg", "galley_second"]
[target.'cfg(windows)']
rustflags = ["--cfg", "galley_windows"]
[build]
rustflags = ["--cfg", "galley_build"]
""",
}


@pytest.mark.parametrize(("env", "expected"), [
    # galley_second needs a second round (cargo keeps one); windows never matches here
    ({"CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS": "--cfg galley_env"},
     "[true, true, false, false, true, false]"),
    ({"RUSTFLAGS": ""}, "[false, false, false, false, false, false]"),
])  # fmt: skip
def test_rustflags_of_cfg_tables_reach_the_binary_as_with_cargo(
    tmp_path: Path, cargo: str, env: dict[str, str], expected: str
) -> None:
    """`[target.'cfg(..)'] rustflags` of the tables that match are joined with the triple's
    and its variable's; a set but empty RUSTFLAGS means none at all. galley's binary prints
    what cargo's own build of the workspace prints (galley used to refuse cfg tables, and to
    drop the config's list when the variable was set or fall back to it when RUSTFLAGS was
    empty)."""
    workspace = write_tree(tmp_path / "flagged", CFG_TABLES)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    own = subprocess.run(
        [cargo, "run", "-q", "--target", "x86_64-unknown-linux-gnu", "--target-dir",
         str(tmp_path / "plain")],
        cwd=workspace, env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert own == expected + "\n"
    galley("build", cwd=workspace, cache=tmp_path / "cache", env=env)
    binary = workspace / "dist" / "amd64" / "bin" / "flagged"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == own


def test_a_malformed_cfg_table_is_one_line(tmp_path: Path, cargo: str) -> None:
    config = {".cargo/config.toml": "[target.'cfg(all(unix)']\nrustflags = [\"-g\"]\n"}
    workspace = write_tree(tmp_path / "flagged", {**FLAGGED, **config})
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    failed = galley("build", cwd=workspace, cache=tmp_path / "cache", check=False)
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 2 and len(lines) == 1, failed.stderr
    assert "[target.'cfg(all(unix)'] in .cargo/config.toml: bad cfg" in lines[0]


def test_run_from_inside_a_member_builds_the_workspace(toy: Path, tmp_path: Path) -> None:
    """With no galley.toml, the workspace is the one cargo would use from the cwd (here the
    member's src/ dir), and dist/ goes to its root; before, galley took the cwd itself."""
    built = results(galley("build", "--json", cwd=toy / "app" / "src", cache=tmp_path / "c").stdout)
    assert built[0]["dist"] == str(toy / "dist" / "amd64")
    binary = toy / "dist" / "amd64" / "bin" / "app"
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "hello 41\n"


def test_a_home_relative_cache_dir_is_expanded(toy: Path, tmp_path: Path) -> None:
    """`cache_dir = "~/…"` in galley.toml means the home directory, as a user writes it (it
    used to create a directory named `~` in the workspace)."""
    (toy / "galley.toml").write_text('cache_dir = "~/galley-cache"\n')
    real_home = Path.home()  # rustup and cargo keep theirs (and the source replacement)
    env = {
        "HOME": str(tmp_path / "home"),
        "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(real_home / ".rustup")),
        "CARGO_HOME": os.environ.get("CARGO_HOME", str(real_home / ".cargo")),
    }
    built = results(galley("cook", "--json", cwd=toy, cache=tmp_path / "unused", env={
        **env, "GALLEY_CACHE_DIR": ""}).stdout)  # fmt: skip
    assert built[0]["cache"] == "miss"
    assert (tmp_path / "home" / "galley-cache" / "entries").is_dir()
    assert not (toy / "~").exists()


def test_concurrent_cooks_of_one_key_compile_once(toy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    outputs: list[subprocess.CompletedProcess[str]] = []

    def run() -> None:
        outputs.append(galley("cook", "--json", cwd=toy, cache=cache))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    caches = sorted(results(o.stdout)[0]["cache"] for o in outputs)
    assert caches == ["hit", "hit", "miss"]
    assert len(list((cache / "entries").iterdir())) == 1
    assert sum(o.stderr.count("Compiling anyhow") for o in outputs) == 1


def test_concurrent_cooks_of_different_keys_do_not_interfere(toy: Path, tmp_path: Path) -> None:
    """Two keys of one arch at once (release and dev): both cook, each into its own entry.
    They share the arch's work dir, so its lock serialises them; neither sees the other's files."""
    cache = tmp_path / "cache"
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(profile: str) -> None:
        outputs[profile] = galley("cook", "--profile", profile, "--json", cwd=toy, cache=cache)

    threads = [threading.Thread(target=run, args=(p,)) for p in ("release", "dev")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cooked = {p: results(o.stdout)[0] for p, o in outputs.items()}
    assert [cooked[p]["cache"] for p in ("release", "dev")] == ["miss", "miss"]
    assert cooked["release"]["key"] != cooked["dev"]["key"]
    for profile, result in cooked.items():
        target = cache / "entries" / result["key"] / "target" / "x86_64-unknown-linux-gnu"
        assert {p.name for p in target.iterdir() if p.is_dir()} == {
            "release" if profile == "release" else "debug"
        }
    for profile in ("release", "dev"):
        built = results(
            galley("build", "--profile", profile, "--json", cwd=toy, cache=cache).stdout
        )
        assert built[0]["cache"] == "hit" and set(built[0]["compiled"]) == {"app", "lib1"}
        galley("verify", cwd=toy, cache=cache)  # every entry matches its manifest; the dist too


def test_tampered_entry_fails_verify_and_is_recooked(toy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    key = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]["key"]
    rlib = next((cache / "entries" / key / "target").rglob("libanyhow-*.rlib"))
    data = bytearray(rlib.read_bytes())
    data[len(data) // 2] ^= 0xFF
    rlib.write_bytes(bytes(data))
    failed = galley("verify", cwd=toy, cache=cache, check=False)
    assert failed.returncode == 9
    assert "changed file target/" in failed.stderr and "Traceback" not in failed.stderr
    shutil.rmtree(cache / "work")  # force a restore from the store
    rebuilt = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]
    assert rebuilt["cache"] == "miss" and rebuilt["quarantined"]
    assert len(list((cache / "quarantine").iterdir())) == 1
    galley("verify", cwd=toy, cache=cache)


def test_verify_holds_rootfs_tar_to_the_payload(tmp_path: Path, cargo: str) -> None:
    """rootfs.tar must hold each shipped file, byte for byte, and nothing else. A binary named
    `vendor-tool` is payload (the check used to flag any entry whose name held "vendor" or
    "registry"); an extra entry, a swapped binary and a missing one are each named, even when
    the manifest's sha256 of rootfs.tar was forged to match."""
    workspace = write_tree(tmp_path / "tools", {
        "Cargo.toml": '[package]\nname = "vendor-tool"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/main.rs": 'fn main() { println!("tool"); }\n',
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache = tmp_path / "cache"
    galley("build", cwd=workspace, cache=cache)
    galley("verify", cwd=workspace, cache=cache)
    arch_dir = next((workspace / "dist").iterdir())
    rootfs, manifest_path = arch_dir / "rootfs.tar", arch_dir / "manifest.json"

    def forge(entries: dict[str, bytes]) -> None:
        with tarfile.open(rootfs, "w") as archive:
            for name, data in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        manifest = json.loads(manifest_path.read_text())
        manifest["artifacts"]["rootfs.tar"] = hashlib.sha256(rootfs.read_bytes()).hexdigest()
        manifest_path.write_text(json.dumps(manifest))

    binary = (arch_dir / "bin" / "vendor-tool").read_bytes()
    forge({"usr/bin/vendor-tool": binary, "usr/share/doc/readme": b"x"})
    failed = galley("verify", cwd=workspace, cache=cache, check=False)
    assert failed.returncode == 9 and "rootfs.tar: unexpected entry usr/share/doc/readme" in (
        failed.stderr
    )
    forge({"usr/bin/vendor-tool": binary[:-1] + bytes([binary[-1] ^ 0xFF])})
    failed = galley("verify", cwd=workspace, cache=cache, check=False)
    assert "rootfs.tar: usr/bin/vendor-tool is not bin/vendor-tool" in failed.stderr
    forge({})
    failed = galley("verify", cwd=workspace, cache=cache, check=False)
    assert "rootfs.tar: usr/bin/vendor-tool is missing" in failed.stderr


def test_prune_dry_run_then_real(toy: Path, tmp_path: Path) -> None:
    """Entries go with their lock files, and lock files whose subject is gone (a killed cook's,
    an older galley's) go too; a dry run removes nothing."""
    cache = tmp_path / "cache"
    galley("cook", cwd=toy, cache=cache)
    galley("cook", "--profile", "dev", cwd=toy, cache=cache)
    assert len(list((cache / "entries").iterdir())) == 2
    orphans = [cache / "locks" / f"{'0' * 64}.lock", cache / "docker" / "locks" / "cook-0.lock"]
    orphans.append(cache / "vendor" / "0123456789abcdef.lock")
    for orphan in orphans:
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.touch()
    dry = galley("cache-prune", "--keep", "1", "--dry-run", cwd=toy, cache=cache)
    assert "would remove" in dry.stderr and dry.stderr.count("keep") >= 1
    assert len(list((cache / "entries").iterdir())) == 2
    assert all(orphan.exists() for orphan in orphans)  # the dry run left them
    real = galley("cache-prune", "--keep", "1", cwd=toy, cache=cache)
    assert "removed" in real.stderr
    assert len(list((cache / "entries").iterdir())) == 1
    galley("cache-prune", "--max-size", "1K", cwd=toy, cache=cache)
    assert list((cache / "entries").iterdir()) == []
    locks = [p for p in cache.rglob("*.lock") if p.name != "Cargo.lock"]
    assert locks == [cache / "work" / "amd64.lock"]  # the arch's work dir


def test_prune_never_removes_an_entry_in_use(toy: Path, tmp_path: Path) -> None:
    from galley.store import Store

    cache = tmp_path / "cache"
    key = results(galley("cook", "--json", cwd=toy, cache=cache).stdout)[0]["key"]
    with Store(cache).lock(key, shared=True):
        busy = galley("cache-prune", "--older-than", "0s", cwd=toy, cache=cache)
    assert "in use, kept" in busy.stderr
    assert (cache / "entries" / key).is_dir() and (cache / "locks" / f"{key}.lock").exists()


def test_explain_names_the_changed_input(toy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    galley("cook", cwd=toy, cache=cache)
    (toy / "lib1" / "Cargo.toml").write_text(TOY["lib1/Cargo.toml"] + 'anyhow = "1"\n')
    subprocess.run(
        ["cargo", "generate-lockfile", "--offline"], cwd=toy, check=True, capture_output=True
    )
    explained = galley("cook", "--explain", cwd=toy, cache=cache)
    assert "recipe:" in explained.stderr
    assert "rustc:" not in explained.stderr


FAKE_CARGO_CHEF = """#!/bin/sh
# A stand-in for the cargo-chef binary (it cannot be installed offline): records its argv, then
# forwards to galley-chef, which takes the same flags.
printf '%s\\n' "$*" >> "$CHEF_LOG"
exec {python} -m galley.chef.cli "$@"
"""


def test_chef_selection_composes_the_same_command(toy: Path, tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    chef = fake_bin / "cargo-chef"
    chef.write_text(FAKE_CARGO_CHEF.format(python=sys.executable))
    chef.chmod(0o755)
    log = tmp_path / "chef.log"
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", "CHEF_LOG": str(log)}
    cache = tmp_path / "cache"
    builtin = results(
        galley("cook", "--json", "--chef", "builtin", cwd=toy, cache=cache, env=env).stdout
    )[0]
    assert Path(builtin["command"][0]).name == "galley-chef" or builtin["command"][1:3] == [
        "-m",
        "galley.chef.cli",
    ]
    via_cargo = results(
        galley("cook", "--json", "--chef", "auto", cwd=toy, cache=cache, env=env).stdout
    )[0]
    assert via_cargo["chef"] == "cargo-chef"
    assert via_cargo["command"][:3] == ["cargo", "chef", "cook"]
    flags = builtin["command"][builtin["command"].index("cook") :]
    assert via_cargo["command"][2:] == flags  # identical flags either way
    recorded = log.read_text().splitlines()
    assert recorded[0] == "chef --version" and recorded[-1].startswith("chef cook --recipe-path")
    assert via_cargo["key"] != builtin["key"]  # the chef is part of the key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cook", "--arch", "sparc"], "unknown arch 'sparc'"),
        (["build", "--arch"], "galley: error: build --arch needs a value"),  # was: the default
        (["cook", "--arch", "--json"], "galley: error: cook --arch needs a value"),
        (["build", "--features"], "galley: error: build --features needs a value"),
        (["cache-prune", "--max-size"], "galley: error: cache-prune --max-size needs a value"),
        (
            ["build", "--max-size", "1G"],
            "galley: error: no such flag or task: '--max-size' (see `galley build --help`)",
        ),
        (["bild"], "galley: error: no such flag or task: 'bild' (see `galley --help`)"),
        (["build", "--arch="], "unknown arch ''"),
        (["build", "--workspace", "/nonexistent"], "no Cargo.toml"),
        (
            ["cook", "--backend", "local", "--arch", "riscv64"],
            "has no std for riscv64gc-unknown-linux-gnu",
        ),
        (["cache-prune", "--max-size", "lots"], "bad size 'lots'"),
        (["cache-prune", "--older-than", "1 fortnight"], "bad duration"),
        (["cache-prune", "--keep", "-1"], "bad count '-1'"),
        (["cache-prune", "--keep", "abc"], "bad count 'abc'"),
        (["cache-prune", "--keep", "²"], "bad count '²'"),
        (["build", "--profile", ""], "--profile: profile '' is not a cargo profile name"),
        (["cook", "--profile", "../../x"], "profile '../../x' is not a cargo profile name"),
        (["cache-prune"], "needs --max-size, --older-than or --keep"),
        (["cook", "--backend", "podman"], "backend must be one of"),
        (["verify", "--config", "/nonexistent/galley.toml"], "no such config file"),
        (
            ["cook", "--backend", "local", "--mode", "emulate"],
            "--mode is for the docker backend, not with --backend local",
        ),
        (["build", "--cache-dir", "/proc/galley"], "No such file or directory: /proc/galley"),
        (["build", "--dist", "/proc/galley"], "No such file or directory: /proc/galley"),
        (["cook", "--cache-dir", "/etc/hostname"], "Not a directory: /etc/hostname/"),
        (["build", "--cache-dir", "."], "holds the workspace"),
        (["cook", "--cache-dir", ".."], "holds the workspace"),
        (
            ["build", "--backend", "local", "--registry", "127.0.0.1:5000"],
            "--registry is for the docker backend, not with --backend local",
        ),
        (["cook", "--backend", "docker", "--push"], "push needs a registry"),
        (["cook", "--backend", "docker", "--registry", "http://127.0.0.1:5000"], "no scheme"),
    ],
)
def test_errors_are_one_line(toy: Path, tmp_path: Path, args: list[str], message: str) -> None:
    failed = galley(*args, cwd=toy, cache=tmp_path / "cache", check=False)
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], failed.stderr
    assert not (tmp_path / "cache" / "entries").exists() or not list(
        (tmp_path / "cache" / "entries").iterdir()
    )


@pytest.mark.parametrize("patch", ["patched/cfg-if", "../patches/cfg-if"])
def test_a_path_patch_is_cooked_from_its_real_sources(
    tmp_path: Path, cargo: str, patch: str
) -> None:
    """`[patch.crates-io] cfg-if = { path = … }`, with log depending on cfg-if: the cook
    compiles the real patched crate (cargo-chef stubs it, #64, and log fails to compile), the
    build then compiles only `app`, and an edit of the patch is a new key, seeded by the last.
    A patch outside the workspace dir is placed like an outside path crate (it used to be
    refused: "no recipe can carry it")."""
    workspace = patched_workspace(tmp_path / "ws", "patched one", patch)
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    cache, binary = tmp_path / "cache", workspace / "dist" / "amd64" / "bin" / "app"
    first = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert first["cache"] == "miss" and first["compiled"] == ["app"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "patched one Off\n"
    set_patched_greeting(workspace, "patched two", patch)
    second = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert second["cache"] == "miss" and second["key"] != first["key"]
    assert second["seeded_from"] == first["key"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "patched two Off\n"
    galley("verify", cwd=workspace, cache=cache)
    failed = galley("build", "--chef", "cargo-chef", cwd=workspace, cache=cache, check=False)
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 2 and len(lines) == 1 and "need chef = builtin" in lines[0]


def test_an_absolute_path_patch_is_refused(toy: Path, tmp_path: Path) -> None:
    (toy / "Cargo.toml").write_text(
        TOY["Cargo.toml"] + f'[patch.crates-io]\nlog = {{ path = "{tmp_path}/log" }}\n'
    )
    failed = galley("build", cwd=toy, cache=tmp_path / "cache", check=False)
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 4 and len(lines) == 1 and "is absolute" in lines[0]


def test_workspace_errors_are_one_line(toy: Path, tmp_path: Path) -> None:
    (toy / "Cargo.lock").unlink()
    failed = galley("cook", cwd=toy, cache=tmp_path / "cache", check=False)
    assert failed.returncode == 4 and "no Cargo.lock" in failed.stderr
    (toy / "app" / "Cargo.toml").write_text("[package\n")
    failed = galley("cook", cwd=toy, cache=tmp_path / "cache", check=False)
    assert failed.returncode == 4 and "app/Cargo.toml: not valid TOML" in failed.stderr.strip()
    assert len(failed.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('arches = ["amd64"]\ncolour = "blue"\n', "unknown key 'colour'"),
        ('arches = "amd64"\n', "arches must be a list of strings"),
        ("profile = 3\n", "profile must be a string"),
        ('profile = ""\n', "profile '' is not a cargo profile name"),
        ('[arch.arm64]\nlibc = "uclibc"\n', "libc must be one of gnu, musl"),
        ('[docker]\nmode = "magic"\n', "docker.mode must be one of"),
        ('[docker]\nregistry = "https://registry.example"\n', "docker.registry must be HOST"),
        ("arches = []\n", "arches must name at least one arch"),
        ('glibc_floor = "banana"\n', "glibc_floor must look like"),
        ("source_date_epoch = -1\n", "source_date_epoch must be between"),
        (
            '[docker]\ntarget_packages = ["zlib1g-dev; rm -rf /"]\n',
            "target_packages must hold Debian package names",
        ),
        ('[docker]\npackages = ["zlib1g-dev:s390x"]\n', "packages must hold Debian package names"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_config_is_one_clear_error(toy: Path, tmp_path: Path, text: str, message: str) -> None:
    (toy / "galley.toml").write_text(text)
    failed = galley("cook", cwd=toy, cache=tmp_path / "cache", check=False)
    assert failed.returncode == 2 and message in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_example_cold_hit_and_edit(cargo: str, tmp_path: Path) -> None:
    """The example workspace: cold cook, hit, one-line edit rebuilds only workspace crates."""
    workspace = tmp_path / "agent"
    shutil.copytree(EXAMPLE, workspace, ignore=shutil.ignore_patterns("target"))
    cache = tmp_path / "cache"
    cold = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert cold["cache"] == "miss"
    binary = workspace / "dist" / "amd64" / "bin" / "kata-agent"
    assert "ready" in subprocess.run([binary], capture_output=True, text=True, check=True).stdout
    main = workspace / "crates" / "agent" / "src" / "main.rs"
    main.write_text(
        main.read_text().replace(
            'const GREETING: &str = "ready";', 'const GREETING: &str = "edited";'
        )
    )
    warm = results(galley("build", "--json", cwd=workspace, cache=cache).stdout)[0]
    assert warm["cache"] == "hit" and warm["compiled"] == ["agent"]
    assert "edited" in subprocess.run([binary], capture_output=True, text=True, check=True).stdout
    galley("verify", cwd=workspace, cache=cache)


def test_verify_reproducible(toy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    galley("build", cwd=toy, cache=cache)
    ok = galley("verify", "--reproducible", cwd=toy, cache=cache)
    assert "verify OK" in ok.stderr
    # a build script that embeds the time makes the build non-reproducible: verify names the file
    (toy / "app" / "build.rs").write_text(
        "fn main() {\n"
        "    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();\n"
        '    println!("cargo:rustc-env=BUILT_AT={}", t.as_nanos());\n'
        "}\n"
    )
    main = toy / "app" / "src" / "main.rs"
    main.write_text(
        main.read_text().replace("fn main() {", 'fn main() { println!("{}", env!("BUILT_AT"));')
    )
    galley("build", cwd=toy, cache=cache)
    failed = galley("verify", "--reproducible", cwd=toy, cache=cache, check=False)
    assert failed.returncode == 9
    assert "amd64: bin/app differs from a fresh rebuild" in failed.stderr
    assert "amd64: rootfs.tar differs from a fresh rebuild" in failed.stderr


def test_delta_cook_compiles_only_the_new_dependency(toy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = results(galley("cook", "--json", cwd=toy, cache=cache).stdout)[0]
    lib = toy / "lib1" / "Cargo.toml"
    lib.write_text(lib.read_text() + 'itoa = "1"\n')
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=toy, check=True)
    second = galley("cook", "--json", cwd=toy, cache=cache)
    result = results(second.stdout)[0]
    assert result["cache"] == "miss" and result["seeded_from"] == first["key"]
    compiling = {line.split()[1] for line in second.stderr.splitlines() if "Compiling " in line}
    assert "itoa" in compiling
    assert not compiling & {"anyhow", "log", "cfg-if"}  # reused from the seed
    built = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]
    assert built["key"] == result["key"] and set(built["compiled"]) == {"app", "lib1"}
    galley("verify", cwd=toy, cache=cache)
    # swapping it for another drops its artifacts from the next entry (entries do not grow)
    lib.write_text(lib.read_text().replace('itoa = "1"', 'memchr = "2"'))
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=toy, check=True)
    third = results(galley("cook", "--json", cwd=toy, cache=cache).stdout)[0]
    assert third["cache"] == "miss" and third["dropped_unused"] >= 1
    target = cache / "entries" / third["key"] / "target"
    assert not [p for p in target.rglob("*itoa*")]
    assert [p for p in target.rglob("libmemchr-*.rlib")]


def test_a_dependency_bump_keeps_the_workspace_crates(toy: Path, tmp_path: Path) -> None:
    """A build after a dependency is added to `app` recompiles `app` only: `lib1` and the last
    build's sources are kept across the new key's cook and restore; removing it again, too."""
    cache = tmp_path / "cache"
    binary = toy / "dist" / "amd64" / "bin" / "app"
    first = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]
    assert set(first["compiled"]) == {"app", "lib1"}
    manifest, main = toy / "app" / "Cargo.toml", toy / "app" / "src" / "main.rs"
    manifest.write_text(manifest.read_text() + 'itoa = "1"\n')
    main.write_text(main.read_text().replace('"hello"', '"itoa"'))
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=toy, check=True)
    bumped = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]
    assert bumped["key"] != first["key"] and bumped["seeded_from"] == first["key"]
    assert bumped["compiled"] == ["app"] and bumped["kept_workspace_crates"] > 0
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "itoa 41\n"
    galley("verify", cwd=toy, cache=cache)

    manifest.write_text(manifest.read_text().replace('itoa = "1"\n', ""))
    main.write_text(main.read_text().replace('"itoa"', '"back"'))
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=toy, check=True)
    back = results(galley("build", "--json", cwd=toy, cache=cache).stdout)[0]
    assert back["key"] == first["key"] and back["cache"] == "hit"
    assert back["compiled"] == ["app"]
    assert subprocess.run([binary], capture_output=True, text=True).stdout == "back 41\n"
