"""Which builder layers galley builds for an arch and libc (names and inputs only, no docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from galley import config
from galley.arch import Libc
from galley.arch import get as arch
from galley.backends.docker import images
from galley.backends.docker.images import Layer
from galley.options import Settings

AMD64 = arch("amd64")


def settings(tmp_path: Path, text: str = "") -> Settings:
    import tomllib

    return config.from_table(tomllib.loads(text), tmp_path, "galley.toml")


def stack(layer: Layer | None) -> list[str]:
    """The Dockerfiles of a builder, bottom up."""
    found = []
    while layer is not None:
        found.insert(0, layer.dockerfile)
        layer = layer.below
    return found


@pytest.mark.parametrize(
    ("name", "base", "text", "dockerfiles"),
    [
        ("amd64", "amd64", "", ["Dockerfile.builder", "Dockerfile.builder-musl"]),
        ("arm64", "amd64", "", [
            "Dockerfile.builder", "Dockerfile.builder-target", "Dockerfile.builder-musl",
        ]),
        ("arm64", "arm64", "", ["Dockerfile.builder", "Dockerfile.builder-musl"]),  # emulate
        ("amd64", "amd64", '[docker]\ntarget_packages = ["libseccomp-dev"]\n', [
            "Dockerfile.builder", "Dockerfile.builder-target", "Dockerfile.builder-musl",
        ]),
    ],
)  # fmt: skip
def test_a_musl_target_is_a_layer_on_its_arch_builder(
    tmp_path: Path, name: str, base: str, text: str, dockerfiles: list[str]
) -> None:
    """amd64 and arm64 musl: the musl layer (std built from rust-web-src, musl, the link
    objects) on top of the arch's gnu builder, which stays as it is (same tag, shared)."""
    gnu = settings(tmp_path, text)
    musl = gnu.replace(libc_choice=Libc.MUSL)
    top = images.layers(musl, arch(name), arch(base), "1.96")
    assert stack(top) == dockerfiles
    below = images.layers(gnu, arch(name), arch(base), "1.96")
    assert top.below == below and top.tag.startswith(f"galley-builder:{base}-{name}-musl-rust1.96-")
    assert top.args["RUST_TARGET"] == f"{arch(name).rust_arch}-unknown-linux-musl"
    assert top.files == ("musl-target.sh", "musl-glibc-compat.c")
    other = images.layers(musl.replace(rust="1.85"), arch(name), arch(base), "1.85")
    assert other.tag != top.tag and other.digest != top.digest


def test_no_musl_layer_where_galley_builds_no_musl_std(tmp_path: Path) -> None:
    """s390x musl: the s390x builder as for gnu (it has no musl std: the plan says so)."""
    musl = settings(tmp_path, '[arch.s390x]\nlibc = "musl"\n')
    top = images.layers(musl, arch("s390x"), AMD64, "1.85")
    assert stack(top) == ["Dockerfile.builder", "Dockerfile.builder-target"]
    assert top == images.layers(settings(tmp_path), arch("s390x"), AMD64, "1.85")
