# galley builder image, common part: Debian rustc-web/cargo-web (and clippy) with the native std, gcc and
# pkg-config. One per arch and Rust release; Dockerfile.builder-target adds a cross arch (its std
# and cross gcc) or target packages on top. galley builds it (galley/backends/docker/images.py),
# by hand:
#
#   DOCKER_BUILDKIT=1 /usr/bin/docker build -f build/Dockerfile.builder \
#       --build-arg BASE=galley-base:bookworm-amd64 --build-arg RUST_WEB_VERSION=1.96 \
#       -t galley-builder:amd64-rust1.96-dev build/
#
# No "# syntax=" line on purpose: the built-in BuildKit frontend of docker 20.10 is used offline.
# rustc-web installs /usr/bin/rustc, /usr/bin/rustdoc; cargo-web installs /usr/bin/cargo;
# the std libraries live in /usr/lib/rustlib/<target-triple>/.
ARG BASE=galley-base:bookworm-amd64
FROM ${BASE}

# rustc-web release: empty = apt candidate; a release such as "1.85" (or "1.85.0") selects the
# newest matching version of `apt-cache madison rustc-web`. galley passes the release it chose
# (galley/backends/docker/releases.py: bookworm-security has no s390x, so 1.85 there).
ARG RUST_WEB_VERSION=""
# Extra Debian packages wanted in the image (docker.packages: build tools).
ARG EXTRA_PACKAGES=""

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    CARGO_HOME=/usr/local/cargo \
    CARGO_TERM_COLOR=never \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CARGO_TARGET_S390X_UNKNOWN_LINUX_GNU_LINKER=s390x-linux-gnu-gcc \
    CARGO_TARGET_POWERPC64LE_UNKNOWN_LINUX_GNU_LINKER=powerpc64le-linux-gnu-gcc \
    CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER=riscv64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    CC_s390x_unknown_linux_gnu=s390x-linux-gnu-gcc \
    CC_powerpc64le_unknown_linux_gnu=powerpc64le-linux-gnu-gcc \
    CC_riscv64gc_unknown_linux_gnu=riscv64-linux-gnu-gcc \
    PKG_CONFIG_ALLOW_CROSS=1 \
    PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
    PKG_CONFIG_LIBDIR_s390x_unknown_linux_gnu=/usr/lib/s390x-linux-gnu/pkgconfig:/usr/share/pkgconfig \
    PKG_CONFIG_LIBDIR_powerpc64le_unknown_linux_gnu=/usr/lib/powerpc64le-linux-gnu/pkgconfig:/usr/share/pkgconfig \
    PKG_CONFIG_LIBDIR_riscv64gc_unknown_linux_gnu=/usr/lib/riscv64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Lean: no recommends, dpkg leaves out docs, man pages and translations (copyright files stay;
# build-base.sh set that up in the base image), apt lists and caches go in the same step. apt-get update errors are tolerated: a partial
# mirror may miss an index (seen: bookworm-security's ppc64el Packages.xz with a wrong size); the
# version pins catch any mismatch.
RUN set -eux; \
    apt-get update || echo "WARNING: apt-get update reported errors; continuing (versions are pinned)" >&2; \
    if [ -n "${RUST_WEB_VERSION}" ]; then \
        v="$(apt-cache madison rustc-web | awk -v p="${RUST_WEB_VERSION}" '$3 == p || index($3, p ".") == 1 || index($3, p "+") == 1 { print $3; exit }')"; \
    else \
        v="$(apt-cache policy rustc-web | awk '/Candidate:/ { print $2 }')"; \
    fi; \
    [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "rustc-web version '${RUST_WEB_VERSION}' not found" >&2; exit 1; }; \
    apt-get install -y --no-install-recommends "rustc-web=$v" "cargo-web=$v" "rust-web-clippy=$v" \
        "libstd-rust-web-dev=$v" gcc libc6-dev pkgconf ${EXTRA_PACKAGES}; \
    apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/dpkg.log; \
    mkdir -p "$CARGO_HOME"; \
    rustc --version; cargo --version

WORKDIR /src
