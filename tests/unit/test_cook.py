"""cook: cargo command lines, dummy files, refusal of unsafe recipes, and real cargo runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from galley.chef import CookOptions, Manifest, Recipe, Target, TargetKind, cook
from galley.chef.cli import main as chef_main
from galley.chef.cooker import cargo_args
from galley.chef.skeleton import NO_STD_MAIN, NO_STD_TEST, plan, write
from galley.errors import ConfigError, RecipeError
from helpers import write_tree


def test_cargo_args_follow_cargo_chef_order() -> None:
    options = CookOptions(
        release=True,
        no_default_features=True,
        features=("b", "a"),
        unstable_flags=("build-std",),
        targets=("aarch64-unknown-linux-gnu", "s390x-unknown-linux-gnu"),
        target_dir=Path("/t"),
        tests=True,
        all_targets=True,
        packages=("p",),
        bins=("x",),
        workspace=True,
        offline=True,
        locked=True,
        verbose=1,
        timings=True,
        all_bins=True,
        jobs=2,
    )
    assert cargo_args(options) == [
        "build", "--release", "--no-default-features", "--features", "a,b",
        "-Z", "build-std", "--target", "aarch64-unknown-linux-gnu",
        "--target", "s390x-unknown-linux-gnu", "--target-dir", "/t", "--tests",
        "--all-targets", "--package", "p", "--bin", "x", "--workspace", "--offline",
        "--locked", "--verbose", "--timings", "--bins", "--jobs", "2",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (CookOptions(profile="release"), ["build", "--release"]),
        (CookOptions(profile="dev"), ["build"]),
        (CookOptions(profile="ci"), ["build", "--profile", "ci"]),
        (CookOptions(check=True), ["check"]),
        (CookOptions(clippy=True), ["clippy"]),
        (CookOptions(zigbuild=True), ["zigbuild"]),
    ],
)
def test_profiles_and_subcommands(options: CookOptions, expected: list[str]) -> None:
    assert cargo_args(options) == expected


def test_incompatible_flags_are_errors() -> None:
    with pytest.raises(ConfigError):
        CookOptions(release=True, profile="dev")
    with pytest.raises(ConfigError):
        CookOptions(check=True, clippy=True)


def _recipe(*targets: Target, contents: str = '[package]\nname = "p"\n') -> Recipe:
    return Recipe(
        manifests=(Manifest("p/Cargo.toml", contents, targets),), lock_file="version = 4\n"
    )


def test_dummy_files() -> None:
    contents = '[package]\nname = "p"\n[[test]]\nname = "nh"\nharness = false\n'
    recipe = _recipe(
        Target("src/lib.rs", TargetKind.LIB, "p"),
        Target("src/main.rs", TargetKind.BIN, "p"),
        Target("tests/t.rs", TargetKind.TEST, "t"),
        Target("tests/nh.rs", TargetKind.TEST, "nh"),
        Target("benches/b.rs", TargetKind.BENCH, "b"),
        Target("examples/e.rs", TargetKind.EXAMPLE, "e"),
        Target("build.rs", TargetKind.BUILD_SCRIPT, "build-script-build"),
        contents=contents,
    )
    files = {f.path: f.contents for f in plan(recipe)}
    assert files == {
        "Cargo.lock": "version = 4\n",
        "p/Cargo.toml": contents,
        "p/src/lib.rs": "",
        "p/src/main.rs": "fn main() {}",
        "p/tests/t.rs": "",
        "p/tests/nh.rs": "fn main() {}",
        "p/benches/b.rs": "",
        "p/examples/e.rs": "fn main() {}",
        "p/build.rs": "fn main() {}",
    }
    no_std = {f.path: f.contents for f in plan(recipe, no_std=True)}
    assert no_std["p/src/lib.rs"] == "#![no_std]"
    assert no_std["p/src/main.rs"] == NO_STD_MAIN
    assert no_std["p/tests/t.rs"] == NO_STD_TEST
    assert no_std["p/tests/nh.rs"] == NO_STD_MAIN
    assert no_std["p/build.rs"] == "fn main() {}"


def test_config_is_always_written_as_config_toml(tmp_path: Path) -> None:
    recipe = Recipe(
        manifests=(Manifest("Cargo.toml", '[package]\nname = "a"\n'),),
        config_file="[net]\n",
        rust_toolchain_file=("Bare", "1.85\n"),
    )
    write(plan(recipe), tmp_path)
    assert (tmp_path / ".cargo" / "config.toml").read_text() == "[net]\n"
    assert (tmp_path / "rust-toolchain").read_text() == "1.85\n"


UNSAFE = [
    ("/etc/Cargo.toml", "absolute"),
    ("a/../../Cargo.toml", "must not contain"),
    ("../a/../Cargo.toml", "must not contain"),
    ("../a/./Cargo.toml", "must not contain"),
    ("a/./Cargo.toml", "must not contain"),
    ("a\\b/Cargo.toml", "invalid path"),
    ("~/Cargo.toml", "absolute"),
    ("a/Cargo.json", "must end in Cargo.toml"),
]


@pytest.mark.parametrize(("path", "message"), UNSAFE)
def test_unsafe_manifest_paths_are_refused(path: str, message: str) -> None:
    document = {
        "skeleton": {
            "manifests": [
                {"relative_path": path, "contents": "[package]\nname='a'\n", "targets": []}
            ],
            "config_file": None,
            "lock_file": None,
            "rust_toolchain_file": None,
        }
    }
    with pytest.raises(RecipeError, match=message):
        Recipe.from_json(json.dumps(document))


def test_a_manifest_above_the_cook_dir_is_written_only_where_allowed(tmp_path: Path) -> None:
    """`../util/Cargo.toml` (a path crate outside the workspace) parses, but a cook writes it
    only inside the directory it is allowed (`within`, GALLEY_CHEF_SKELETON_ROOT for
    galley-chef); by default nothing leaves the cook dir."""
    tree, cook_dir = tmp_path / "tree", tmp_path / "tree" / "ws"
    cook_dir.mkdir(parents=True)
    main, lib = (
        Target("src/main.rs", TargetKind.BIN, "ws"),
        Target("src/lib.rs", TargetKind.LIB, "u"),
    )
    recipe = Recipe(manifests=(
        Manifest("Cargo.toml", '[package]\nname = "ws"\n', (main,)),
        Manifest("../util/Cargo.toml", '[package]\nname = "u"\n', (lib,)),
    ))  # fmt: skip
    with pytest.raises(RecipeError, match="outside the directory the skeleton may be written to"):
        write(plan(recipe), cook_dir)
    assert sorted(p.name for p in tree.iterdir()) == ["ws"] and not list(cook_dir.iterdir())
    with pytest.raises(RecipeError, match="outside the directory"):
        write(plan(recipe), cook_dir, within=cook_dir / "src")
    write(plan(recipe), cook_dir, within=tree)
    assert (tree / "util" / "Cargo.toml").is_file() and (tree / "util" / "src" / "lib.rs").is_file()
    assert (cook_dir / "src" / "main.rs").is_file()


def test_path_patch_sources_land_only_where_the_skeleton_may(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With GALLEY_CHEF_PATCH_SOURCES (galley's own cooks), the real sources of each `[patch]`
    path are copied over its stub: never above the cook dir (or GALLEY_CHEF_SKELETON_ROOT),
    never through a symlink, and a missing source is an error, not an emptied directory."""
    workspace, tree = tmp_path / "ws", tmp_path / "tree"
    cook_dir, victim = tree / "cook", tmp_path / "victim"
    write_tree(workspace, {"patches/p/Cargo.toml": '[package]\nname = "p"\n'})
    write_tree(victim, {"keep.txt": "mine"})
    write_tree(tmp_path / "patches" / "p", {"src/lib.rs": "// real"})
    monkeypatch.setenv("GALLEY_CHEF_PATCH_SOURCES", str(workspace))

    def cook_patched(path: str, within: Path | None = None) -> None:
        root = f'[package]\nname = "ws"\n[patch.crates-io]\np = {{ path = "{path}" }}\n'
        main = Target("src/main.rs", TargetKind.BIN, "ws")
        recipe = Recipe(manifests=(Manifest("Cargo.toml", root, (main,)),))
        if within:
            monkeypatch.setenv("GALLEY_CHEF_SKELETON_ROOT", str(within))
        cook(recipe, cook_dir, CookOptions(no_build=True))

    for escaping in ("../../victim", "patches/../../../victim"):
        with pytest.raises(RecipeError, match="outside the directory the skeleton may"):
            cook_patched(escaping)
    with pytest.raises(RecipeError, match="not a directory in"):
        cook_patched("patches/none")
    (cook_dir / "patches").mkdir()
    (cook_dir / "patches" / "p").symlink_to(victim)
    with pytest.raises(RecipeError, match="symlink"):
        cook_patched("patches/p")
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    (cook_dir / "patches" / "p").unlink()
    cook_patched("patches/p")
    assert (cook_dir / "patches" / "p" / "Cargo.toml").is_file()
    cook_patched("../patches/p", within=tree)  # a patch outside the workspace, placed above it
    assert (tree / "patches" / "p" / "src" / "lib.rs").read_text() == "// real"


def test_symlink_out_of_the_cook_dir_is_refused(tmp_path: Path) -> None:
    cook_dir, outside = tmp_path / "cook", tmp_path / "outside"
    cook_dir.mkdir()
    outside.mkdir()
    (cook_dir / "p").symlink_to(outside)
    recipe = _recipe(Target("src/lib.rs", TargetKind.LIB, "p"))
    with pytest.raises(RecipeError, match="symlink"):
        cook(recipe, cook_dir, CookOptions(no_build=True))
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in cook_dir.iterdir()) == ["p"]  # nothing written, not even the lock


@pytest.mark.parametrize(
    ("contents", "message"),
    [("not toml [", "not TOML"), ("[dependencies]\n", "not a Cargo manifest")],
)
def test_malformed_manifests_are_refused(tmp_path: Path, contents: str, message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        cook(_recipe(contents=contents), tmp_path, CookOptions(no_build=True))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{}",
        '{"skeleton": {"manifests": {}}}',
        '{"skeleton": {"manifests": [{"relative_path": 1, "contents": ""}]}}',
        '{"skeleton": {"manifests": [], "lock_file": 3}}',
        '{"skeleton": {"manifests": [], "rust_toolchain_file": ["Yaml", ""]}}',
        '{"skeleton": {"manifests": [{"relative_path": "Cargo.toml", "contents": "",'
        ' "targets": [{"path": "a.rs", "kind": "Dylib", "name": "x"}]}]}}',
        "[" * 100_000,
    ],
)
def test_wrong_types_are_clean_errors(text: str) -> None:
    with pytest.raises(RecipeError):
        Recipe.from_json(text)


def test_cli_reports_one_line_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipe.json").write_text('{"skeleton": {"manifests": [{"relative_path": "/x"}]}}')
    assert chef_main(["cook"]) == 3
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("galley-chef: error:")
    assert chef_main(["chef", "cook", "--recipe-path", "missing.json"]) == 3
    assert chef_main(["prepare"]) == 4  # no Cargo.toml here


# --- real cargo -------------------------------------------------------------------------------
