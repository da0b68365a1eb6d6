"""Base and builder images, built offline: debootstrap → `docker import` → apt install.

Tags are digests of their inputs (script/Dockerfile text, base image ID, build args), so work
already done is skipped and a changed input gives a new image (Kata's stale-toolchain bug).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from galley import arch as arches
from galley import shell
from galley.arch import Arch
from galley.backends.docker import assets, releases
from galley.backends.docker.client import Docker
from galley.errors import CommandFailed, ConfigError, DockerError
from galley.options import Settings

#: The arches Debian bookworm has a port for (riscv64 is official only from trixie on).
BOOKWORM_ARCHES = ("amd64", "arm64", "s390x", "ppc64le")
#: The arches whose cross std bookworm ships for an amd64 builder.
CROSS_ARCHES = ("arm64", "s390x", "ppc64le")


@dataclass(frozen=True)
class Builder:
    """A builder image: tag, ID, the platform it runs as, and the mode it serves."""

    tag: str
    image_id: str
    platform: str
    mode: str


def base_image(docker: Docker, arch: Arch, settings: Settings) -> tuple[str, str]:
    """`galley-base:bookworm-<debian arch>` and its ID, debootstrapped from the host's apt
    mirror if absent."""
    tag = f"galley-base:bookworm-{arch.debian_arch}"
    image_id = docker.image_id(tag)
    if image_id:
        return tag, image_id
    env: dict[str, str | None] = {"DOCKER": docker.program}
    if settings.mirror:
        env["MIRROR"] = settings.mirror
    scripts = assets.write(_asset_dir(settings), "build-base.sh", "set-image-arch.sh")
    shell.run(["bash", str(scripts / "build-base.sh"), arch.debian_arch, tag], env=env)
    return tag, _built_id(docker, tag)


def builder_image(docker: Docker, settings: Settings, arch: Arch, mode: str) -> Builder:
    """The configured builder image, or one built here for `arch` in `mode`."""
    configured = settings.builder_image
    if configured and (settings.packages or settings.target_packages):
        raise ConfigError(
            f"docker.packages and docker.target_packages go into the builder images galley "
            f"builds; install them in {configured} instead"
        )
    if configured:
        image_id = docker.image_id(configured)
        if image_id is None:
            try:
                docker.pull(configured)
            except CommandFailed as exc:
                raise DockerError(
                    f"builder image {configured} is not present and cannot be pulled ({exc})"
                ) from None
            image_id = docker.image_id(configured)
        if image_id is None:
            raise DockerError(f"builder image {configured} is not available")
        platform = arch.docker_platform if mode == "emulate" else arches.host().docker_platform
        return Builder(configured, image_id, platform, mode)
    base_arch = _base_arch(arch, mode)
    release = rust_release(settings, arch, mode)
    base, base_id = base_image(docker, base_arch, settings)
    cross = [arch] if arch != base_arch else []
    args = {
        "BASE": base,
        "CROSS_DEBIAN_ARCHES": " ".join(a.debian_arch for a in cross),
        "RUST_WEB_VERSION": release,
    }
    extra = _extra_packages(settings, cross)
    if extra:  # only then: the default images keep their tags
        args["EXTRA_PACKAGES"] = " ".join(extra)
    texts = [assets.text("Dockerfile.builder"), assets.text("multiarch-pins.sh")]
    digest = hashlib.sha256(json.dumps([*texts, base_id, args]).encode()).hexdigest()
    tag = f"galley-builder:{mode}-{arch.name}-rust{release}-{digest[:12]}"
    image_id = docker.image_id(tag)
    if image_id is None:
        context = assets.write(_asset_dir(settings), "Dockerfile.builder", "multiarch-pins.sh")
        docker.build(
            context, context / "Dockerfile.builder", tag=tag, platform=base_arch.docker_platform,
            build_args=args,
        )  # fmt: skip
        image_id = _built_id(docker, tag)
    return Builder(tag, image_id, base_arch.docker_platform, mode)


def rust_release(settings: Settings, arch: Arch, mode: str) -> str:
    """The Rust release of the builder galley builds for `arch` in `mode`: the configured one,
    else the newest Debian has for it."""
    if settings.rust:
        return settings.rust
    found = offered(settings, arch, mode)
    if not found:
        raise DockerError(
            f"{arch.name}: Debian {releases.SUITE} has no rustc-web (with its std for "
            f"{arch.name}) for a {mode} builder; set builder_image"
        )
    return found[0]


def offered(settings: Settings, arch: Arch, mode: str) -> list[str]:
    """The Rust releases, newest first, Debian has for a builder of `arch` in `mode`."""
    base_arch = _base_arch(arch, mode)
    cross = arch.debian_arch if arch != base_arch else None
    return releases.available(settings.cache_dir, settings.mirror, base_arch.debian_arch, cross)


def _extra_packages(settings: Settings, cross: list[Arch]) -> list[str]:
    """`packages` as named, `target_packages` for the image's own arch and each cross arch."""
    targets = settings.target_packages
    qualified = [f"{name}:{a.debian_arch}" for a in cross for name in targets]
    return [*settings.packages, *targets, *qualified]


def _asset_dir(settings: Settings) -> Path:
    """Where the assets that base and builder image builds read are written (their context)."""
    return settings.cache_dir / "docker" / "assets"


def _built_id(docker: Docker, tag: str) -> str:
    image_id = docker.image_id(tag)
    if image_id is None:
        raise DockerError(f"{tag}: built, but the daemon does not have it")
    return image_id


def _base_arch(arch: Arch, mode: str) -> Arch:
    """The arch of the builder image galley builds for `arch` in `mode`."""
    if arch.name not in BOOKWORM_ARCHES:
        raise ConfigError(
            f"{arch.name}: Debian bookworm has no {arch.debian_arch} port to build a builder "
            f"image from; set docker.builder_image (or --builder-image) to a {arch.name} image "
            "with Rust and use --mode emulate"
        )
    host = arches.host()
    if mode == "emulate" or arch == host:
        return arch
    if arch.name not in CROSS_ARCHES:
        raise ConfigError(
            f"{arch.name}: no cross std for it in Debian bookworm's builder; use --mode emulate "
            "or set docker.builder_image"
        )
    return host
