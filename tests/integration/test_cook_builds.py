"""galley-chef cooks that compile for real with cargo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from galley.chef import CookOptions, cook, prepare
from helpers import EXAMPLE, cargo_artifacts, compiled, write_tree

TOY = {
    "Cargo.toml": '[workspace]\nmembers = ["app", "lib1"]\nresolver = "2"\n',
    "app/Cargo.toml": (
        '[package]\nname = "app"\nversion = "1.2.3"\nedition = "2021"\n'
        '[dependencies]\nlib1 = { path = "../lib1", version = "1.2.3" }\nanyhow = "1"\n'
    ),
    "app/src/main.rs": 'fn main() { println!("real app {}", lib1::answer()); }\n',
    "lib1/Cargo.toml": (
        '[package]\nname = "lib1"\nversion = "1.2.3"\nedition = "2021"\n'
        '[dependencies]\nlog = "0.4"\n'
    ),
    "lib1/build.rs": (
        "fn main() {\n"
        '    let out = std::env::var("OUT_DIR").unwrap();\n'
        '    std::fs::write(format!("{out}/gen.rs"), "pub const GEN: u32 = 1;").unwrap();\n'
        "}\n"
    ),
    "lib1/src/lib.rs": (
        'include!(concat!(env!("OUT_DIR"), "/gen.rs"));\n'
        "pub fn answer() -> u32 { GEN + 41 + log::max_level() as u32 * 0 }\n"
    ),
}


def _copy_with_old_mtimes(source: Path, destination: Path) -> None:
    """What Docker's COPY of a checkout does: the real sources arrive with older mtimes."""
    for path in source.rglob("*"):
        if "target" in path.relative_to(source).parts:
            continue
        target = destination / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            os.utime(target, (946684800, 946684800))  # 2000-01-01


def _lock(cargo: str, root: Path) -> None:
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=root, check=True)


@pytest.mark.cargo
def test_real_build_after_cook_rebuilds_local_crates_despite_old_mtimes(
    cargo: str, tmp_path: Path
) -> None:
    source = write_tree(tmp_path / "src", TOY)
    _lock(cargo, source)
    cook_dir = tmp_path / "cook"
    result = cook(prepare(source), cook_dir, CookOptions(release=True, offline=True))
    assert (cook_dir / "target" / "release" / "deps").is_dir()
    assert sorted(result.dummies)[0] == "release/app"
    assert [re.sub("-[0-9a-f]{16}$", "-H", p) for p in sorted(result.dummies)] == [
        "release/app",
        "release/deps/app-H",
    ]
    assert not (cook_dir / "target" / "release" / "app").exists()  # no dummy left to ship
    _copy_with_old_mtimes(source, cook_dir)
    local, external = compiled(cargo_artifacts(cargo, cook_dir, "--release", "--offline"))
    assert external == set()
    assert local == {"app", "lib1"}
    output = subprocess.run(
        [cook_dir / "target" / "release" / "app"], capture_output=True, text=True, check=True
    )
    assert output.stdout == "real app 42\n"


@pytest.mark.cargo
def test_cook_with_target_dir_and_target(cargo: str, tmp_path: Path) -> None:
    source = write_tree(tmp_path / "src", TOY)
    _lock(cargo, source)
    host = (
        subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True)
        .stdout.split("host: ")[1]
        .split()[0]
    )
    target_dir = tmp_path / "custom-target"
    cook(
        prepare(source),
        tmp_path / "cook",
        CookOptions(targets=(host,), target_dir=target_dir, offline=True, locked=True),
    )
    deps = target_dir / host / "debug" / "deps"
    assert any(p.name.startswith("libanyhow-") for p in deps.iterdir())
    assert not any(p.name.startswith(("liblib1-", "app-")) for p in deps.iterdir())
    _copy_with_old_mtimes(source, tmp_path / "cook")
    local, external = compiled(
        cargo_artifacts(
            cargo, tmp_path / "cook", "--offline", "--target", host, "--target-dir", str(target_dir)
        )
    )
    assert external == set() and local == {"app", "lib1"}


@pytest.mark.cargo
@pytest.mark.slow
def test_example_workspace_end_to_end(cargo: str, tmp_path: Path) -> None:
    """The acceptance scenario: cook the example, copy the real sources with older mtimes,
    build --release, run the binary; no external crate is recompiled after the cook."""
    cook_dir = tmp_path / "cook"
    recipe = prepare(EXAMPLE)
    cook(recipe, cook_dir, CookOptions(release=True, offline=True, locked=True))
    _copy_with_old_mtimes(EXAMPLE, cook_dir)
    local, external = compiled(
        cargo_artifacts(cargo, cook_dir, "--release", "--offline", "--locked")
    )
    assert external == set(), f"external crates recompiled after the cook: {external}"
    assert {"agent", "protocols", "rustjail", "agent-macros"} <= local
    binary = cook_dir / "target" / "release" / "kata-agent"
    output = subprocess.run([binary], capture_output=True, text=True, check=True).stdout
    assert "kata-agent 3.2.1" in output and "ready" in output
