"""What Rust a workspace asks for (rust-version, toolchain file) and the `rust` option."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from galley import config
from galley.chef.recipe import Manifest, Recipe
from galley.errors import ConfigError
from galley.toolchain_file import Requirement, meets, required_release

KATA = Path(__file__).resolve().parents[1] / "corpus" / "kata-containers+kata-containers.tar.gz"
TOP = "kata-containers+kata-containers/"


def kata_manifests(*paths: str) -> tuple[Manifest, ...]:
    """Kata's real manifests at `paths` (relative to its repository) from the corpus."""
    with tarfile.open(KATA) as archive:
        return tuple(
            Manifest(path, archive.extractfile(TOP + path).read().decode())  # type: ignore[union-attr]
            for path in paths
        )


def test_kata_asks_for_its_workspace_rust_version() -> None:
    """Kata's root manifest declares `[workspace.package] rust-version = "1.95"`; kata-deploy
    inherits it (`rust-version.workspace = true`), as cargo reads it."""
    root, deploy = kata_manifests("Cargo.toml", "tools/packaging/kata-deploy/binary/Cargo.toml")
    assert 'rust-version = "1.95"' in root.contents
    found = required_release(Recipe((root, deploy)))
    assert found == Requirement("1.95", "rust-version of package kata-deploy")
    # a package that does not inherit it asks nothing, as cargo does
    assert required_release(Recipe((root, Manifest("a/Cargo.toml", PLAIN)))) is None


PLAIN = '[package]\nname = "a"\nversion = "0.1.0"\n'


def test_the_newest_of_packages_and_toolchain_file_wins() -> None:
    own = Manifest("b/Cargo.toml", PLAIN.replace('"a"', '"b"') + 'rust-version = "1.99"\n')
    older = Manifest("c/Cargo.toml", PLAIN.replace('"a"', '"c"') + 'rust-version = "1.70.1"\n')
    assert required_release(Recipe((older, own))) == Requirement(
        "1.99", "rust-version of package b"
    )
    pinned = Recipe((older,), rust_toolchain_file=("Toml", '[toolchain]\nchannel = "1.80.0"\n'))
    assert required_release(pinned) == Requirement("1.80.0", "the toolchain file")
    channel = Recipe((older,), rust_toolchain_file=("Bare", "stable\n"))
    assert required_release(channel) == Requirement("1.70.1", "rust-version of package c")


def test_a_release_meets_what_is_asked_as_cargo_compares() -> None:
    assert meets("1.96.0", "1.95") and meets("1.95.0", "1.95") and meets("1.95.1", "1.95.1")
    assert not meets("1.85.0", "1.95") and not meets("1.95.0", "1.95.1")
    assert not meets("1.96.0", "1.100")


def test_the_rust_option() -> None:
    import tomllib

    table = tomllib.loads('rust = "1.96"\n')
    assert config.from_table(table, Path("/srv"), "galley.toml").rust == "1.96"
    assert config.from_table({}, Path("/srv"), "galley.toml").rust is None
    with pytest.raises(ConfigError, match=r'must be a Rust release like "1\.96"'):
        config.from_table({"rust": "stable"}, Path("/srv"), "galley.toml")
