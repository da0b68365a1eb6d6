"""musl: static binaries for amd64 and arm64 from galley's musl builders (std built there from
Debian's rust-web-src), with -sys crates linking Debian's static archives. One small workspace
and one builder per arch for the whole module (each musl builder builds a std once)."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from galley import elf
from helpers import galley, results, write_tree

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TRIPLES = {"amd64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}
MACHINES = {"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
QEMU = {"amd64": [], "arm64": ["qemu-aarch64-static"]}  # static: no sysroot needed
LINKER = {"amd64": "", "arm64": "-C linker=aarch64-linux-gnu-gcc"}  # rustc alone: no cargo env
MUSL_APP = {
    "Cargo.toml": (
        '[package]\nname = "muslapp"\nversion = "0.1.0"\nedition = "2021"\n'
        '[dependencies]\nlibc = "0.2"\nlibz-sys = "1"\n[build-dependencies]\ncc = "1"\n'
    ),
    # C compiled by cc-rs (the builder's <arch>-linux-musl-gcc), and libseccomp linked as
    # libseccomp-sys links it when LIBSECCOMP_LINK_TYPE and LIBSECCOMP_LIB_PATH are unset
    "build.rs": (
        'fn main() {\n    cc::Build::new().file("src/answer.c").compile("answer");\n'
        '    println!("cargo:rustc-link-lib=seccomp");\n}\n'
    ),
    # musl's stdio.h, the target packages' zlib.h and seccomp.h (and the kernel's headers
    # seccomp.h includes), found by the builder's musl gcc
    "src/answer.c": (
        "#include <seccomp.h>\n#include <stdio.h>\n#include <zlib.h>\n"
        "int answer(char *out, int size) {\n"
        "    int known = SCMP_ACT_ALLOW == 0x7fff0000U && ZLIB_VERNUM > 0x1200;\n"
        '    return snprintf(out, size, "%d", known ? 6 * 7 : 0);\n}\n'
    ),
    "src/main.rs": """use std::ffi::{c_void, CStr};
use std::os::fd::AsRawFd;

#[repr(C)]
struct Version { major: u32, minor: u32, micro: u32 }

extern "C" {
    fn seccomp_version() -> *const Version;
    fn seccomp_init(action: u32) -> *mut c_void;
    fn seccomp_export_pfc(ctx: *mut c_void, fd: i32) -> i32;
    fn seccomp_release(ctx: *mut c_void);
    fn answer(out: *mut u8, size: i32) -> i32;
}

const GREETING: &str = "static";

fn main() {
    let zlib = unsafe { CStr::from_ptr(libz_sys::zlibVersion()) }.to_str().unwrap();
    let seccomp = unsafe { &*seccomp_version() };
    let sink = std::fs::File::create("/dev/null").unwrap();
    let filter = unsafe { seccomp_init(0x7fff_0000) }; // SCMP_ACT_ALLOW
    let exported = unsafe { seccomp_export_pfc(filter, sink.as_raw_fd()) } == 0; // __fprintf_chk
    unsafe { seccomp_release(filter) };
    std::panic::set_hook(Box::new(|_| {}));
    let unwound = std::panic::catch_unwind(|| panic!("unwound")).is_err();
    let thread = std::thread::spawn(|| 6 * 7).join().unwrap();
    let mut c = [0u8; 8];
    let written = unsafe { answer(c.as_mut_ptr(), 8) } as usize;
    let c = std::str::from_utf8(&c[..written]).unwrap();
    let pid = unsafe { libc::getpid() } > 0;
    println!(
        "{GREETING} {} pid={pid} zlib={zlib} seccomp={}.{}.{} exported={exported} \\
         unwound={unwound} thread={thread} c={c}",
        std::env::consts::ARCH, seccomp.major, seccomp.minor, seccomp.micro,
    );
}
""",
    # libz-sys finds zlib with pkg-config; the link takes libz.a and libseccomp.a (static)
    "galley.toml": '[docker]\ntarget_packages = ["zlib1g-dev", "libseccomp-dev"]\n',
}


@pytest.fixture(scope="module")
def musl_app(tmp_path_factory: pytest.TempPathFactory, cargo: str) -> Path:
    workspace = write_tree(tmp_path_factory.mktemp("musl") / "muslapp", MUSL_APP)
    with (workspace / "src" / "main.rs").open("a") as main:  # not a step BuildKit ran
        main.write(f"// {uuid.uuid4()}\n")
    subprocess.run([cargo, "generate-lockfile", "--offline"], cwd=workspace, check=True)
    return workspace


def run(binary: Path, arch: str) -> str:
    argv = [*QEMU[arch], str(binary)]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


def test_static_musl_binaries_for_amd64_and_arm64(docker: str, musl_app: Path) -> None:
    """`build --libc musl` for amd64 and arm64 (auto: the host has no musl std, said in one
    line): static binaries (no interpreter, no NEEDED) of the arch's machine that run (arm64
    under qemu), unwind a panic, link C that cc-rs compiled with the builder's musl gcc against
    the target packages' headers, and Debian's libz.a and libseccomp.a (glibc builds, whose
    __fprintf_chk the musl builder's compat shim gives); `verify --libc musl` passes. The cook
    compiled the dependencies but no std (the builder's); a one-line edit then compiles the
    workspace crate alone."""
    cache = musl_app.parent / "cache"
    asked = ("--arch", "amd64", "--arch", "arm64", "--libc", "musl", "--json")
    built = galley("build", *asked, cwd=musl_app, cache=cache)
    for arch, triple in TRIPLES.items():
        assert (
            f"galley: {arch}: the host toolchain (rustc 1." in built.stderr
            and f"has no std for {triple} (`rustup target add {triple}` would build it here), "
            "and galley builds std from source only in docker; the docker backend builds it"
            in built.stderr
        ), built.stderr[-3000:]
    cold = {r["arch"]: r for r in results(built.stdout)}
    for arch, triple in TRIPLES.items():
        result = cold[arch]
        assert (result["backend"], result["target"], result["compiled"]) == (
            "docker", triple, ["muslapp"],
        ), result  # fmt: skip
        assert "-musl-rust1." in result["builder_image"], result
        binary = musl_app / "dist" / arch / "bin" / "muslapp"
        info = elf.read_elf(binary)
        assert info is not None and info.machine == MACHINES[arch]
        assert info.interpreter is None and info.needed == (), info
        assert re.fullmatch(
            rf"static {triple.split('-')[0]} pid=true zlib=1\.\d+\.\d+ seccomp=2\.\d+\.\d+ "
            r"exported=true unwound=true thread=42 c=42\n", run(binary, arch),
        )  # fmt: skip
        deps = subprocess.run(
            [docker, "run", "--rm", "--network=none", result["cook_image"], "sh", "-c",
             f"ls /galley/target/{triple}/release/deps"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert any(name.startswith("liblibz_sys-") for name in deps), deps
        assert not [name for name in deps if name.startswith(("libstd-", "libcore-"))], deps
    galley("verify", "--arch", "amd64", "--arch", "arm64", "--libc", "musl", cwd=musl_app,
           cache=cache)  # fmt: skip
    unflagged = galley("verify", "--arch", "amd64", cwd=musl_app, cache=cache, check=False)
    assert unflagged.returncode != 0 and (
        "amd64: built for x86_64-unknown-linux-musl, verified for x86_64-unknown-linux-gnu "
        "(pass the build's --libc" in unflagged.stderr
    ), unflagged.stderr[-2000:]

    main = musl_app / "src" / "main.rs"
    main.write_text(
        main.read_text().replace('GREETING: &str = "static"', 'GREETING: &str = "edit"')
    )
    warm = {
        r["arch"]: r for r in results(galley("build", *asked, cwd=musl_app, cache=cache).stdout)
    }
    for arch in TRIPLES:
        assert (warm[arch]["cache"], warm[arch]["key"]) == ("hit", cold[arch]["key"])
        assert warm[arch]["compiled"] == ["muslapp"]
        assert run(musl_app / "dist" / arch / "bin" / "muslapp", arch).startswith("edit ")


def test_the_musl_builder_is_a_layer_with_its_std(docker: str, musl_app: Path) -> None:
    """Each musl builder is its arch's builder with one layer on top (std, musl, the link
    objects: under 200 MB); the std is in the sysroot beside a record of how it was built (a key
    input); rust-web-src, musl-dev and libunwind are unpacked, not installed, and std's sources
    are gone. A fat-LTO, panic=abort program links with it."""
    cache = musl_app.parent / "cache"
    asked = ("builder-image", "--arch", "amd64", "--arch", "arm64", "--json")
    gnu = json.loads(galley(*asked, cwd=musl_app, cache=cache).stdout)["images"]
    musl = json.loads(galley(*asked, "--libc", "musl", cwd=musl_app, cache=cache).stdout)["images"]

    def layers(image: str) -> list[str]:
        inspect = [docker, "image", "inspect", "-f", "{{json .RootFS.Layers}}", image]
        out = subprocess.run(inspect, capture_output=True, text=True, check=True).stdout
        return list(json.loads(out))

    for below, above, (arch, triple) in zip(gnu, musl, TRIPLES.items(), strict=True):
        assert below["arch"] == above["arch"] == arch
        assert above["image"].startswith(f"galley-builder:amd64-{arch}-musl-rust1."), above
        under, over = layers(below["image"]), layers(above["image"])
        assert over[: len(under)] == under and len(over) == len(under) + 2  # COPY, RUN
        assert below["size"] < above["size"] < below["size"] + 200_000_000, (below, above)
        lib = f"/usr/lib/rustlib/{triple}/lib"
        shown = subprocess.run(
            [docker, "run", "--rm", "--network=none", above["image"], "sh", "-c",
             f"ls {lib} {lib}/self-contained; cat {lib}/galley-std.txt; echo ---; "
             "dpkg -l rust-web-src musl-dev libunwind-14-dev 2>&1 | grep '^ii' || echo none; "
             "ls /usr/lib/rustlib/src 2>&1"],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        listing, installed = shown.split("---", 1)
        for name in ("libstd-", "libpanic_abort-", "libtest-", "libunwind.a", "rcrt1.o"):
            assert name in listing, listing
        assert re.search(
            r"^rust-web-src 1\.\d+\.\d+\S*: cargo -Zbuild-std=std,panic_abort,test",
            listing, re.M,
        ), listing  # fmt: skip
        assert installed.split()[0] == "none", installed
        assert "No such file or directory" in installed, installed  # std's sources are gone
        # the std serves `panic = "abort"` and LTO as rustup's does (panic_abort aborts, and
        # every crate carries bitcode)
        hello = 'fn main() { println!("hello"); }'
        linked = subprocess.run(
            [docker, "run", "--rm", "--network=none", "-w", "/tmp", above["image"], "sh", "-c",
             f"echo '{hello}' > hello.rs && rustc -O -C lto=fat -C panic=abort --target "
             f"{triple} {LINKER[arch]} hello.rs && "
             f"if [ {arch} = amd64 ]; then ./hello; else echo hello; fi"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert linked.stdout == "hello\n", linked.stderr
