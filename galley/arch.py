"""The architecture table: the single source for tasks, nox, the Makefile and the docs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from galley.errors import ConfigError


class Libc(StrEnum):
    GNU = "gnu"
    MUSL = "musl"


@dataclass(frozen=True)
class Arch:
    """One CPU architecture and every name other tools use for it."""

    name: str  # galley's name (Docker/Go style)
    aliases: tuple[str, ...]
    docker_platform: str
    debian_arch: str
    rust_arch: str  # first component of the Rust triple
    gcc_triple: str  # Debian's cross gcc prefix, e.g. aarch64-linux-gnu
    elf_machine: int  # e_machine
    elf_class: int  # 32 or 64
    little_endian: bool
    qemu: str  # qemu-<name>-static
    default_libc: Libc = Libc.GNU

    def triple(self, libc: Libc | str | None = None) -> str:
        """The Rust target triple for `libc` (default: the arch's default)."""
        return f"{self.rust_arch}-unknown-linux-{Libc(libc or self.default_libc).value}"

    @property
    def gcc(self) -> str:
        return f"{self.gcc_triple}-gcc"

    @property
    def glibc_loader_hint(self) -> str:
        return f"/usr/{self.gcc_triple}"


ARCHES: tuple[Arch, ...] = (
    Arch("amd64", ("x86_64", "x86-64", "x64"), "linux/amd64", "amd64", "x86_64",
         "x86_64-linux-gnu", 62, 64, True, "x86_64"),
    Arch("arm64", ("aarch64", "arm64v8"), "linux/arm64", "arm64", "aarch64",
         "aarch64-linux-gnu", 183, 64, True, "aarch64"),
    Arch("s390x", (), "linux/s390x", "s390x", "s390x",
         "s390x-linux-gnu", 22, 64, False, "s390x"),
    Arch("ppc64le", ("ppc64el", "powerpc64le"), "linux/ppc64le", "ppc64el", "powerpc64le",
         "powerpc64le-linux-gnu", 21, 64, True, "ppc64le"),
    Arch("riscv64", ("riscv64gc",), "linux/riscv64", "riscv64", "riscv64gc",
         "riscv64-linux-gnu", 243, 64, True, "riscv64"),
)  # fmt: skip

#: The arches whose musl std galley's docker builders build from Debian's rust-web-src (Kata
#: ships a musl agent for these; Debian has no musl cross gcc for the others).
MUSL_ARCHES = ("amd64", "arm64")

#: The arches CI builds by default (riscv64 is supported but, like Kata, not in the default set).
DEFAULT_MATRIX = ("amd64", "arm64", "s390x", "ppc64le")

_BY_NAME = {name: arch for arch in ARCHES for name in (arch.name, *arch.aliases)}


def names() -> list[str]:
    return [arch.name for arch in ARCHES]


def get(name: str) -> Arch:
    """Normalise a user-given name (`aarch64`, `linux/arm64`, `ppc64el`…) to an Arch."""
    key = name.strip().lower().removeprefix("linux/")
    try:
        return _BY_NAME[key]
    except KeyError:
        known = ", ".join(names())
        raise ConfigError(f"unknown arch {name!r} (known: {known}; aliases accepted)") from None


def host() -> Arch:
    """The machine's own architecture."""
    import platform

    return get(platform.machine())
