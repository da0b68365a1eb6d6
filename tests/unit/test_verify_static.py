"""verify's static check for a musl arch, on binaries gcc makes here: no interpreter and no
NEEDED library, and the arch's ELF machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from galley import dist
from galley.arch import Libc
from galley.arch import get as arch
from galley.verify import Report, check_artifacts
from helpers import require

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'


def shipped(tmp_path: Path, compiler: str, *flags: str) -> Path:
    """dist/<arch> holding bin/hello, compiled with `flags`."""
    found = shutil.which(compiler)
    require(found is not None, compiler)
    assert found
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "hello.c"
    source.write_text(HELLO_C, encoding="utf-8")
    binary = tmp_path / "hello"
    subprocess.run([found, *flags, str(source), "-o", str(binary)], check=True)
    arch_dir = tmp_path / "dist" / "amd64"
    dist.publish(arch_dir, {"bin/hello": binary}, {"target": "x86_64-unknown-linux-musl"}, 0)
    return arch_dir


def problems(arch_dir: Path, name: str = "amd64") -> list[str]:
    report = Report()
    check_artifacts(arch_dir, arch(name), Libc.MUSL, None, report)
    return report.problems


@pytest.mark.parametrize("flag", ["-static", "-static-pie"])
def test_a_static_binary_passes(tmp_path: Path, flag: str) -> None:
    assert problems(shipped(tmp_path, "gcc", flag)) == []


def test_an_interpreter_or_a_needed_library_is_not_static(tmp_path: Path) -> None:
    """A dynamic binary names its interpreter and libc.so.6; an ELF with no interpreter that
    still needs libc.so.6 (which `is_static` alone let pass) fails too."""
    dynamic = problems(shipped(tmp_path / "dynamic", "gcc"))
    assert dynamic == [
        "amd64: bin/hello: musl build is not static (interpreter /lib64/ld-linux-x86-64.so.2; "
        "NEEDED libc.so.6)"
    ]
    no_interpreter = problems(shipped(tmp_path / "shared", "gcc", "-shared", "-fPIC"))
    assert no_interpreter == ["amd64: bin/hello: musl build is not static (NEEDED libc.so.6)"]


def test_another_machine_is_named(tmp_path: Path) -> None:
    arch_dir = shipped(tmp_path, "aarch64-linux-gnu-gcc", "-static")
    assert problems(arch_dir) == ["amd64: bin/hello: ELF machine aarch64 (64-bit, LE) is not amd64"]
    assert problems(arch_dir, "arm64") == []
