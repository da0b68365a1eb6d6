"""Base and builder images, built offline: debootstrap → `docker import` → apt install.

A builder is layered: a common image per arch and Rust release (rustc, cargo, the native std,
gcc, `packages`), and on top of it, for a cross arch or target packages, a target image (that
arch's std, cross gcc and libc, `target_packages`); for a musl target (amd64, arm64), a musl
image on top of the arch's (musl, rustc's self-contained link objects, and the std, built there
from Debian's rust-web-src). Tags are digests of their inputs (the
Dockerfiles and scripts, arch, release, packages), so work already done is skipped and a changed
input gives a new image (Kata's stale-toolchain bug). The base image's ID is not an input: the
same inputs name the same builder on every machine, and with a registry a machine that lacks a
builder pulls it by that tag (`<registry>/<repository>:builder-<tag>`) before building one;
`push` publishes what it built.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from galley import arch as arches
from galley import shell
from galley.arch import Arch, Libc
from galley.backends.docker import assets, releases
from galley.backends.docker.client import Docker, Image, registry_has
from galley.errors import CommandFailed, ConfigError, DockerError
from galley.options import Settings

#: The arches Debian bookworm has a port for (riscv64 is official only from trixie on).
BOOKWORM_ARCHES = ("amd64", "arm64", "s390x", "ppc64le")
#: The arches whose cross std bookworm ships for an amd64 builder.
CROSS_ARCHES = ("arm64", "s390x", "ppc64le")
#: Beside a std galley built from source (<sysroot>/lib/rustlib/<target>/lib): how it was built.
STD_SOURCE = "galley-std.txt"
REPOSITORY = "galley-builder"


@dataclass(frozen=True)
class Builder:
    """A builder image: tag, ID, the platform it runs as, the mode it serves, its size in bytes
    and whether it was here (`hit`), pulled or built."""

    tag: str
    image_id: str
    platform: str
    mode: str
    size: int = 0
    status: str = "hit"


@dataclass(frozen=True)
class Layer:
    """A builder image galley builds: its tag, Dockerfile, build args, the layer below it (None:
    the base image), the digest of its inputs and the other assets its build context holds."""

    tag: str
    dockerfile: str
    args: dict[str, str]
    below: Layer | None
    digest: str
    files: tuple[str, ...] = ()


def base_image(docker: Docker, arch: Arch, settings: Settings) -> tuple[str, str]:
    """`galley-base:bookworm-<debian arch>-<digest of the scripts>` and its ID, debootstrapped
    from the host's apt mirror if absent."""
    tag = base_tag(arch)
    image_id = docker.image_id(tag)
    if image_id:
        return tag, image_id
    env: dict[str, str | None] = {"DOCKER": docker.program}
    if settings.mirror:
        env["MIRROR"] = settings.mirror
    scripts = assets.write(_asset_dir(settings), "build-base.sh", "set-image-arch.sh")
    shell.run(["bash", str(scripts / "build-base.sh"), arch.debian_arch, tag], env=env)
    return tag, _built(docker, tag).id


def base_tag(arch: Arch) -> str:
    scripts = [assets.text("build-base.sh"), assets.text("set-image-arch.sh")]
    return f"galley-base:bookworm-{arch.debian_arch}-{_digest(scripts)[:8]}"


def builder_image(docker: Docker, settings: Settings, arch: Arch, mode: str) -> Builder:
    """The configured builder image, or one built here for `arch` in `mode`."""
    configured = settings.builder_image
    if configured and (settings.packages or settings.target_packages):
        raise ConfigError(
            f"docker.packages and docker.target_packages go into the builder images galley "
            f"builds; install them in {configured} instead"
        )
    if configured:
        image = docker.image(configured)
        if image is None:
            try:
                docker.pull(configured)
            except CommandFailed as exc:
                raise DockerError(
                    f"builder image {configured} is not present and cannot be pulled ({exc})"
                ) from None
            image = docker.image(configured)
        if image is None:
            raise DockerError(f"builder image {configured} is not available")
        platform = arch.docker_platform if mode == "emulate" else arches.host().docker_platform
        return Builder(configured, image.id, platform, mode, image.size)
    base_arch = _base_arch(arch, mode)
    top = layers(settings, arch, base_arch, rust_release(settings, arch, mode))
    image, status = _ensure(docker, settings, top, base_arch)
    return Builder(top.tag, image.id, base_arch.docker_platform, mode, image.size, status)


def layers(settings: Settings, arch: Arch, base_arch: Arch, release: str) -> Layer:
    """The top layer of the builder for `arch` on a `base_arch` image with Rust `release`: the
    arch's, with a musl layer on top for a musl target galley builds std for."""
    below = _arch_layers(settings, arch, base_arch, release)
    if settings.libc(arch) != Libc.MUSL or arch.name not in arches.MUSL_ARCHES:
        return below
    args = {
        "BELOW": below.tag, "TARGET_ARCH": arch.debian_arch,
        "RUST_TARGET": arch.triple(Libc.MUSL), "GNU_TRIPLE": arch.gcc_triple,
    }  # fmt: skip
    files = ("musl-target.sh", "musl-glibc-compat.c")
    texts = [assets.text(name) for name in ("Dockerfile.builder-musl", *files)]
    digest = _digest([below.digest, *texts, args])
    tag = f"{REPOSITORY}:{base_arch.name}-{arch.name}-musl-rust{release}-{digest[:12]}"
    return Layer(tag, "Dockerfile.builder-musl", args, below, digest, files)


def _arch_layers(settings: Settings, arch: Arch, base_arch: Arch, release: str) -> Layer:
    """The top layer of the builder for `arch`'s gnu target (common, or target on it)."""
    common_args = {"BASE": base_tag(base_arch), "RUST_WEB_VERSION": release}
    if settings.packages:  # only then: the default images keep their tags
        common_args["EXTRA_PACKAGES"] = " ".join(settings.packages)
    inputs = [assets.text("Dockerfile.builder"), common_args]  # the base tag names its scripts
    digest = _digest(inputs)
    common = Layer(
        f"{REPOSITORY}:{base_arch.name}-rust{release}-{digest[:12]}", "Dockerfile.builder",
        common_args, None, digest,
    )  # fmt: skip
    if arch == base_arch and not settings.target_packages:
        return common
    args = {"COMMON": common.tag, "TARGET_ARCH": arch.debian_arch, "GNU_TRIPLE": arch.gcc_triple}
    if settings.target_packages:
        args["TARGET_PACKAGES"] = " ".join(
            f"{n}:{arch.debian_arch}" for n in settings.target_packages
        )
    texts = [assets.text("Dockerfile.builder-target"), assets.text("multiarch-pins.sh")]
    digest = _digest([common.digest, *texts, args])
    tag = f"{REPOSITORY}:{base_arch.name}-{arch.name}-rust{release}-{digest[:12]}"
    return Layer(tag, "Dockerfile.builder-target", args, common, digest, ("multiarch-pins.sh",))


def _digest(inputs: Sequence[object]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _ensure(docker: Docker, settings: Settings, layer: Layer, base_arch: Arch) -> tuple[Image, str]:
    """(the image, `hit`, `pulled` or `built`) of `layer`: here, else pulled from the registry
    by its input-digest tag, else built here (with the layers below, each found the same way).
    With `push`, one built here, or one the registry lacks, is pushed."""
    remote = remote_ref(settings, layer.tag)
    image, status = docker.image(layer.tag), "hit"
    if image is None and remote:
        image, status = _pull(docker, layer, remote), "pulled"
    if image is None:
        if layer.below is None:
            base_image(docker, base_arch, settings)
        else:
            _ensure(docker, settings, layer.below, base_arch)
        context = assets.write(_asset_dir(settings), layer.dockerfile, *layer.files)
        labels = {"galley.kind": "builder", "galley.builder-inputs": layer.digest}
        docker.build(
            context, context / layer.dockerfile, tag=layer.tag,
            platform=base_arch.docker_platform, build_args=layer.args, labels=labels,
        )  # fmt: skip
        image, status = _built(docker, layer.tag), "built"
    if settings.push and remote and (status == "built" or not registry_has(remote)):
        docker.tag(layer.tag, remote)
        try:
            docker.push(remote)
        except CommandFailed as exc:
            raise DockerError(
                f"push of {remote} failed ({exc}); the builder image {layer.tag} is kept"
            ) from None
    return image, status


def remote_ref(settings: Settings, tag: str) -> str | None:
    """`<registry>/<repository>:builder-<tag>` for a builder `galley-builder:<tag>`."""
    if not settings.registry:
        return None
    return f"{settings.registry}/{settings.repository}:builder-{tag.partition(':')[2]}"


def _pull(docker: Docker, layer: Layer, remote: str) -> Image | None:
    """The image `remote`, pulled and tagged as `layer`, when the registry has it and it
    is that builder (its `galley.builder-inputs` label is the layer's digest); else None, with
    a warning for an image that is not it."""
    if not registry_has(remote):
        return None
    docker.pull(remote)
    labels = docker.labels(remote)
    if (
        labels.get("galley.kind") != "builder"
        or labels.get("galley.builder-inputs") != layer.digest
    ):
        print(
            f"galley: {remote} is not the builder {layer.tag} (its galley.builder-inputs is "
            f"{labels.get('galley.builder-inputs', 'none')[:12]}); not used",
            file=sys.stderr,
        )
        return None
    docker.tag(remote, layer.tag)
    return docker.image(layer.tag)


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


def _asset_dir(settings: Settings) -> Path:
    """Where the assets that base and builder image builds read are written (their context)."""
    return settings.cache_dir / "docker" / "assets"


def _built(docker: Docker, tag: str) -> Image:
    image = docker.image(tag)
    if image is None:
        raise DockerError(f"{tag}: built, but the daemon does not have it")
    return image


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
