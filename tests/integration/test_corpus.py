"""The recipe engine on ten real workspaces (tests/corpus/, manifests only), against cargo.

For each snapshot: `galley-chef prepare`; the recipe's members have exactly the packages and
targets `cargo metadata --no-deps` lists; then `galley-chef cook --no-build` into an empty dir,
where cargo must list the same members, targets and default members again.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from cargo_view import cargo_view, recipe_packages
from galley.chef import workspace
from galley.chef.recipe import Recipe
from helpers import REPO, require

pytestmark = pytest.mark.cargo

CORPUS = REPO / "tests" / "corpus"
SNAPSHOTS = sorted(path.name.removesuffix(".tar.gz") for path in CORPUS.glob("*.tar.gz"))


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(len(SNAPSHOTS) == 10, f"the ten corpus snapshots in {CORPUS}")
    root = tmp_path_factory.mktemp("corpus")
    for name in SNAPSHOTS:
        with tarfile.open(CORPUS / f"{name}.tar.gz") as archive:
            archive.extractall(root, filter="data")
    return root


def galley_chef(*args: str, cwd: Path) -> None:
    chef = Path(sys.executable).with_name("galley-chef")
    result = subprocess.run([str(chef), *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_prepare_and_cook_read_like_cargo(unpacked: Path, tmp_path: Path, name: str) -> None:
    root = unpacked / name
    real = cargo_view(root)
    galley_chef("prepare", "--recipe-path", str(tmp_path / "recipe.json"), cwd=root)
    recipe = Recipe.from_json((tmp_path / "recipe.json").read_text(encoding="utf-8"))
    members = workspace.load(root).members
    assert members == real.members
    packages = recipe_packages(recipe)
    assert {d: p for d, p in packages.items() if d in members} == real.packages
    cook = tmp_path / "cook"
    cook.mkdir()
    galley_chef("cook", "--no-build", "--recipe-path", str(tmp_path / "recipe.json"), cwd=cook)
    assert cargo_view(cook) == real
