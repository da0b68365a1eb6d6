"""A small pure-Python ELF reader: class, endianness, machine, interpreter, needs, glibc versions.

Only the standard library is used. Every offset read from the file is bounds-checked, so hostile
input yields `ElfError` (or `None` for a non-ELF file), never `struct.error` or `IndexError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from galley.errors import GalleyError

ELF_MAGIC = b"\x7fELF"

EM_386 = 3
EM_S390 = 22
EM_PPC64 = 21
EM_ARM = 40
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243
EM_LOONGARCH = 258

MACHINE_NAMES: dict[int, str] = {
    EM_386: "i386",
    EM_PPC64: "ppc64",
    EM_S390: "s390x",
    EM_ARM: "arm",
    EM_X86_64: "x86_64",
    EM_AARCH64: "aarch64",
    EM_RISCV: "riscv64",
    EM_LOONGARCH: "loongarch64",
}

ET_EXEC = 2
ET_DYN = 3

PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3

SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE

DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_STRSZ = 10
DT_FLAGS_1 = 0x6FFFFFFB
DT_VERNEED = 0x6FFFFFFE
DT_VERNEEDNUM = 0x6FFFFFFF
DF_1_PIE = 0x08000000

_GLIBC_PREFIX = "GLIBC_"
# Header fields after e_ident: type, machine, version, entry, phoff, shoff, flags, ehsize,
# phentsize, phnum, shentsize, shnum, shstrndx.
_EHDR = {32: "HHIIIIIHHHHHH", 64: "HHIQQQIHHHHHH"}
# Program header: (type, offset, vaddr, filesz) are picked out by _PHDR_FIELDS.
_PHDR = {32: "IIIIIIII", 64: "IIQQQQQQ"}
_PHDR_FIELDS = {32: (0, 1, 2, 4), 64: (0, 2, 3, 5)}
# Section header: type, offset, size, link, info are at the same indexes in both classes.
_SHDR = {32: "IIIIIIIIII", 64: "IIQQQQIIQQ"}
_DYN = {32: "iI", 64: "qQ"}
_VERNEED = "HHIII"  # vn_version, vn_cnt, vn_file, vn_aux, vn_next
_VERNAUX = "IHHII"  # vna_hash, vna_flags, vna_other, vna_name, vna_next


class ElfError(GalleyError):
    """A file starts with the ELF magic but is truncated or corrupt."""


def glibc_version_tuple(name: str) -> tuple[int, ...]:
    """`GLIBC_2.34` -> (2, 34); () for names without a numeric version (`GLIBC_PRIVATE`)."""
    if not name.startswith(_GLIBC_PREFIX):
        return ()
    parts = name[len(_GLIBC_PREFIX) :].split(".")
    if not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts):
        return ()
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class ElfInfo:
    """What galley needs to know about one ELF file."""

    elf_class: int
    little_endian: bool
    machine: int
    elf_type: int
    interpreter: str | None
    needed: tuple[str, ...]
    glibc_versions: tuple[str, ...]
    flags_1: int = 0

    @property
    def machine_name(self) -> str:
        """Short name of e_machine (`x86_64`), or `machine-N` when unknown."""
        return MACHINE_NAMES.get(self.machine, f"machine-{self.machine}")

    @property
    def max_glibc(self) -> str | None:
        """The highest numbered `GLIBC_x.y[.z]` requirement, or None."""
        numbered = [v for v in self.glibc_versions if glibc_version_tuple(v)]
        return max(numbered, key=glibc_version_tuple, default=None)

    @property
    def is_static(self) -> bool:
        """No program interpreter (static, including static-pie)."""
        return self.interpreter is None

    @property
    def is_pie(self) -> bool:
        """A position-independent executable (ET_DYN flagged PIE, or with an interpreter)."""
        flagged = bool(self.flags_1 & DF_1_PIE)
        return self.elf_type == ET_DYN and (flagged or self.interpreter is not None)


@dataclass(frozen=True)
class _Segment:
    kind: int
    offset: int
    vaddr: int
    filesz: int


@dataclass(frozen=True)
class _Section:
    kind: int
    offset: int
    size: int
    link: int
    info: int


@dataclass(frozen=True)
class _Region:
    """A byte range of the file (a string table, a dynamic section, a verneed table)."""

    offset: int
    size: int


class _Parser:
    """Bounds-checked reads from the bytes of one ELF file."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.bits = {1: 32, 2: 64}.get(data[4], 0) if len(data) > 4 else 0
        self.little = len(data) > 5 and data[5] == 1
        self.budget = len(data) // 8 + 64  # caps loops over linked lists

    def fail(self, reason: str) -> ElfError:
        return ElfError(f"{self.path}: corrupt ELF file: {reason}")

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        layout = ("<" if self.little else ">") + fmt
        if offset < 0 or offset + struct.calcsize(layout) > len(self.data):
            raise self.fail(f"{what} at offset {offset} is past the end of the file")
        return struct.unpack_from(layout, self.data, offset)

    def region(self, offset: int, size: int, what: str) -> _Region:
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise self.fail(f"{what} ({size} bytes at offset {offset}) is past the end of the file")
        return _Region(offset, size)

    def string(self, table: _Region, index: int) -> str:
        if not 0 <= index < table.size:
            raise self.fail(f"string index {index} is outside its string table")
        start = table.offset + index
        end = self.data.find(b"\0", start, table.offset + table.size)
        if end < 0:
            raise self.fail(f"unterminated string at offset {start}")
        return self.data[start:end].decode("utf-8", errors="replace")

    def spend(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail("too many version entries (looping table?)")

    def table(self, fmt: str, offset: int, count: int, entsize: int, what: str) -> Iterator[int]:
        """Offsets of `count` entries of at least `fmt` size, `entsize` apart."""
        if count == 0:
            return iter(())
        layout = ("<" if self.little else ">") + fmt
        if entsize < struct.calcsize(layout):
            raise self.fail(f"{what} entry size {entsize} is too small")
        self.region(offset, count * entsize, f"{what} table")
        return iter(range(offset, offset + count * entsize, entsize))


def is_elf(path: Path) -> bool:
    """Whether `path` is a readable file starting with the ELF magic."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def read_elf(path: Path) -> ElfInfo | None:
    """Parse `path`: None when it is not ELF, `ElfError` when it is unreadable or corrupt."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ElfError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not data.startswith(ELF_MAGIC):
        return None
    return _parse(_Parser(data, path))


def _parse(p: _Parser) -> ElfInfo:
    if len(p.data) < 16:
        raise p.fail("truncated identification header")
    if p.bits == 0 or p.data[5] not in (1, 2):
        raise p.fail(f"unknown class {p.data[4]} or data encoding {p.data[5]}")
    header = p.unpack(_EHDR[p.bits], 16, "ELF header")
    elf_type, machine = header[0], header[1]
    segments = _segments(p, header)
    sections = _sections(p, header)
    interpreter = _interpreter(p, segments)
    dynamic, dynstr = _dynamic_tables(p, segments, sections)
    entries = list(_dyn_entries(p, dynamic)) if dynamic else []
    needed = _needed(p, entries, dynstr)
    flags_1 = next((v for t, v in entries if t == DT_FLAGS_1), 0)
    versions = _glibc_versions(p, _verneed_tables(p, sections, segments, entries, dynstr))
    return ElfInfo(p.bits, p.little, machine, elf_type, interpreter, needed, versions, flags_1)


def _segments(p: _Parser, header: tuple[int, ...]) -> list[_Segment]:
    phoff, phentsize, phnum = header[4], header[8], header[9]
    picks = _PHDR_FIELDS[p.bits]
    found = []
    for offset in p.table(_PHDR[p.bits], phoff, phnum, phentsize, "program header"):
        raw = p.unpack(_PHDR[p.bits], offset, "program header")
        found.append(_Segment(*(raw[i] for i in picks)))
    return found


def _sections(p: _Parser, header: tuple[int, ...]) -> list[_Section]:
    shoff, shentsize, shnum = header[5], header[10], header[11]
    if shoff == 0:
        return []
    if shnum == 0:  # extended numbering: the real count is section 0's sh_size
        shnum = _section(p, shoff).size
        if shnum > len(p.data):
            raise p.fail(f"section count {shnum} is larger than the file")
    offsets = p.table(_SHDR[p.bits], shoff, shnum, shentsize, "section header")
    return [_section(p, offset) for offset in offsets]


def _section(p: _Parser, offset: int) -> _Section:
    raw = p.unpack(_SHDR[p.bits], offset, "section header")
    return _Section(kind=raw[1], offset=raw[4], size=raw[5], link=raw[6], info=raw[7])


def _linked(p: _Parser, sections: list[_Section], section: _Section) -> _Region:
    if section.link >= len(sections):
        raise p.fail(f"sh_link {section.link} names no section")
    target = sections[section.link]
    return p.region(target.offset, target.size, "linked string table")


def _interpreter(p: _Parser, segments: list[_Segment]) -> str | None:
    interp = next((s for s in segments if s.kind == PT_INTERP), None)
    if interp is None:
        return None
    return p.string(p.region(interp.offset, interp.filesz, "PT_INTERP"), 0)


def _dynamic_tables(
    p: _Parser, segments: list[_Segment], sections: list[_Section]
) -> tuple[_Region | None, _Region | None]:
    """(dynamic section, its string table) from section headers, else from PT_DYNAMIC."""
    section = next((s for s in sections if s.kind == SHT_DYNAMIC), None)
    if section is not None:
        dynamic = p.region(section.offset, section.size, "dynamic section")
        return dynamic, _linked(p, sections, section)
    segment = next((s for s in segments if s.kind == PT_DYNAMIC), None)
    if segment is None:
        return None, None
    dynamic = p.region(segment.offset, segment.filesz, "PT_DYNAMIC")
    tags = dict(_dyn_entries(p, dynamic))
    if DT_STRTAB not in tags:
        return dynamic, None
    strtab = _file_offset(p, segments, tags[DT_STRTAB])
    return dynamic, p.region(strtab, tags.get(DT_STRSZ, 0), "DT_STRTAB")


def _dyn_entries(p: _Parser, dynamic: _Region) -> Iterator[tuple[int, int]]:
    size = struct.calcsize("<" + _DYN[p.bits])
    for offset in range(dynamic.offset, dynamic.offset + dynamic.size - size + 1, size):
        tag, value = p.unpack(_DYN[p.bits], offset, "dynamic entry")
        if tag == DT_NULL:
            return
        yield tag, value


def _needed(p: _Parser, entries: list[tuple[int, int]], dynstr: _Region | None) -> tuple[str, ...]:
    indexes = [value for tag, value in entries if tag == DT_NEEDED]
    if indexes and dynstr is None:
        raise p.fail("DT_NEEDED entries without a string table")
    return tuple(p.string(dynstr, i) for i in indexes) if dynstr else ()


def _file_offset(p: _Parser, segments: list[_Segment], address: int) -> int:
    """Map a virtual address to a file offset through the PT_LOAD segments."""
    for s in segments:
        if s.kind == PT_LOAD and s.vaddr <= address < s.vaddr + s.filesz:
            return s.offset + address - s.vaddr
    raise p.fail(f"address {address:#x} is in no loaded segment")


def _verneed_tables(
    p: _Parser,
    sections: list[_Section],
    segments: list[_Segment],
    entries: list[tuple[int, int]],
    dynstr: _Region | None,
) -> tuple[int, int, _Region] | None:
    """(offset, entry count, string table) of the version-needs table, if there is one."""
    section = next((s for s in sections if s.kind == SHT_GNU_VERNEED), None)
    if section is not None:
        p.region(section.offset, section.size, "version needs section")
        return section.offset, section.info, _linked(p, sections, section)
    tags = dict(entries)
    if sections or DT_VERNEED not in tags or dynstr is None:
        return None
    return _file_offset(p, segments, tags[DT_VERNEED]), tags.get(DT_VERNEEDNUM, 0), dynstr


def _glibc_versions(p: _Parser, table: tuple[int, int, _Region] | None) -> tuple[str, ...]:
    """All `GLIBC_*` names required by the version-needs table, sorted by version."""
    names = {name for name in _verneed_names(p, table) if name.startswith(_GLIBC_PREFIX)}
    return tuple(sorted(names, key=lambda n: (glibc_version_tuple(n), n)))


def _verneed_names(p: _Parser, table: tuple[int, int, _Region] | None) -> Iterator[str]:
    if table is None:
        return
    offset, count, strings = table
    for _ in range(count):
        p.spend()
        _, aux_count, _, aux, next_entry = p.unpack(_VERNEED, offset, "version need")
        yield from _vernaux_names(p, offset + aux, aux_count, strings)
        if next_entry == 0:
            return
        offset += next_entry


def _vernaux_names(p: _Parser, offset: int, count: int, strings: _Region) -> Iterator[str]:
    for _ in range(count):
        p.spend()
        _, _, _, name, next_aux = p.unpack(_VERNAUX, offset, "version need auxiliary")
        yield p.string(strings, name)
        if next_aux == 0:
            return
        offset += next_aux
