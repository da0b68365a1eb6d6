#!/bin/sh
# galley musl-target.sh DEBIAN_ARCH RUST_TARGET GNU_TRIPLE COMPAT_C: a std for RUST_TARGET
# (x86_64-unknown-linux-musl, aarch64-unknown-linux-musl) and what rustc links a static binary
# of it with, from Debian packages alone, offline but for the apt mirror (run by
# Dockerfile.builder-musl, as root). Debian ships no musl std for rustc; rustup cannot be
# reached. What this puts in the image:
#
# - the musl C library for the arch: musl-dev:DEBIAN_ARCH unpacked (/usr/lib/<arch>-linux-musl,
#   /usr/include/<arch>-linux-musl), and <arch>-linux-musl-gcc, the arch's gcc with musl's
#   specs file, as musl-tools' musl-gcc is: the C compiler of -sys crates (CC_<target>).
# - what rustup's std for a musl target brings beside it, which rustc links a static musl
#   binary with (`self-contained`, rustc's default for musl): in
#   <sysroot>/lib/rustlib/RUST_TARGET/lib/self-contained, musl's crt objects and libc.a, gcc's
#   crtbegin/crtend objects, and LLVM's libunwind.a (libunwind-14-dev:DEBIAN_ARCH; std's
#   `unwind` crate links -lunwind statically; gcc's libgcc_eh.a cannot stand in: it calls
#   glibc's _dl_find_object). Debian builds libunwind.a, and every other static archive,
#   against glibc with _FORTIFY_SOURCE: COMPAT_C, glibc's checked entry points over musl's
#   functions, goes into that libc.a so that such archives link.
# - the std, built here once with cargo's -Zbuild-std from library/ (and its vendor/) of
#   rust-web-src of the image's rustc-web version (std must match its compiler), into
#   <sysroot>/lib/rustlib/RUST_TARGET/lib as rustup installs one: std, panic_abort and test,
#   with rustup's settings (opt-level 3, one codegen unit, line tables, bitcode for LTO,
#   panic_abort compiled to abort); the sources are removed after. Every cook then uses it like any other std. A std built by each cook instead (-Zbuild-std there)
#   is not in the sysroot, so build scripts that probe `rustc --target` (rustix, autocfg) fail
#   and pick other code paths, some of which are stale on every build. How it was built is in
#   <sysroot>/lib/rustlib/RUST_TARGET/lib/galley-std.txt (a cache key input).
# - <arch>-linux-musl-pkg-config: pkgconf with the arch's Debian library dirs as system dirs
#   (no -L for them, which would put glibc's libc.a before musl's) and --static.
set -eu

arch=$1
target=$2
gnu=$3
compat=$4
musl=${gnu%-gnu}-musl
native=$(dpkg --print-architecture)
version=$(dpkg-query -W -f '${Version}' rustc-web)
sysroot=$(rustc --print sysroot)
kit=$sysroot/lib/rustlib/$target/lib/self-contained

if [ "$arch" != "$native" ]; then dpkg --add-architecture "$arch"; fi
apt-get update || echo "WARNING: apt-get update reported errors; continuing (versions are pinned)" >&2
work=$(mktemp -d)
cd "$work"
apt-get download "rust-web-src=$version" "musl-dev:$arch" "libunwind-14-dev:$arch"

# std's sources: only library/ and the rustlib/src/rust link to it (until std is built)
dpkg-deb --fsys-tarfile rust-web-src_*.deb \
    | tar -x -C / --wildcards './usr/src/rustc-*/library/*' './usr/lib/rustlib/src/*'
test -f "$sysroot/lib/rustlib/src/rust/library/Cargo.lock"
test -d "$sysroot/lib/rustlib/src/rust/library/vendor"

# musl, and its gcc wrapper (musl-tools' musl-gcc for the arch). musl's headers come first; the
# arch's Debian headers after them (-idirafter: only what musl lacks), so C that includes a
# target package's header (zlib.h, seccomp.h) or the kernel's (linux/, asm/) compiles
dpkg-deb -x musl-dev_*.deb /
cat > "/usr/local/bin/$musl-gcc" <<EOF
#!/bin/sh
exec $gnu-gcc "\$@" -specs /usr/lib/$musl/musl-gcc.specs \\
    -idirafter /usr/include/$gnu -idirafter /usr/$gnu/include -idirafter /usr/include
EOF
chmod 755 "/usr/local/bin/$musl-gcc"

# rustc's self-contained link objects for the target
mkdir -p "$kit"
for name in crt1.o crti.o crtn.o rcrt1.o Scrt1.o libc.a; do cp "/usr/lib/$musl/$name" "$kit/"; done
for name in crtbegin.o crtbeginS.o crtend.o crtendS.o; do
    cp "$("$gnu-gcc" -print-file-name="$name")" "$kit/"
done
dpkg-deb -x libunwind-14-dev_*.deb unwind
cp "$(find unwind -path '*/llvm-*/lib/libunwind.a' | head -n 1)" "$kit/libunwind.a"
"$musl-gcc" -O2 -fPIC -c "$compat" -o galley-glibc-compat.o
"$gnu-ar" rcs "$kit/libc.a" galley-glibc-compat.o

# the std, built by cargo from library/ for a small program, which links with the objects above
crates=std,panic_abort,test
mkdir -p std/src std/.cargo
cat > std/src/main.rs <<'EOF'
fn main() {
    let caught = std::panic::catch_unwind(|| panic!("galley: a panic, caught")).is_err();
    let joined = std::thread::spawn(|| 42).join().unwrap();
    assert!(caught && joined == 42);
}
EOF
cat > std/Cargo.toml <<'EOF'
[package]
name = "galley-std"
version = "0.0.0"
edition = "2021"

[profile.release]
opt-level = 3
codegen-units = 1
debug = "line-tables-only"
EOF
cat > std/.cargo/config.toml <<EOF
[source.crates-io]
replace-with = "std-vendor"

[source.std-vendor]
directory = "$sysroot/lib/rustlib/src/rust/library/vendor"
EOF
# as Rust's bootstrap does: panic_abort and compiler_builtins are compiled with panic=abort (a
# `panic = "abort"` profile then links this std: rustc checks panic_abort's strategy)
cat > rustc-wrapper <<'EOF'
#!/bin/sh
rustc=$1
shift
case " $* " in
    *" --crate-name panic_abort "* | *" --crate-name compiler_builtins "*)
        exec "$rustc" "$@" -C panic=abort ;;
esac
exec "$rustc" "$@"
EOF
chmod 755 rustc-wrapper
(cd std && RUSTC_BOOTSTRAP=1 CARGO_HOME="$work/cargo-home" CARGO_TERM_PROGRESS_WHEN=never \
    RUSTC_WRAPPER="$work/rustc-wrapper" CARGO_ENCODED_RUSTFLAGS=-Cembed-bitcode=yes \
    cargo build --release --offline -Zbuild-std="$crates" --target "$target" --target-dir target)
if [ "$arch" = "$native" ]; then "std/target/$target/release/galley-std" 2> /dev/null; fi
cp "std/target/$target/release/deps/"lib*.rlib "$sysroot/lib/rustlib/$target/lib/"
rm -rf "$(readlink -f "$sysroot/lib/rustlib/src/rust")" "$sysroot/lib/rustlib/src"
{
    echo "rust-web-src $version: cargo -Zbuild-std=$crates --release (opt-level 3, codegen-units 1,"
    echo "debug line-tables-only, -Cembed-bitcode=yes; panic_abort, compiler_builtins: -Cpanic=abort)"
    echo "musl-dev:$arch $(dpkg-deb -f musl-dev_*.deb Version)"
    echo "libunwind-14-dev:$arch $(dpkg-deb -f libunwind-14-dev_*.deb Version)"
    echo "$("$gnu-gcc" -dumpmachine) gcc $("$gnu-gcc" -dumpfullversion)"
    echo "$(sha256sum "$compat" | cut -c1-64) $(basename "$compat")"
} > "$sysroot/lib/rustlib/$target/lib/galley-std.txt"

# pkg-config for the target: the arch's libraries, linked statically
cat > "/usr/share/pkgconfig/personality.d/$musl.personality" <<EOF
Triplet: $musl
DefaultSearchPaths: /usr/lib/$gnu/pkgconfig:/usr/share/pkgconfig
SystemIncludePaths: /usr/include
SystemLibraryPaths: /lib/$gnu:/usr/lib/$gnu:/lib:/usr/lib
EOF
cat > "/usr/local/bin/$musl-pkg-config" <<EOF
#!/bin/sh
exec pkgconf --personality=$musl --static "\$@"
EOF
chmod 755 "/usr/local/bin/$musl-pkg-config"

cd /
rm -rf "$work"
ls "$sysroot/lib/rustlib/$target/lib" "$kit"
