"""The recipe engine against cargo itself, one small workspace per rule of cargo's.

Each test builds a workspace showing one rule, then checks that galley's recipe has exactly
the packages and targets `cargo metadata` gives (every path package, members or not), that
galley's members are cargo's, and that cargo reads the cooked skeleton as it reads the real
tree (same packages, targets, members and default members). Ground truth is cargo.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import tomli_w

from cargo_view import cargo_view, recipe_packages
from galley.chef import skeleton, workspace
from galley.chef.planner import prepare
from galley.chef.recipe import Recipe
from galley.errors import WorkspaceError
from helpers import DEBIAN_REGISTRY, write_tree

pytestmark = pytest.mark.cargo


def package(name: str, extra: str = "", edition: str | None = "2021") -> str:
    """A `[package]` table, then `extra`."""
    line = f'edition = "{edition}"\n' if edition else ""
    return f'[package]\nname = "{name}"\nversion = "1.0.0"\n{line}{extra}'


def like_cargo(root: Path, cook_dir: Path, within: Path | None = None) -> Recipe:
    """Assert galley reads `root` as cargo does, and cargo reads the skeleton as `root`."""
    real = cargo_view(root, with_deps=True)
    recipe = prepare(root, parallel=False)
    assert recipe_packages(recipe) == real.packages
    assert workspace.load(root).members == real.members
    skeleton.write(skeleton.plan(recipe), cook_dir, within)
    assert cargo_view(cook_dir, with_deps=True) == real
    return recipe


def test_a_member_listed_by_path_beats_an_exclude_of_its_parent(tmp_path: Path, cargo: str) -> None:
    """Kata's root: `members` names src/tools/agent-ctl while `exclude` holds src/tools
    (cargo's is_excluded: excluded and not under a member as written). An exclude still removes
    what a glob found, and compares whole path components (`lib` is no prefix of `libs`)."""
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["tools/ctl", "libs/*"]\n'
                      'exclude = ["tools", "libs/skipped", "lib"]\n',
        "tools/ctl/Cargo.toml": package("ctl"), "tools/ctl/src/main.rs": "",
        "tools/other/Cargo.toml": package("other"), "tools/other/src/main.rs": "",
        "libs/kept/Cargo.toml": package("kept"), "libs/kept/src/lib.rs": "",
        "libs/skipped/Cargo.toml": package("skipped"), "libs/skipped/src/lib.rs": "",
    })  # fmt: skip
    like_cargo(root, tmp_path / "cook")
    assert workspace.load(root).members == {"tools/ctl", "libs/kept"}


def test_double_star_in_member_globs_matches_any_depth(tmp_path: Path, cargo: str) -> None:
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["crates/**/plugin-*"]\n',
        "crates/plugin-a/Cargo.toml": package("plugin-a"), "crates/plugin-a/src/lib.rs": "",
        "crates/x/y/plugin-b/Cargo.toml": package("plugin-b"),
        "crates/x/y/plugin-b/src/lib.rs": "",
    })  # fmt: skip
    like_cargo(root, tmp_path / "cook")
    assert len(workspace.load(root).members) == 2


def test_path_dependencies_under_an_excluded_dir_are_read_but_no_members(
    tmp_path: Path, cargo: str
) -> None:
    """A path dependency cargo excludes is no member, but the build reads it: the recipe must
    carry it, and its own path dependencies, or the cook fails to load the manifest."""
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["app"]\nexclude = ["vendor"]\n'
                      '[workspace.dependencies]\nshared = { path = "vendor/shared" }\n',
        "app/Cargo.toml": package("app", '[dependencies]\nutil = { path = "../vendor/util" }\n'
                                         "shared.workspace = true\n"),
        "app/src/main.rs": "",
        "vendor/util/Cargo.toml": package("util", "[dependencies]\n"
                                                  'inner = { path = "../inner" }\n'),
        "vendor/util/src/lib.rs": "",
        "vendor/inner/Cargo.toml": package("inner"), "vendor/inner/src/lib.rs": "",
        "vendor/shared/Cargo.toml": package("shared"), "vendor/shared/src/lib.rs": "",
    })  # fmt: skip
    recipe = like_cargo(root, tmp_path / "cook")
    assert workspace.load(root).members == {"app"}
    assert set(recipe_packages(recipe)) == {"app", "vendor/util", "vendor/inner", "vendor/shared"}


def test_path_dependencies_under_a_listed_member_are_members(tmp_path: Path, cargo: str) -> None:
    """`tools/ctl` is listed by path and `tools` excluded: its path dependency `tools/ctl/sub`
    lies under a member as written, so it is not excluded."""
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["tools/ctl"]\nexclude = ["tools"]\n',
        "tools/ctl/Cargo.toml": package("ctl", '[dependencies]\nsub = { path = "sub" }\n'),
        "tools/ctl/src/main.rs": "",
        "tools/ctl/sub/Cargo.toml": package("sub"), "tools/ctl/sub/src/lib.rs": "",
    })  # fmt: skip
    like_cargo(root, tmp_path / "cook")
    assert workspace.load(root).members == {"tools/ctl", "tools/ctl/sub"}


def test_a_stale_workspace_dependency_is_never_read(tmp_path: Path, cargo: str) -> None:
    """`[workspace.dependencies]` entries are followed only for the packages that inherit
    them; one pointing nowhere is no error (cargo never reads it)."""
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["app"]\n[workspace.dependencies]\n'
                      'util = { path = "util", version = "1.0.0" }\ngone = { path = "gone" }\n',
        "app/Cargo.toml": package("app", "[dependencies]\nutil.workspace = true\n"),
        "app/src/main.rs": "",
        "util/Cargo.toml": package("util"), "util/src/lib.rs": "",
    })  # fmt: skip
    recipe = like_cargo(root, tmp_path / "cook")
    assert set(recipe_packages(recipe)) == {"app", "util"}


def test_a_target_file_outside_its_package_dir(tmp_path: Path, cargo: str) -> None:
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["crates/foo"]\n',
        "crates/foo/Cargo.toml": package("foo", '[[example]]\nname = "x"\n'
                                                'path = "../../examples/x.rs"\n'),
        "crates/foo/src/lib.rs": "",
        "examples/x.rs": "fn main() {}\n",
    })  # fmt: skip
    recipe = like_cargo(root, tmp_path / "cook")
    assert ("Example", "x", "../../examples/x.rs") in recipe_packages(recipe)["crates/foo"][1]
    assert (tmp_path / "cook" / "examples" / "x.rs").read_text() == "fn main() {}"


def test_a_target_file_outside_the_cook_dir_is_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": package("foo", '[[bin]]\nname = "x"\npath = "../shared/x.rs"\n'),
        "src/lib.rs": "",
    })  # fmt: skip
    recipe = prepare(root)
    with pytest.raises(Exception, match="outside the directory the skeleton may be written"):
        skeleton.write(skeleton.plan(recipe), tmp_path / "cook")
    assert not (tmp_path / "shared").exists()


def test_several_targets_on_one_source_file_cook(tmp_path: Path, cargo: str) -> None:
    """A `[lib]` and a binary (and an example) on one file: cargo warns and builds both; the
    skeleton's one dummy must compile as each of them."""
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": package("one", '[[bin]]\nname = "tool"\npath = "src/lib.rs"\n'
                                     '[[example]]\nname = "demo"\npath = "src/lib.rs"\n'),
        "src/lib.rs": "pub fn f() {}\nfn main() {}\n",
    })  # fmt: skip
    like_cargo(root, tmp_path / "cook")
    built = subprocess.run(
        [cargo, "build", "--offline", "--all-targets"], cwd=tmp_path / "cook",
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]


def test_edition_2015_declared_targets_turn_inference_off(tmp_path: Path, cargo: str) -> None:
    """No edition is 2015: one `[[bin]]` turns the inference of binaries off (src/main.rs and
    src/bin/ are no targets then), and a `[[bin]]` without a path falls back to src/main.rs."""
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["old", "legacy", "modern"]\n',
        "old/Cargo.toml": package("old", '[[bin]]\nname = "extra"\npath = "src/extra.rs"\n',
                                  edition=None),
        "old/src/main.rs": "", "old/src/extra.rs": "", "old/src/bin/other.rs": "",
        "old/tests/t.rs": "",
        "legacy/Cargo.toml": package("legacy", '[[bin]]\nname = "tool"\n', edition="2015"),
        "legacy/src/main.rs": "",
        "modern/Cargo.toml": package("modern", '[[bin]]\nname = "extra"\npath = "src/extra.rs"\n'),
        "modern/src/main.rs": "", "modern/src/extra.rs": "", "modern/src/bin/other.rs": "",
    })  # fmt: skip
    recipe = like_cargo(root, tmp_path / "cook")
    packages = recipe_packages(recipe)
    assert {t for t in packages["old"][1] if t[0] == "Bin"} == {("Bin", "extra", "src/extra.rs")}
    assert ("Bin", "tool", "src/main.rs") in packages["legacy"][1]
    assert len([t for t in packages["modern"][1] if t[0] == "Bin"]) == 3


def test_an_inherited_edition_counts(tmp_path: Path, cargo: str) -> None:
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["a"]\n[workspace.package]\nedition = "2015"\n',
        "a/Cargo.toml": package("a", 'edition.workspace = true\n[[bin]]\nname = "x"\n'
                                     'path = "src/x.rs"\n', edition=None),
        "a/src/main.rs": "", "a/src/x.rs": "",
    })  # fmt: skip
    recipe = like_cargo(root, tmp_path / "cook")
    assert {t[1] for t in recipe_packages(recipe)["a"][1]} == {"x"}


def test_names_starting_with_a_dot_are_not_discovered(tmp_path: Path, cargo: str) -> None:
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": package("dots"),
        "src/main.rs": "", "src/bin/.hidden.rs": "", "src/bin/.dir/main.rs": "",
        "examples/.scratch.rs": "", "tests/.wip/main.rs": "", "tests/real.rs": "",
    })  # fmt: skip
    recipe = like_cargo(root, tmp_path / "cook")
    assert {t[1] for t in recipe_packages(recipe)[""][1]} == {"dots", "real"}


def test_build_script_names_follow_their_file(tmp_path: Path, cargo: str) -> None:
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["a", "b"]\n',
        "a/Cargo.toml": package("a", 'build = "tools/gen.rs"\n'), "a/src/lib.rs": "",
        "a/tools/gen.rs": "",
        "b/Cargo.toml": package("b", "build = true\n"), "b/src/lib.rs": "", "b/build.rs": "",
    })  # fmt: skip
    recipe = like_cargo(root, tmp_path / "cook")
    assert ("BuildScript", "build-script-gen", "tools/gen.rs") in recipe_packages(recipe)["a"][1]


def test_default_members_nested_packages_and_package_workspace(tmp_path: Path, cargo: str) -> None:
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["a", "a/nested", "b"]\ndefault-members = ["b"]\n',
        "a/Cargo.toml": package("a", 'workspace = ".."\n'), "a/src/lib.rs": "",
        "a/nested/Cargo.toml": package("nested"), "a/nested/src/lib.rs": "",
        "b/Cargo.toml": package("b", '[dependencies]\na = { path = "../a" }\n'),
        "b/src/main.rs": "",
    })  # fmt: skip
    like_cargo(root, tmp_path / "cook")
    assert cargo_view(root).default_members == {"b"}


def test_a_path_crate_outside_that_names_the_root_is_a_member(tmp_path: Path, cargo: str) -> None:
    """A path dependency outside the workspace dir is no member, unless its package.workspace
    names this root (cargo's find_root)."""
    write_tree(tmp_path, {
        "ext/Cargo.toml": package("ext", 'workspace = "../ws"\n'), "ext/src/lib.rs": "",
        "far/Cargo.toml": package("far"), "far/src/lib.rs": "",
    })  # fmt: skip
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": package("app", '[dependencies]\next = { path = "../ext" }\n'
                                     'far = { path = "../far" }\n[workspace]\n'),
        "src/main.rs": "",
    })  # fmt: skip
    cook_root = tmp_path / "cook-tree"
    like_cargo(root, cook_root / "ws", within=cook_root)
    assert workspace.load(root).members == {"", "../ext"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n', "crates/empty/README": ""},
         "crates/empty.*has no Cargo.toml"),
        ({"Cargo.toml": '[workspace]\nmembers = ["a"]\n', "a/Cargo.toml": "[workspace]\n"
          + package("a"), "a/src/lib.rs": ""}, "own workspace root is a"),
        ({"Cargo.toml": package("a", '[[bin]]\nname = "x"\n'), "src/bin/x.rs": "",
          "src/bin/x/main.rs": ""}, "two files could be it"),
        ({"Cargo.toml": package("a", '[[bin]]\nname = "x"\npath = "a.rs"\n[[bin]]\nname = "x"\n'
          'path = "b.rs"\n')}, "two binary targets are named `x`"),
        ({"Cargo.toml": package("a", "edition.workspace = true\n", edition=None)},
         "sets no \\[workspace.package\\] edition"),
    ],
)  # fmt: skip
def test_what_cargo_refuses_is_one_error_naming_the_file(
    tmp_path: Path, cargo: str, files: dict[str, str], message: str
) -> None:
    root = write_tree(tmp_path / "ws", files)
    refused = subprocess.run(
        [cargo, "metadata", "--no-deps", "--offline", "--format-version", "1"], cwd=root,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0  # cargo refuses it too
    with pytest.raises(WorkspaceError, match=message):
        prepare(root)


def test_a_patched_member_keeps_its_version(tmp_path: Path, cargo: str) -> None:
    """A member a root `[patch]` points at (tokio in tokio's workspace) keeps its real version:
    cargo applies a patch only where its version meets the requirement of the crate that
    depends on it (here `log`, from the registry, needs cfg-if 1). Masked to 0.0.1, as
    cargo-chef masks it, the patch goes unused and a `--locked` cook fails."""
    shutil.copytree(DEBIAN_REGISTRY / "cfg-if-1.0.0", tmp_path / "ws" / "cfg-if")
    root = write_tree(tmp_path / "ws", {
        "Cargo.toml": '[workspace]\nmembers = ["app", "cfg-if"]\n'
                      '[patch.crates-io]\ncfg-if = { path = "cfg-if" }\n',
        "app/Cargo.toml": package("app", '[dependencies]\nlog = "0.4"\n'),
        "app/src/main.rs": "fn main() {}\n",
    })  # fmt: skip
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=root, check=True)
    recipe = like_cargo(root, tmp_path / "cook")
    patched = next(m for m in recipe.manifests if m.relative_path == "cfg-if/Cargo.toml")
    assert 'version = "1.0.0"' in patched.contents
    masked = tmp_path / "masked"
    shutil.copytree(tmp_path / "cook", masked)
    manifest = masked / "cfg-if" / "Cargo.toml"
    table = tomllib.loads(manifest.read_text())
    table["package"]["version"] = "0.0.1"  # as cargo-chef masks it
    manifest.write_text(tomli_w.dumps(table))
    locked = subprocess.run(
        [cargo, "metadata", "--locked", "--offline", "--format-version", "1"], cwd=masked,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert locked.returncode != 0
    assert "cannot update the lock file" in locked.stderr
