"""Cache keys: sha256 of a canonical JSON *key manifest* of everything that changes the bits."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galley import FORMAT_VERSION, shell
from galley.errors import CommandFailed, ToolNotFound

#: Environment variables that change compiled bits, whatever the target.
GLOBAL_ENV = (
    "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS",
    "CC", "CFLAGS", "CXX", "CXXFLAGS", "AR", "RUSTC_BOOTSTRAP",
)  # fmt: skip
#: Prefix of cargo's profile settings from the environment (CARGO_PROFILE_RELEASE_LTO=true).
PROFILE_ENV_PREFIX = "CARGO_PROFILE_"


@dataclass(frozen=True)
class Toolchain:
    """What `rustc -vV` and `cargo -V` say, plus the sysroot (to find a target's std)."""

    rustc: str
    cargo: str
    sysroot: Path | None  # None: not asked (no target but the host's was wanted)
    rustc_argv: tuple[str, ...] = ("rustc",)  # runs this rustc (a path, or `docker run … rustc`)
    targets: frozenset[str] | None = None  # those with a std, when the sysroot is not on this fs
    #: (target, how its std was built) for each std galley built from source in a builder
    std_sources: tuple[tuple[str, str], ...] = ()

    @property
    def release(self) -> str:
        return self._field("release") or "unknown"

    @property
    def host(self) -> str | None:
        """The triple rustc runs on, whose std every toolchain has."""
        return self._field("host")

    def _field(self, name: str) -> str | None:
        for line in self.rustc.splitlines():
            if line.startswith(f"{name}:"):
                return line.split(":", 1)[1].strip()
        return None

    def std_source(self, triple: str) -> str | None:
        """How galley built the std for `triple` from source (None: a std it did not build)."""
        return dict(self.std_sources).get(triple)

    def needs_sysroot(self, triples: Iterable[str]) -> bool:
        """Whether `has_std` needs the sysroot for one of `triples`."""
        return (
            self.targets is None
            and self.sysroot is None
            and any(triple != self.host for triple in triples)
        )

    def has_std(self, triple: str) -> bool:
        if self.targets is not None:
            return triple in self.targets
        if triple == self.host:
            return True
        if self.sysroot is None:
            raise ValueError(f"has_std({triple!r}) without the sysroot: see needs_sysroot")
        return (self.sysroot / "lib" / "rustlib" / triple / "lib").is_dir()


def start_probe(
    cargo: str, cwd: Path, env: Mapping[str, str | None] | None = None
) -> Callable[[], Toolchain]:
    """Start asking the toolchain cargo would use in `cwd` (rustup honours a toolchain file
    there) for `rustc -vV` and `cargo -V`, and return at once (ToolNotFound when rustc or
    cargo is missing); the function returned waits for the answer (ToolNotFound when the
    toolchain does not give it)."""
    rustc = (env or {}).get("RUSTC") or os.environ.get("RUSTC") or _sibling_rustc(cargo)
    running = shell.start_captures([[rustc, "-vV"], [cargo, "-V"]], cwd=cwd, env=env)

    def answer() -> Toolchain:
        try:
            version, cargo_version = running.wait()
        except CommandFailed as exc:
            raise ToolNotFound(f"the Rust toolchain does not answer: {exc}") from None
        return Toolchain(version.strip(), cargo_version.strip(), None, (rustc,))

    return answer


def with_sysroot(
    toolchain: Toolchain, cwd: Path, env: Mapping[str, str | None] | None = None
) -> Toolchain:
    """`toolchain` with its sysroot, asked of its rustc in `cwd`."""
    try:
        sysroot = shell.capture([*toolchain.rustc_argv, "--print", "sysroot"], cwd=cwd, env=env)
    except CommandFailed as exc:
        raise ToolNotFound(f"the Rust toolchain does not answer: {exc}") from None
    return dataclasses.replace(toolchain, sysroot=Path(sysroot.strip()))


def _sibling_rustc(cargo: str) -> str:
    """`/usr/lib/x/bin/cargo` → `/usr/lib/x/bin/rustc` when it exists, else `rustc`."""
    if "/" in cargo:
        sibling = Path(cargo).with_name("rustc")
        if sibling.exists():
            return str(sibling)
    return "rustc"


def target_variable(triple: str, name: str) -> str:
    """cargo's per-target variable `CARGO_TARGET_<TRIPLE>_<NAME>` (`LINKER`, `RUNNER`, …): the
    triple upper-cased, `-` and `.` as `_`."""
    return f"CARGO_TARGET_{triple.upper().replace('-', '_').replace('.', '_')}_{name}"


def env_inputs(triple: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables that matter for `triple`, as set."""
    environ = os.environ if environ is None else environ
    lower = triple.replace("-", "_")
    names = [
        *GLOBAL_ENV,
        target_variable(triple, "RUSTFLAGS"),
        target_variable(triple, "LINKER"),
        f"CC_{triple}",
        f"CC_{lower}",
        f"CFLAGS_{triple}",
        f"CFLAGS_{lower}",
        f"CXX_{lower}",
        f"AR_{lower}",
    ]
    names += sorted(name for name in environ if name.startswith(PROFILE_ENV_PREFIX))
    return {name: environ[name] for name in names if name in environ}


def carried_into_images(name: str) -> bool:
    """Whether a key input variable is also set in docker cook and build steps: the profile
    settings, C flags and RUSTC_BOOTSTRAP mean the same there. Rustflags and the linker reach
    them otherwise; CC, CXX and AR name host programs, and the builder image sets its own."""
    return name.startswith((PROFILE_ENV_PREFIX, "CFLAGS", "CXXFLAGS", "RUSTC_BOOTSTRAP"))


def key_manifest(**inputs: Any) -> dict[str, Any]:
    """The key manifest: galley's format version plus the given inputs."""
    return {"galley_format": FORMAT_VERSION, **inputs}


def cache_key(manifest: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a key manifest."""
    return hashlib.sha256(canonical(manifest).encode()).hexdigest()


#: Key inputs in which a delta seed may differ: what the dependencies are. cargo recompiles
#: what changed (path patches by their sources' mtimes, which a cook always renews).
SEED_MAY_DIFFER = frozenset({"recipe", "patched_sources"})


def seed_inputs(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The key inputs a delta seed must share."""
    return {k: v for k, v in manifest.items() if k not in SEED_MAY_DIFFER}


def canonical(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def explain(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """One line per input that differs from the previous key manifest of the same arch."""
    if previous is None:
        return ["no previous key for this arch"]
    lines = []
    for name in sorted(set(previous) | set(current)):
        old, new = previous.get(name), current.get(name)
        if old != new:
            lines.append(f"{name}: {_short(old)} -> {_short(new)}")
    return lines or ["same inputs as the previous key"]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 72 else text[:69] + "..."
