"""elf: real binaries (host, static, cross), hand-built ELFs, readelf agreement, fuzzing."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galley.elf import (
    EM_AARCH64,
    EM_PPC64,
    EM_RISCV,
    EM_S390,
    EM_X86_64,
    ET_DYN,
    ET_EXEC,
    MACHINE_NAMES,
    ElfError,
    ElfInfo,
    glibc_version_tuple,
    is_elf,
    read_elf,
)
from galley.errors import GalleyError
from helpers import require

LS = Path("/bin/ls")
LS_BYTES = LS.read_bytes() if LS.is_file() else b""
HELLO_C = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- readelf as the reference --------------------------------------------------------------


@dataclass(frozen=True)
class Readelf:
    elf_class: int
    little_endian: bool
    interpreter: str | None
    needed: tuple[str, ...]
    glibc: frozenset[str]


def readelf(path: Path) -> Readelf:
    """What binutils' readelf says about `path` (header, interpreter, NEEDED, version needs)."""
    tool = shutil.which("readelf")
    require(tool is not None, "readelf (binutils)")
    assert tool
    argv = [tool, "--wide", "-h", "-l", "-d", "-V", str(path)]
    env = {**os.environ, "LC_ALL": "C"}
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    interp = re.search(r"\[Requesting program interpreter: (.+?)\]", out)
    needs = re.search(r"Version needs section.*?(?=^Version |\Z)", out, re.S | re.M)
    klass = re.search(r"Class:\s+ELF(\d+)", out)
    data = re.search(r"Data:\s+(.*)", out)
    assert klass and data, out
    return Readelf(
        elf_class=int(klass.group(1)),
        little_endian="little endian" in data.group(1),
        interpreter=interp.group(1) if interp else None,
        needed=tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)),
        glibc=frozenset(re.findall(r"Name: (GLIBC_\S+)", needs.group(0) if needs else "")),
    )


def assert_agrees_with_readelf(path: Path, info: ElfInfo) -> None:
    ref = readelf(path)
    assert (info.elf_class, info.little_endian) == (ref.elf_class, ref.little_endian)
    assert info.interpreter == ref.interpreter
    assert info.needed == ref.needed
    assert set(info.glibc_versions) == ref.glibc
    numbered = [v for v in ref.glibc if glibc_version_tuple(v)]
    assert info.max_glibc == max(numbered, key=glibc_version_tuple, default=None)


def compile_c(compiler: str, out: Path, *flags: str) -> Path:
    found = shutil.which(compiler)
    require(found is not None, compiler)
    assert found
    source = out.with_suffix(".c")
    source.write_text(HELLO_C, encoding="utf-8")
    result = subprocess.run([found, *flags, str(source), "-o", str(out)], capture_output=True)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    return out


def parse(path: Path) -> ElfInfo:
    info = read_elf(path)
    assert info is not None
    return info


# --- hand-built ELF files (any class / endianness, with or without section headers) ----------

STRINGS = b"\0libfoo.so.1\0libc.so.6\0GLIBC_2.0\0GLIBC_2.34\0GLIBC_PRIVATE\0GLIBC_2.4\0"
VERSIONS = ("GLIBC_2.0", "GLIBC_2.34", "GLIBC_PRIVATE", "GLIBC_2.4")
INTERP = b"/lib/ld-test.so.1\0"
SHSTRTAB = b"\0.dynstr\0.dynamic\0.gnu.version_r\0.shstrtab\0"
BASE = 0x10000


def sidx(table: bytes, name: str) -> int:
    return table.index(b"\0" + name.encode() + b"\0") + 1


def align(n: int, to: int = 8) -> int:
    return (n + to - 1) // to * to


def build_elf(bits: int, little: bool, machine: int, sections: bool = True) -> bytes:
    """A small ET_DYN file: PT_INTERP, PT_LOAD, PT_DYNAMIC, two DT_NEEDED and a verneed table."""
    e = "<" if little else ">"
    word = "I" if bits == 32 else "Q"
    ehsize, phentsize, shentsize = (52, 32, 40) if bits == 32 else (64, 56, 64)
    interp = ehsize + 3 * phentsize
    strtab = interp + len(INTERP)
    verneed = align(strtab + len(STRINGS))
    dynamic = verneed + 16 * (1 + len(VERSIONS))
    dyn_size = 8 * (bits // 8) * 2
    shstr = dynamic + dyn_size
    shoff = align(shstr + len(SHSTRTAB))
    shnum = 5 if sections else 0

    def phdr(kind: int, off: int, size: int) -> bytes:
        if bits == 32:
            return struct.pack(e + "8I", kind, off, BASE + off, BASE + off, size, size, 4, 1)
        return struct.pack(e + "2I6Q", kind, 4, off, BASE + off, BASE + off, size, size, 1)

    ident = b"\x7fELF" + bytes([bits // 32, 1 if little else 2, 1]) + bytes(9)
    header = ident + struct.pack(
        e + f"HHI{word}{word}{word}IHHHHHH",
        ET_DYN,
        machine,
        1,
        0,
        ehsize,
        shoff if sections else 0,
        0,
        ehsize,
        phentsize,
        3,
        shentsize,
        shnum,
        4 if sections else 0,
    )
    phdrs = phdr(3, interp, len(INTERP)) + phdr(1, 0, shstr) + phdr(2, dynamic, dyn_size)
    vern = struct.pack(e + "HHIII", 1, len(VERSIONS), sidx(STRINGS, "libc.so.6"), 16, 0)
    for i, name in enumerate(VERSIONS):
        last = i == len(VERSIONS) - 1
        vern += struct.pack(e + "IHHII", 0, 0, i + 2, sidx(STRINGS, name), 0 if last else 16)
    tags = [
        (1, sidx(STRINGS, "libfoo.so.1")),
        (1, sidx(STRINGS, "libc.so.6")),
        (5, BASE + strtab),
        (10, len(STRINGS)),
        (0x6FFFFFFE, BASE + verneed),
        (0x6FFFFFFF, 1),
        (0x6FFFFFFB, 0x08000000),
        (0, 0),
    ]
    dyn = b"".join(struct.pack(e + ("iI" if bits == 32 else "qQ"), t, v) for t, v in tags)
    body = header + phdrs + INTERP + STRINGS
    body = body.ljust(verneed, b"\0") + vern + dyn + SHSTRTAB
    if not sections:
        return body

    def shdr(name: str, kind: int, off: int, size: int, link: int = 0, info: int = 0) -> bytes:
        fmt = e + ("10I" if bits == 32 else "2I4Q2I2Q")
        index = sidx(SHSTRTAB, name) if name else 0
        return struct.pack(fmt, index, kind, 2, BASE + off, off, size, link, info, 8, 0)

    table = (
        shdr("", 0, 0, 0)
        + shdr(".dynstr", 3, strtab, len(STRINGS))
        + shdr(".dynamic", 6, dynamic, dyn_size, link=1)
        + shdr(".gnu.version_r", 0x6FFFFFFE, verneed, len(vern), link=1, info=1)
        + shdr(".shstrtab", 3, shstr, len(SHSTRTAB))
    )
    return body.ljust(shoff, b"\0") + table


VARIANTS = [
    pytest.param(32, True, 3, id="elf32-le"),
    pytest.param(32, False, EM_S390, id="elf32-be"),
    pytest.param(64, True, EM_X86_64, id="elf64-le"),
    pytest.param(64, False, EM_S390, id="elf64-be"),
]
SYNTHETIC = [
    build_elf(b, le, m, s) for b, le, m in [(32, False, 22), (64, True, 62)] for s in (True, False)
]


# --- the host's binaries ----------------------------------------------------------------------


def test_ls_is_a_dynamic_pie_needing_glibc() -> None:
    require(LS.is_file(), "/bin/ls")
    info = parse(LS)
    assert (info.elf_class, info.little_endian, info.machine) == (64, True, EM_X86_64)
    assert info.elf_type == ET_DYN and info.is_pie and not info.is_static
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert "libc.so.6" in info.needed
    assert info.glibc_versions and all(v.startswith("GLIBC_") for v in info.glibc_versions)
    assert info.max_glibc is not None and glibc_version_tuple(info.max_glibc) >= (2, 2, 5)
    assert list(info.glibc_versions) == sorted(info.glibc_versions, key=glibc_version_tuple)
    assert is_elf(LS) and MACHINE_NAMES[info.machine] == "x86_64"


def test_ls_agrees_with_readelf() -> None:
    require(LS.is_file(), "/bin/ls")
    assert_agrees_with_readelf(LS, parse(LS))


def test_static_binary(tmp_path: Path) -> None:
    info = parse(compile_c("gcc", tmp_path / "hello", "-static"))
    assert info.elf_type == ET_EXEC and info.machine == EM_X86_64
    assert info.is_static and not info.is_pie and info.interpreter is None
    assert info.needed == () and info.glibc_versions == () and info.max_glibc is None
    assert_agrees_with_readelf(tmp_path / "hello", info)


def test_static_pie_binary(tmp_path: Path) -> None:
    info = parse(compile_c("gcc", tmp_path / "hello", "-static-pie"))
    assert info.elf_type == ET_DYN and info.is_static and info.is_pie and info.needed == ()


def test_dynamic_binary_compiled_here(tmp_path: Path) -> None:
    path = compile_c("gcc", tmp_path / "hello", "-O1")
    info = parse(path)
    assert info.needed == ("libc.so.6",) and info.max_glibc is not None
    assert_agrees_with_readelf(path, info)


# --- other architectures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compiler", "machine", "little", "interpreter"),
    [
        ("aarch64-linux-gnu-gcc", EM_AARCH64, True, "/lib/ld-linux-aarch64.so.1"),
        ("s390x-linux-gnu-gcc", EM_S390, False, "/lib/ld64.so.1"),
        ("powerpc64le-linux-gnu-gcc", EM_PPC64, True, "/lib64/ld64.so.2"),
        ("riscv64-linux-gnu-gcc", EM_RISCV, True, "/lib/ld-linux-riscv64-lp64d.so.1"),
    ],
)
def test_cross_compiled(
    tmp_path: Path, compiler: str, machine: int, little: bool, interpreter: str
) -> None:
    path = compile_c(compiler, tmp_path / "hello")
    info = parse(path)
    assert (info.elf_class, info.little_endian, info.machine) == (64, little, machine)
    assert info.interpreter == interpreter and info.needed == ("libc.so.6",)
    assert info.max_glibc is not None and info.is_pie
    assert info.machine in MACHINE_NAMES
    assert_agrees_with_readelf(path, info)


@pytest.mark.parametrize(("bits", "little", "machine"), VARIANTS)
@pytest.mark.parametrize("sections", [True, False], ids=["sections", "no-sections"])
def test_hand_built(tmp_path: Path, bits: int, little: bool, machine: int, sections: bool) -> None:
    path = tmp_path / "built.so"
    path.write_bytes(build_elf(bits, little, machine, sections))
    info = parse(path)
    assert (info.elf_class, info.little_endian, info.machine) == (bits, little, machine)
    assert info.interpreter == "/lib/ld-test.so.1" and info.is_pie
    assert info.needed == ("libfoo.so.1", "libc.so.6")
    assert info.glibc_versions == ("GLIBC_PRIVATE", "GLIBC_2.0", "GLIBC_2.4", "GLIBC_2.34")
    assert info.max_glibc == "GLIBC_2.34"
    if sections:  # readelf reads version needs from section headers only
        assert_agrees_with_readelf(path, info)


# --- not ELF, truncated, corrupt ------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\x7fEL", b"#!/bin/sh\necho hi\n", b"MZ" + bytes(200)])
def test_not_elf(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    assert read_elf(path) is None and not is_elf(path)


def test_unreadable_paths(tmp_path: Path) -> None:
    assert not is_elf(tmp_path / "missing") and not is_elf(tmp_path)
    with pytest.raises(ElfError, match="missing"):
        read_elf(tmp_path / "missing")
    assert issubclass(ElfError, GalleyError)


@pytest.mark.parametrize(
    "keep", ["4", "5", "16", "20", "52", "63", "64", "200", "4096", "half", "-1"]
)
def test_truncated_ls(tmp_path: Path, keep: str) -> None:
    require(LS.is_file(), "/bin/ls")
    size = len(LS_BYTES)
    cut = tmp_path / "ls-cut"
    cut.write_bytes(LS_BYTES[: size // 2 if keep == "half" else int(keep) % size])
    # Section headers sit at the end of /bin/ls, so every truncation loses some of them.
    with pytest.raises(ElfError, match="ls-cut") as caught:
        read_elf(cut)
    assert "corrupt ELF" in str(caught.value)


@pytest.mark.parametrize(
    ("offset", "value"),
    [
        (4, b"\x03"),  # unknown class
        (5, b"\x00"),  # unknown data encoding
        (0x2C, b"\xff\xff"),  # e_shoff far past the end (elf64-le)
        (0x38, b"\xff\xff"),  # e_phnum far too large
        (0x36, b"\x08\x00"),  # e_phentsize too small
        (0x3C, b"\xff\xff"),  # e_shnum far too large
    ],
)
def test_corrupt_header(tmp_path: Path, offset: int, value: bytes) -> None:
    data = bytearray(build_elf(64, True, EM_X86_64))
    data[offset : offset + len(value)] = value
    path = tmp_path / "bad"
    path.write_bytes(bytes(data))
    with pytest.raises(ElfError, match="bad"):
        read_elf(path)


def test_bad_sh_link_and_unterminated_interp(tmp_path: Path) -> None:
    data = build_elf(64, True, EM_X86_64)
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    broken = bytearray(data)
    struct.pack_into("<I", broken, shoff + 2 * 64 + 40, 99)  # .dynamic's sh_link
    path = tmp_path / "bad"
    path.write_bytes(bytes(broken))
    with pytest.raises(ElfError, match="sh_link 99"):
        read_elf(path)
    broken = bytearray(data)
    end = data.index(INTERP) + len(INTERP) - 1
    broken[end] = ord("x")  # PT_INTERP without its NUL
    path.write_bytes(bytes(broken))
    with pytest.raises(ElfError, match="unterminated"):
        read_elf(path)


def test_endless_version_table_is_bounded(tmp_path: Path) -> None:
    data = bytearray(build_elf(64, True, EM_X86_64))
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    struct.pack_into("<I", data, shoff + 3 * 64 + 44, 0xFFFFFFFF)  # verneed sh_info (count)
    vern = struct.unpack_from("<Q", data, shoff + 3 * 64 + 24)[0]
    struct.pack_into("<I", data, vern + 12, 1)  # vn_next: 1 byte on, forever
    path = tmp_path / "loop"
    path.write_bytes(bytes(data))
    with pytest.raises(ElfError):
        read_elf(path)


# --- helpers -------------------------------------------------------------------------------------


def test_glibc_version_tuple_and_max() -> None:
    assert glibc_version_tuple("GLIBC_2.34") == (2, 34)
    assert glibc_version_tuple("GLIBC_2.2.5") == (2, 2, 5)
    assert glibc_version_tuple("GLIBC_PRIVATE") == ()
    assert glibc_version_tuple("GLIBCXX_3.4") == ()
    assert glibc_version_tuple("GLIBC_2.\u00b2") == ()
    info = ElfInfo(64, True, EM_X86_64, ET_DYN, None, (), ("GLIBC_2.34", "GLIBC_2.4"))
    assert info.max_glibc == "GLIBC_2.34" and info.is_static and not info.is_pie
    only_private = ElfInfo(64, True, EM_X86_64, ET_EXEC, None, (), ("GLIBC_PRIVATE",))
    assert only_private.max_glibc is None
    assert {EM_X86_64, EM_AARCH64, EM_S390, EM_PPC64, EM_RISCV} <= MACHINE_NAMES.keys()


# --- fuzzing: only ElfInfo, None or ElfError, ever ----------------------------------------------


def check_never_crashes(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        info = read_elf(path)
    except ElfError as exc:
        assert str(path) in str(exc)
        return
    assert info is None or isinstance(info, ElfInfo)
    if info is not None:  # the properties must hold up too
        assert isinstance(info.is_pie, bool) and isinstance(info.is_static, bool)
        assert info.max_glibc is None or info.max_glibc in info.glibc_versions


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with up to 8 bytes flipped (mostly in the headers) and maybe truncated."""
    data = bytearray(original)
    size = len(data)
    where = st.one_of(
        st.integers(0, min(size, 4096) - 1),
        st.integers(max(0, size - 2048), size - 1),
        st.integers(0, size - 1),
    )
    for position in draw(st.lists(where, min_size=1, max_size=8)):
        data[position] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        del data[draw(st.integers(0, size)) :]
    return bytes(data)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "target"


@FUZZ
@given(data=st.data())
def test_fuzz_ls(scratch: Path, data: st.DataObject) -> None:
    require(LS.is_file(), "/bin/ls")
    check_never_crashes(scratch, data.draw(damaged(LS_BYTES)))


@FUZZ
@given(data=st.data())
def test_fuzz_hand_built(scratch: Path, data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(SYNTHETIC))
    check_never_crashes(scratch, data.draw(damaged(original)))


@FUZZ
@given(
    klass=st.sampled_from([1, 2, 0, 3]),
    order=st.sampled_from([1, 2, 0]),
    rest=st.binary(max_size=400),
)
def test_fuzz_random_after_magic(scratch: Path, klass: int, order: int, rest: bytes) -> None:
    check_never_crashes(scratch, b"\x7fELF" + bytes([klass, order]) + rest)
