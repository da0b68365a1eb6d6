# galley builder image: Debian rustc-web/cargo-web (1.96 from bookworm-security) + cross toolchains.
# No "# syntax=" line on purpose: the built-in BuildKit frontend of docker 20.10 is used offline.
#
#   DOCKER_BUILDKIT=1 /usr/bin/docker build -f build/Dockerfile.builder \
#       --build-arg BASE=galley-base:bookworm-amd64 \
#       --build-arg CROSS_DEBIAN_ARCHES="arm64 s390x ppc64el" \
#       -t galley-builder:dev-amd64 build/
#
# rustc-web installs /usr/bin/rustc, /usr/bin/rustdoc; cargo-web installs /usr/bin/cargo;
# the std libraries live in /usr/lib/rustlib/<target-triple>/ (one per libstd-rust-web-dev:<arch>).
ARG BASE=galley-base:bookworm-amd64
FROM ${BASE}

# Debian architectures to add cross std + cross gcc for (space separated; empty = native only).
ARG CROSS_DEBIAN_ARCHES=""
# rustc-web release: empty = apt candidate; a release such as "1.85" (or "1.85.0") selects the
# newest matching version of `apt-cache madison rustc-web`. The same exact version is forced for
# every libstd-rust-web-dev:<arch> (std must match the compiler). galley passes the release it
# chose (galley/backends/docker/releases.py: bookworm-security has no s390x, so 1.85 there).
ARG RUST_WEB_VERSION=""
# Extra Debian packages wanted in the image (docker.packages, and docker.target_packages both
# as named and as <name>:<arch> for each cross arch).
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

# apt-get update errors are tolerated: a partial mirror may miss foreign-arch indexes (seen here:
# bookworm-security ppc64el Packages.xz with a wrong size); the exact version pins catch any mismatch.
# A suite without a cross arch's index (bookworm-security has no s390x) would move Multi-Arch: same
# libraries past what that arch can match: multiarch-pins.sh holds those versions back.
COPY multiarch-pins.sh /usr/local/share/galley/multiarch-pins.sh
RUN set -eux; \
    native="$(dpkg --print-architecture)"; \
    cross=""; \
    for a in ${CROSS_DEBIAN_ARCHES}; do \
        [ "$a" = "$native" ] && continue; \
        case "$a" in \
            amd64) triple=x86_64-linux-gnu ;; \
            arm64) triple=aarch64-linux-gnu ;; \
            s390x) triple=s390x-linux-gnu ;; \
            ppc64el) triple=powerpc64le-linux-gnu ;; \
            riscv64) triple=riscv64-linux-gnu ;; \
            armhf) triple=arm-linux-gnueabihf ;; \
            i386) triple=i686-linux-gnu ;; \
            *) echo "unsupported Debian arch $a" >&2; exit 1 ;; \
        esac; \
        dpkg --add-architecture "$a"; \
        cross="$cross $a:$triple"; \
    done; \
    apt-get update || echo "WARNING: apt-get update reported errors; continuing (versions are pinned)" >&2; \
    sh /usr/local/share/galley/multiarch-pins.sh "$native" ${CROSS_DEBIAN_ARCHES} \
        > /etc/apt/preferences.d/galley-multiarch; \
    if [ -n "${RUST_WEB_VERSION}" ]; then \
        v="$(apt-cache madison rustc-web | awk -v p="${RUST_WEB_VERSION}" '$3 == p || index($3, p ".") == 1 || index($3, p "+") == 1 { print $3; exit }')"; \
    else \
        v="$(apt-cache policy rustc-web | awk '/Candidate:/ { print $2 }')"; \
    fi; \
    [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "rustc-web version '${RUST_WEB_VERSION}' not found" >&2; exit 1; }; \
    pkgs="rustc-web=$v cargo-web=$v libstd-rust-web-dev=$v gcc libc6-dev pkgconf ca-certificates"; \
    for at in $cross; do \
        a="${at%%:*}"; triple="${at#*:}"; \
        pkgs="$pkgs libstd-rust-web-dev:$a=$v gcc-$triple libc6-dev-$a-cross"; \
    done; \
    apt-get install -y --no-install-recommends $pkgs ${EXTRA_PACKAGES}; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb; \
    mkdir -p "$CARGO_HOME"; \
    command -v rustc cargo; rustc --version; cargo --version; ls /usr/lib/rustlib/

WORKDIR /src
