"""prepare: member discovery, targets, masking, carried files, --bin, and when a recipe changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from galley.chef import prepare
from galley.chef.recipe import Recipe, TargetKind
from galley.errors import RecipeError, WorkspaceError
from helpers import write_tree

Tree = Callable[[Mapping[str, str]], Path]

LOCK = """version = 4

[[package]]
name = "app"
version = "1.2.3"
dependencies = ["either 1.2.3", "either 1.8.1", "lib1"]

[[package]]
name = "either"
version = "1.2.3"

[[package]]
name = "either"
version = "1.8.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "7fcaabb2fef8c910e7f4c7ce9f67a1283a1715879a7c230ca9d6d1ae31f16d91"

[[package]]
name = "lib1"
version = "1.2.3"
dependencies = ["either 1.8.1"]
"""

WORKSPACE = {
    "Cargo.toml": """
[workspace]
members = ["crates/*", "tools/either"]
exclude = ["crates/unused"]
resolver = "2"
[workspace.package]
version = "1.2.3"
edition = "2021"
[workspace.dependencies]
lib1 = { path = "crates/lib1", version = "1.2.3" }
regex = "1"
[workspace.lints.rust]
missing_docs = "deny"
""",
    "crates/app/Cargo.toml": """
[package]
name = "app"
version.workspace = true
edition.workspace = true
[dependencies]
lib1 = { workspace = true }
local-either = { package = "either", path = "../../tools/either", version = "1.2.3" }
either = "=1.8.1"
[target.'cfg(unix)'.dependencies]
lib1b = { package = "lib1", path = "../lib1", version = "1.2.3" }
[[bin]]
name = "zeta"
path = "src/zeta.rs"
[[bin]]
name = "alpha"
path = "src/alpha.rs"
[[test]]
name = "nh"
harness = false
[lints]
workspace = true
""",
    "crates/app/src/main.rs": "fn main() {}",
    "crates/app/src/zeta.rs": "fn main() {}",
    "crates/app/src/alpha.rs": "fn main() {}",
    "crates/app/src/bin/tool.rs": "fn main() {}",
    "crates/app/src/bin/multi/main.rs": "fn main() {}",
    "crates/app/tests/nh.rs": "fn main() {}",
    "crates/app/tests/it.rs": "",
    "crates/app/benches/b.rs": "",
    "crates/app/examples/ex.rs": "fn main() {}",
    "crates/lib1/Cargo.toml": """
[package]
name = "lib1"
version = "1.2.3"
edition = "2021"
build = "build.rs"
[dependencies]
regex.workspace = true
[build-dependencies]
either = "1"
""",
    "crates/lib1/src/lib.rs": "",
    "crates/lib1/build.rs": "fn main() {}",
    "crates/unused/Cargo.toml": '[package]\nname = "unused"\nversion = "0.1.0"\n',
    "crates/unused/src/lib.rs": "",
    "tools/either/Cargo.toml": """
[package]
name = "either"
version = "1.2.3"
edition = "2021"
autotests = false
[lib]
proc-macro = true
""",
    "tools/either/src/lib.rs": "",
    "tools/either/tests/ignored.rs": "",
    "Cargo.lock": LOCK,
    ".cargo/config.toml": '[build]\nrustflags = ["-Cdebuginfo=1"]\n',
    "rust-toolchain.toml": '[toolchain]\nchannel = "1.85"\n',
}


def manifests(recipe: Recipe) -> dict[str, dict[str, object]]:
    return {m.relative_path: tomllib.loads(m.contents) for m in recipe.manifests}


def targets(recipe: Recipe, path: str) -> set[tuple[str, str, str]]:
    manifest = next(m for m in recipe.manifests if m.relative_path == path)
    return {(t.path, t.kind.name, t.name) for t in manifest.targets}


def test_members_are_globs_minus_exclude_plus_root(tree: Tree) -> None:
    recipe = prepare(tree(WORKSPACE))
    assert [m.relative_path for m in recipe.manifests] == [
        "Cargo.toml",
        "crates/app/Cargo.toml",
        "crates/lib1/Cargo.toml",
        "tools/either/Cargo.toml",
    ]


def test_path_dependencies_inside_the_root_become_members(tree: Tree) -> None:
    files = dict(WORKSPACE)
    files["Cargo.toml"] = files["Cargo.toml"].replace('"crates/*", "tools/either"', '"crates/app"')
    paths = [m.relative_path for m in prepare(tree(files)).manifests]
    assert paths == [
        "Cargo.toml",
        "crates/app/Cargo.toml",
        "crates/lib1/Cargo.toml",
        "tools/either/Cargo.toml",
    ]


def test_targets_are_discovered_like_cargo(tree: Tree) -> None:
    recipe = prepare(tree(WORKSPACE))
    assert targets(recipe, "crates/app/Cargo.toml") == {
        ("src/zeta.rs", "BIN", "zeta"),
        ("src/alpha.rs", "BIN", "alpha"),
        ("src/main.rs", "BIN", "app"),
        ("src/bin/tool.rs", "BIN", "tool"),
        ("src/bin/multi/main.rs", "BIN", "multi"),
        ("tests/nh.rs", "TEST", "nh"),
        ("tests/it.rs", "TEST", "it"),
        ("benches/b.rs", "BENCH", "b"),
        ("examples/ex.rs", "EXAMPLE", "ex"),
    }
    assert targets(recipe, "crates/lib1/Cargo.toml") == {
        ("src/lib.rs", "LIB", "lib1"),
        ("build.rs", "BUILD_SCRIPT", "build-script-build"),
    }
    # autotests = false drops tests/ignored.rs; [lib] proc-macro = true
    assert targets(recipe, "tools/either/Cargo.toml") == {("src/lib.rs", "PROC_MACRO", "either")}


def test_explicit_paths_and_auto_flags(tree: Tree) -> None:
    recipe = prepare(
        tree(
            {
                "Cargo.toml": """
[package]
name = "solo-pkg"
version = "0.3.0"
autobins = false
autoexamples = false
autobenches = false
[lib]
name = "renamed"
path = "lib/root.rs"
[[bin]]
name = "only"
[[example]]
name = "ex2"
path = "demo/ex2.rs"
""",
                "lib/root.rs": "",
                "src/main.rs": "",
                "src/bin/only.rs": "",
                "src/bin/other.rs": "",
                "examples/skipped.rs": "",
                "demo/ex2.rs": "",
                "benches/skipped.rs": "",
                "tests/t.rs": "",
            }
        )
    )
    assert targets(recipe, "Cargo.toml") == {
        ("lib/root.rs", "LIB", "renamed"),
        ("src/bin/only.rs", "BIN", "only"),
        ("demo/ex2.rs", "EXAMPLE", "ex2"),
        ("tests/t.rs", "TEST", "t"),
    }


def test_versions_are_masked_everywhere(tree: Tree) -> None:
    found = manifests(prepare(tree(WORKSPACE)))
    root = found["Cargo.toml"]["workspace"]
    assert isinstance(root, dict)
    assert root["package"]["version"] == "0.0.1"
    assert root["dependencies"]["lib1"]["version"] == "0.0.1"
    assert root["dependencies"]["regex"] == "1"
    app = found["crates/app/Cargo.toml"]
    assert app["package"]["version"] == {"workspace": True}  # type: ignore[index]
    assert app["dependencies"]["local-either"]["version"] == "0.0.1"  # type: ignore[index]
    assert app["dependencies"]["either"] == "=1.8.1"  # type: ignore[index]
    cfg = app["target"]["cfg(unix)"]["dependencies"]  # type: ignore[index]
    assert cfg["lib1b"]["version"] == "0.0.1"
    assert found["crates/lib1/Cargo.toml"]["package"]["version"] == "0.0.1"  # type: ignore[index]
    assert found["tools/either/Cargo.toml"]["package"]["version"] == "0.0.1"  # type: ignore[index]


def test_path_patches_are_carried_unmasked(tree: Tree) -> None:
    """A path patch is a dependency: carried (manifest and targets), its version and its
    lockfile entry left as they are, so the patch still applies; not a member, not local."""
    lock = LOCK + '\n[[package]]\nname = "cfg-if"\nversion = "1.0.0"\n'
    files = {
        **WORKSPACE,
        "Cargo.toml": WORKSPACE["Cargo.toml"]
        + '[patch.crates-io]\ncfg-if = { path = "vendor/cfg-if" }\n',
        "vendor/cfg-if/Cargo.toml": '[package]\nname = "cfg-if"\nversion = "1.0.0"\n',
        "vendor/cfg-if/src/lib.rs": "",
        "Cargo.lock": lock,
    }
    root = tree(files)
    recipe = prepare(root)
    found = manifests(recipe)
    assert found["vendor/cfg-if/Cargo.toml"]["package"]["version"] == "1.0.0"  # type: ignore[index]
    assert "vendor/cfg-if" not in found["Cargo.toml"]["workspace"]["members"]  # type: ignore[index]
    packages = tomllib.loads(recipe.lock_file or "")["package"]
    assert {"name": "cfg-if", "version": "1.0.0"} in packages
    patched = next(m for m in recipe.manifests if m.relative_path == "vendor/cfg-if/Cargo.toml")
    assert [t.kind for t in patched.targets] == [TargetKind.LIB]
    closure = manifests(prepare(root, ("app",)))  # --bin keeps it, not as a member
    assert "vendor/cfg-if/Cargo.toml" in closure
    assert "vendor/cfg-if" not in closure["Cargo.toml"]["workspace"]["members"]  # type: ignore[index]


def test_lints_are_removed(tree: Tree) -> None:
    found = manifests(prepare(tree(WORKSPACE)))
    assert "lints" not in found["Cargo.toml"]["workspace"]  # type: ignore[operator]
    assert all("lints" not in manifest for manifest in found.values())


def test_lockfile_masks_local_packages_and_references(tree: Tree) -> None:
    recipe = prepare(tree(WORKSPACE))
    assert recipe.lock_file
    lock = tomllib.loads(recipe.lock_file)
    by_key = {(p["name"], p.get("source")): p for p in lock["package"]}
    assert by_key[("either", None)]["version"] == "0.0.1"
    registry = "registry+https://github.com/rust-lang/crates.io-index"
    assert by_key[("either", registry)]["version"] == "1.8.1"
    assert by_key[("app", None)]["version"] == "0.0.1"
    # cargo-chef leaves "either 1.2.3" dangling; we rewrite it, and keep the registry one
    assert by_key[("app", None)]["dependencies"] == ["either 0.0.1", "either 1.8.1", "lib1"]


def test_config_and_toolchain_are_carried(tree: Tree) -> None:
    recipe = prepare(tree(WORKSPACE))
    assert recipe.config_file == WORKSPACE[".cargo/config.toml"]
    assert recipe.rust_toolchain_file == ("Toml", WORKSPACE["rust-toolchain.toml"])


def test_legacy_config_and_bare_toolchain(tree: Tree) -> None:
    recipe = prepare(
        tree(
            {
                "Cargo.toml": '[package]\nname = "a"\nversion = "1.0.0"\n',
                "src/lib.rs": "",
                ".cargo/config": "[net]\noffline = true\n",
                "rust-toolchain": "1.85\n",
            }
        )
    )
    assert recipe.config_file == "[net]\noffline = true\n"
    assert recipe.rust_toolchain_file == ("Bare", "1.85\n")
    assert recipe.lock_file is None


def test_schema_matches_cargo_chef(tree: Tree) -> None:
    document = json.loads(prepare(tree(WORKSPACE)).to_json())
    assert list(document) == ["skeleton"]
    skeleton = document["skeleton"]
    assert list(skeleton) == ["manifests", "config_file", "lock_file", "rust_toolchain_file"]
    assert skeleton["rust_toolchain_file"][0] == "Toml"
    for manifest in skeleton["manifests"]:
        assert list(manifest) == ["relative_path", "contents", "targets"]
        for target in manifest["targets"]:
            assert list(target) == ["path", "kind", "name"]
    kinds = [t["kind"] for m in skeleton["manifests"] for t in m["targets"]]
    assert {"Lib": {"is_proc_macro": True}} in kinds
    assert {"Lib": {"is_proc_macro": False}} in kinds
    assert {"Bin", "Test", "Bench", "Example", "BuildScript"} <= {k for k in kinds if k == str(k)}


def test_recipe_round_trips(tree: Tree) -> None:
    recipe = prepare(tree(WORKSPACE))
    again = Recipe.from_json(recipe.to_json())
    assert again.to_json() == recipe.to_json()
    assert again.digest() == recipe.digest()


def test_recipe_is_identical_across_paths_and_runs(tmp_path: Path, tree: Tree) -> None:
    first = tree(WORKSPACE)
    other = tmp_path / "somewhere" / "else"
    shutil.copytree(first, other)
    texts = {prepare(first).to_json(), prepare(first).to_json(), prepare(other).to_json()}
    assert len(texts) == 1
    assert str(tmp_path) not in texts.pop()


ZETA = '[[bin]]\nname = "zeta"\npath = "src/zeta.rs"\n'
ALPHA = '[[bin]]\nname = "alpha"\npath = "src/alpha.rs"\n'

UNCHANGED = {
    "member version bump": lambda f: f.__setitem__(
        "crates/lib1/Cargo.toml", f["crates/lib1/Cargo.toml"].replace("1.2.3", "2.0.0")
    ),
    "workspace version bump": lambda f: f.__setitem__(
        "Cargo.toml",
        f["Cargo.toml"].replace('version = "1.2.3"\nedition', 'version = "9.9.9"\nedition'),
    ),
    "local dependency version": lambda f: f.__setitem__(
        "crates/app/Cargo.toml",
        f["crates/app/Cargo.toml"].replace(
            'path = "../lib1", version = "1.2.3"', 'path = "../lib1", version = "1.9"'
        ),
    ),
    "source edit": lambda f: f.__setitem__("crates/app/src/main.rs", "fn main() { println!(); }"),
    "lockfile local version": lambda f: f.__setitem__(
        "Cargo.lock",
        f["Cargo.lock"].replace(
            'name = "lib1"\nversion = "1.2.3"', 'name = "lib1"\nversion = "1.3.0"'
        ),
    ),
    "[[bin]] order": lambda f: f.__setitem__(
        "crates/app/Cargo.toml", f["crates/app/Cargo.toml"].replace(ZETA + ALPHA, ALPHA + ZETA)
    ),
    "key order and comments": lambda f: f.__setitem__(
        "crates/lib1/Cargo.toml",
        "# comment\n"
        + f["crates/lib1/Cargo.toml"]
        .replace('edition = "2021"\n', "")
        .replace("[dependencies]", 'edition = "2021"  # moved\n[dependencies]'),
    ),
}

CHANGED = {
    "new dependency": lambda f: f.__setitem__(
        "crates/lib1/Cargo.toml", f["crates/lib1/Cargo.toml"] + 'log = "0.4"\n'
    ),
    "dependency features": lambda f: f.__setitem__(
        "Cargo.toml",
        f["Cargo.toml"].replace('regex = "1"', 'regex = { version = "1", features = ["std"] }'),
    ),
    "lockfile external bump": lambda f: f.__setitem__(
        "Cargo.lock", f["Cargo.lock"].replace("1.8.1", "1.8.2")
    ),
    "new target": lambda f: f.__setitem__("crates/app/tests/new.rs", ""),
    "toolchain": lambda f: f.__setitem__("rust-toolchain.toml", '[toolchain]\nchannel = "1.86"\n'),
    "cfg dependency": lambda f: f.__setitem__(
        "crates/app/Cargo.toml",
        f["crates/app/Cargo.toml"].replace(
            "[target.'cfg(unix)'.dependencies]", "[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\""
        ),
    ),
    "build dependency": lambda f: f.__setitem__(
        "crates/lib1/Cargo.toml",
        f["crates/lib1/Cargo.toml"].replace('either = "1"', 'either = "1.5"'),
    ),
    "cargo config": lambda f: f.__setitem__(".cargo/config.toml", "[build]\n"),
}


@pytest.mark.parametrize("edit", list(UNCHANGED), ids=list(UNCHANGED))
def test_recipe_does_not_change(tmp_path: Path, edit: str) -> None:
    assert _digest(tmp_path / "a", WORKSPACE) == _digest(tmp_path / "b", _edited(UNCHANGED[edit]))


@pytest.mark.parametrize("edit", list(CHANGED), ids=list(CHANGED))
def test_recipe_changes(tmp_path: Path, edit: str) -> None:
    assert _digest(tmp_path / "a", WORKSPACE) != _digest(tmp_path / "b", _edited(CHANGED[edit]))


def _edited(edit: Callable[[dict[str, str]], None]) -> dict[str, str]:
    files = dict(WORKSPACE)
    edit(files)
    return files


def _digest(root: Path, files: Mapping[str, str]) -> str:
    return prepare(write_tree(root, files)).digest()


def test_bin_keeps_only_the_closure(tree: Tree) -> None:
    files = dict(WORKSPACE)
    files["crates/other/Cargo.toml"] = (
        '[package]\nname = "other"\nversion = "0.1.0"\n[dependencies]\nregex.workspace = true\n'
        "lib1.workspace = true\n"
    )
    files["crates/other/src/main.rs"] = ""
    root = tree(files)
    recipe = prepare(root, ("lib1",))
    assert [m.relative_path for m in recipe.manifests] == ["Cargo.toml", "crates/lib1/Cargo.toml"]
    workspace = manifests(recipe)["Cargo.toml"]["workspace"]
    assert workspace["members"] == ["crates/lib1"]  # type: ignore[index]
    assert set(workspace["dependencies"]) == {"regex"}  # type: ignore[index]
    assert recipe.lock_file
    names = sorted(p["name"] for p in tomllib.loads(recipe.lock_file)["package"])
    assert names == ["either", "lib1"]
    by_binary = prepare(root, ("tool",))  # a binary target of package app
    paths = [m.relative_path for m in by_binary.manifests]
    assert paths == [
        "Cargo.toml",
        "crates/app/Cargo.toml",
        "crates/lib1/Cargo.toml",
        "tools/either/Cargo.toml",
    ]
    assert prepare(root, ("other",)).digest() != prepare(root).digest()


def test_bin_recipe_ignores_unrelated_members(tmp_path: Path) -> None:
    files = dict(WORKSPACE)
    before = prepare(write_tree(tmp_path / "a", files), ("lib1",))
    files["crates/app/Cargo.toml"] += 'serde = "1"\n'
    after = prepare(write_tree(tmp_path / "b", files), ("lib1",))
    assert before.digest() == after.digest()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no Cargo.toml"),
        ({"Cargo.toml": "[package\n"}, "not valid TOML"),
        ({"Cargo.toml": '[workspace]\nmembers = ["nope"]\n'}, "has no Cargo.toml"),
        ({"Cargo.toml": '[workspace]\nmembers = ["../x"]\n'}, "not below the workspace root"),
        ({"Cargo.toml": "[package]\nversion = '1'\n"}, "package.name is missing"),
        ({"Cargo.toml": "[package]\nname = 'a'\n[[bin]]\npath = 3\n"}, "must be a string"),
        ({"Cargo.toml": "[package]\nname = 'a'\n[[bin]]\npath = '/etc/passwd'\n"}, "absolute"),
        ({"Cargo.toml": "[package]\nname = 'a'\n[[bin]]\npath = 'src/x.rs'\n"}, "has no name"),
        (
            {"Cargo.toml": "[package]\nname = 'a'\nedition = '2021'\n[[bin]]\nname = 'b'\n"},
            "can't find",
        ),
        ({"Cargo.toml": "[package]\nname = 'a'\n", "Cargo.lock": "package = 5\n"}, "array"),
        ({"Cargo.toml": "[package]\nname = 'a'\n", "Cargo.lock": "package = [1]\n"}, "array"),
    ],
)
def test_workspace_errors(tree: Tree, files: dict[str, str], message: str, tmp_path: Path) -> None:
    write_tree(tmp_path, {"x/Cargo.toml": '[package]\nname = "x"\n'})
    root = tree(files) if files else tmp_path / "empty"
    with pytest.raises(WorkspaceError, match=message):
        prepare(root)


def test_unknown_bin_is_an_error(tree: Tree) -> None:
    with pytest.raises(WorkspaceError, match="no such package or binary"):
        prepare(tree(WORKSPACE), ("missing",))


def test_a_name_that_is_not_utf8_is_one_error_and_keeps_the_old_recipe(tree: Tree) -> None:
    root = tree(WORKSPACE)
    os.close(os.open(os.fsencode(root / "crates" / "app" / "src") + b"/bin/bad\xff.rs", os.O_CREAT))
    (root / "recipe.json").write_text("the last recipe")
    with pytest.raises(RecipeError, match=r"src/bin/bad\\xff.rs: not valid UTF-8"):
        prepare(root).digest()
    refused = _chef(root, "prepare")
    assert refused.returncode == 3 and refused.stderr.count("\n") == 1, refused.stderr
    assert (root / "recipe.json").read_text() == "the last recipe"


def test_kinds_round_trip() -> None:
    for kind in TargetKind:
        assert TargetKind.from_json(json.loads(json.dumps(kind.to_json()))) is kind


def _large_workspace(members: int, last_manifest_extra: str = "") -> dict[str, str]:
    """A chain of `members` crates (enough for `prepare` to use two processes), each with a
    path dependency on the previous one, plus the example's varied workspace for good measure."""
    files = dict(WORKSPACE)
    members_line = '"tools/either", "big/*"'
    files["Cargo.toml"] = WORKSPACE["Cargo.toml"].replace('"tools/either"', members_line)
    for index in range(members):
        crate = f"big/m{index:03d}"
        dependency = f'm{index - 1:03d} = {{ path = "../m{index - 1:03d}", version = "0.1.0" }}'
        extra = last_manifest_extra if index == members - 1 else ""
        files[f"{crate}/Cargo.toml"] = (
            f'[package]\nname = "m{index:03d}"\nversion = "0.1.{index}"\n{extra}\n'
            f"[dependencies]\n{dependency if index else ''}\n"
        )
        files[f"{crate}/src/lib.rs"] = ""
        if index % 7 == 0:
            files[f"{crate}/src/bin/tool{index}.rs"] = "fn main() {}"
    return files


def test_two_process_prepare_equals_one_process(tree: Tree) -> None:
    from galley.chef import forking

    assert forking._fork_pays(100), "this machine should split prepare over two CPUs"
    root = tree(_large_workspace(100))
    split = prepare(root)
    assert split.to_json() == prepare(root, parallel=False).to_json()
    assert manifests(split)["big/m099/Cargo.toml"]["dependencies"] == {
        "m098": {"path": "../m098", "version": "0.0.1"}
    }
    assert ("src/bin/tool98.rs", "BIN", "tool98") in targets(split, "big/m098/Cargo.toml")


def test_an_error_in_the_second_process_half_is_reported(tree: Tree) -> None:
    root = tree(_large_workspace(100, last_manifest_extra="[broken"))
    with pytest.raises(WorkspaceError, match=r"big/m099/Cargo\.toml: not valid TOML"):
        prepare(root)


def test_values_the_pipe_cannot_carry_are_read_in_the_first_process(tree: Tree) -> None:
    """A TOML datetime cannot cross the pipe (marshal): that half is redone in the parent."""
    metadata = "[package.metadata]\nreleased = 1979-05-27T07:32:00Z"
    root = tree(_large_workspace(100, last_manifest_extra=metadata))
    split = prepare(root)
    assert split.to_json() == prepare(root, parallel=False).to_json()
    assert "released = 1979-05-27 07:32:00+00:00" in next(
        m.contents for m in split.manifests if m.relative_path == "big/m099/Cargo.toml"
    )


def _chef(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `galley-chef` console script's entry point, as a process (it leaves by os._exit)."""
    program = "from galley.chef.cli import run; run()"
    return subprocess.run(
        [sys.executable, "-c", program, *args], cwd=cwd, capture_output=True, text=True
    )


def test_prepare_command_line(tree: Tree, tmp_path: Path) -> None:
    root = tree(WORKSPACE)
    expected = prepare(root).to_json()
    assert _chef(root, "prepare").returncode == 0
    assert (root / "recipe.json").read_text() == expected
    done = _chef(root, "chef", "prepare", "--recipe-path=r2.json", "--bin", "app")
    assert done.returncode == 0, done.stderr
    assert (root / "r2.json").read_text() == prepare(root, ("app",)).to_json()
    unwritable = _chef(root, "prepare", "--recipe-path", str(tmp_path / "missing" / "r.json"))
    assert unwritable.returncode == 3
    assert unwritable.stderr.count("\n") == 1 and "cannot write the recipe" in unwritable.stderr
    twice = (["--bin", "app", "--bin", "lib1"], ["--recipe-path=a", "--recipe-path", "b"])
    for wrong in (["--recipe-path"], ["--bogus"], ["--bin", "--recipe-path", "x"], *twice):
        refused = _chef(root, "prepare", *wrong)
        assert refused.returncode == 2, wrong  # a usage error, in one line
        assert refused.stderr.count("\n") == 1 and "(see --help)" in refused.stderr, wrong
    assert "may be given only once" in refused.stderr  # as clap says of cargo-chef's options
