"""Cache keys, plans and the choice of backend, as functions of their inputs.

A plan is made from the settings, a recipe and what the toolchain said of itself: here that
is a `Toolchain` value written by hand (the `rustc -vV` text of a real release, a sysroot dir
with one std), so no Rust is needed to test what the key is made of.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from galley import backends, cachekey, config
from galley.arch import get as arch
from galley.cachekey import Toolchain
from galley.chef.recipe import Recipe
from galley.errors import ToolNotFound
from galley.options import Settings
from galley.plan import make_plan
from helpers import APP_RECIPE as RECIPE
from helpers import RUSTC


def settings(tmp_path: Path, text: str = "") -> Settings:
    import tomllib

    return config.from_table(tomllib.loads(text), tmp_path, "galley.toml").replace(
        cache_dir=tmp_path / "cache"
    )


def key(tmp_path: Path, toolchain: Toolchain, text: str = "", recipe: Recipe = RECIPE) -> str:
    return make_plan(settings(tmp_path, text), arch("amd64"), recipe, toolchain).key


def test_the_key_is_stable_and_names_its_inputs(tmp_path: Path, toolchain: Toolchain) -> None:
    plan = make_plan(settings(tmp_path), arch("amd64"), RECIPE, toolchain)
    assert plan.key == key(tmp_path, toolchain)
    assert plan.key == cachekey.cache_key(plan.key_manifest)
    manifest = plan.key_manifest
    assert manifest["recipe"] == RECIPE.digest() and manifest["rustc"] == RUSTC
    assert (manifest["target"], manifest["libc"], manifest["profile"]) == (
        "x86_64-unknown-linux-gnu", "gnu", "release",
    )  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ['profile = "dev"\n', 'features = ["x"]\n', "no_default_features = true\n",
     'chef = "cargo-chef"\n', 'bin = "app"\n'],
)  # fmt: skip
def test_each_input_changes_the_key(tmp_path: Path, toolchain: Toolchain, text: str) -> None:
    assert key(tmp_path, toolchain, text) != key(tmp_path, toolchain)


def test_another_rust_or_lockfile_changes_the_key(tmp_path: Path, toolchain: Toolchain) -> None:
    other_rust = toolchain.__class__(RUSTC.replace("1.95.0", "1.96.0"), "cargo", toolchain.sysroot)
    assert key(tmp_path, other_rust) != key(tmp_path, toolchain)
    bumped = RECIPE._replace(lock_file='version = 4\n[[package]]\nname = "log"\n')
    assert key(tmp_path, toolchain, recipe=bumped) != key(tmp_path, toolchain)


def test_the_environment_that_changes_the_bits_is_in_the_key(
    tmp_path: Path, toolchain: Toolchain, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = key(tmp_path, toolchain)
    monkeypatch.setenv("CARGO_PROFILE_RELEASE_LTO", "true")
    assert key(tmp_path, toolchain) != before
    monkeypatch.delenv("CARGO_PROFILE_RELEASE_LTO")
    monkeypatch.setenv("RUSTFLAGS", "-C target-cpu=native")
    assert key(tmp_path, toolchain) != before


def test_explain_names_what_changed(tmp_path: Path, toolchain: Toolchain) -> None:
    old = make_plan(settings(tmp_path), arch("amd64"), RECIPE, toolchain).key_manifest
    new = make_plan(settings(tmp_path, 'profile = "dev"\n'), arch("amd64"), RECIPE, toolchain)
    assert cachekey.explain(old, new.key_manifest) == ['profile: "release" -> "dev"']
    assert cachekey.explain(old, old) == ["same inputs as the previous key"]
    assert cachekey.explain(None, old) == ["no previous key for this arch"]


def test_a_delta_seed_shares_every_input_but_the_dependencies(
    tmp_path: Path, toolchain: Toolchain
) -> None:
    bumped = RECIPE._replace(lock_file='version = 4\n[[package]]\nname = "log"\n')
    one = make_plan(settings(tmp_path), arch("amd64"), RECIPE, toolchain).key_manifest
    two = make_plan(settings(tmp_path), arch("amd64"), bumped, toolchain).key_manifest
    assert cachekey.seed_inputs(one) == cachekey.seed_inputs(two)


def test_a_cross_arch_gets_its_cross_linker(tmp_path: Path, toolchain: Toolchain) -> None:
    plan = make_plan(settings(tmp_path), arch("arm64"), RECIPE, toolchain)
    assert plan.triple == "aarch64-unknown-linux-gnu" and plan.linker == "aarch64-linux-gnu-gcc"
    own = RECIPE._replace(
        config_file='[target.aarch64-unknown-linux-gnu]\nlinker = "clang"\n'
    )  # the workspace's cargo config names one: cargo's choice stands
    assert make_plan(settings(tmp_path), arch("arm64"), own, toolchain).linker is None


def test_an_arch_without_std_is_one_error(tmp_path: Path, toolchain: Toolchain) -> None:
    with pytest.raises(ToolNotFound, match="has no std for s390x-unknown-linux-gnu"):
        make_plan(settings(tmp_path), arch("s390x"), RECIPE, toolchain)
    musl = settings(tmp_path, '[arch.amd64]\nlibc = "musl"\n')
    with pytest.raises(
        ToolNotFound,
        match=r"x86_64-unknown-linux-musl; install it \(rustup "
        r"target add x86_64-unknown-linux-musl\) or use --backend docker",
    ):
        make_plan(musl, arch("amd64"), RECIPE, toolchain)  # fmt: skip


def test_the_hosts_std_needs_no_sysroot(toolchain: Toolchain) -> None:
    """A toolchain has its host's std: the sysroot is asked only for another target's."""
    probed = dataclasses.replace(toolchain, sysroot=None)
    assert probed.host == "x86_64-unknown-linux-gnu"
    assert probed.has_std("x86_64-unknown-linux-gnu")
    assert not probed.needs_sysroot(["x86_64-unknown-linux-gnu"])
    assert probed.needs_sysroot(["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"])
    with pytest.raises(ValueError, match="without the sysroot"):
        probed.has_std("aarch64-unknown-linux-gnu")
    assert not toolchain.needs_sysroot(["aarch64-unknown-linux-gnu"])  # asked already
    assert toolchain.has_std("aarch64-unknown-linux-gnu")


def test_the_configured_backend_builds_every_arch(tmp_path: Path) -> None:
    for name in ("local", "docker"):
        chosen = settings(tmp_path, f'backend = "{name}"\n')
        [(backend, group, arches)] = backends.assign(chosen, chosen.arch_list(["amd64", "arm64"]))
        assert backend.name == name and group.backend == name
        assert [a.name for a in arches] == ["amd64", "arm64"]


def test_auto_without_a_host_rust_builds_every_arch_in_docker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = settings(tmp_path, 'cargo = "/nonexistent/cargo"\n').replace(workspace=tmp_path)
    [(backend, group, arches)] = backends.assign(chosen, chosen.arch_list(["amd64"]))
    assert (backend.name, group.backend, [a.name for a in arches]) == (
        "docker",
        "docker",
        ["amd64"],
    )
    assert "amd64:" in capsys.readouterr().err


def test_a_std_galley_built_is_a_key_input(tmp_path: Path, toolchain: Toolchain) -> None:
    """A musl std that galley's builder built from rust-web-src: how it was built (release,
    crates, settings, musl and libunwind versions) is in the key, under `std_source`; a std galley
    did not build adds nothing (gnu keys stay as they were)."""
    musl = "x86_64-unknown-linux-musl"
    (toolchain.sysroot / "lib" / "rustlib" / musl / "lib").mkdir(parents=True)
    text = '[arch.amd64]\nlibc = "musl"\n'
    built = "rust-web-src 1.96.0: cargo -Zbuild-std=std,panic_abort,test;musl-dev:amd64 1.2.3-1"
    with_std = dataclasses.replace(toolchain, std_sources=((musl, built),))
    plan = make_plan(settings(tmp_path, text), arch("amd64"), RECIPE, with_std)
    assert plan.triple == musl and plan.key_manifest["std_source"] == built
    other = dataclasses.replace(toolchain, std_sources=((musl, built.replace("1.2.3", "1.2.4")),))
    assert key(tmp_path, other, text) != plan.key != key(tmp_path, toolchain, text)
    assert (
        "std_source"
        not in make_plan(settings(tmp_path), arch("amd64"), RECIPE, with_std).key_manifest
    )
