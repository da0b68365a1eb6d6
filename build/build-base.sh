#!/usr/bin/env bash
# Build a Debian bookworm minbase image offline (no Docker Hub) with debootstrap + docker import.
#
#   build-base.sh ARCH [TAG]      ARCH: amd64 | arm64 | s390x | ppc64el  (Debian arch names)
#                                 TAG default: galley-base:bookworm-ARCH
#
# The Debian mirror is read from the host's apt sources (first Debian "main" entry of
# /etc/apt/sources.list.d/*.sources, else /etc/apt/sources.list); the security mirror likewise
# (entry whose suite ends in -security). The image gets bookworm, bookworm-updates and
# bookworm-security in /etc/apt/sources.list.d/debian.sources (rustc-web/cargo-web 1.96 come
# from bookworm-security).
# Foreign ARCH needs qemu-user-static + binfmt (ci/docker/provision.sh). The recorded image
# architecture is fixed with set-image-arch.sh (docker 20.10 import always records amd64).
set -euo pipefail

ARCH=${1:?usage: build-base.sh ARCH [TAG]}
TAG=${2:-galley-base:bookworm-$ARCH}
SUITE=${SUITE:-bookworm}
DOCKER=${DOCKER:-/usr/bin/docker}
WORK=${WORK:-/var/tmp/galley-rootfs-$ARCH}

die() { echo "build-base: ERROR: $*" >&2; exit 1; }

# Print "URI SUITES..." for every deb entry of the host apt configuration (deb822 + one-line).
host_sources() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk '
            function flush() { if (types ~ /(^| )deb( |$)/ && uris != "" && comps ~ /(^| )main( |$)/) { n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i], suites } types = uris = suites = comps = "" }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
            /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
            /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
            /^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
            END { flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        # deb [opts] URI SUITE COMPONENTS...
        sed -n -E 's/^[ \t]*deb[ \t]+(\[[^]]*\][ \t]+)?([^ \t]+)[ \t]+([^ \t]+)[ \t]+(.*)$/\2 \3 \4/p' "$f" \
            | awk '{ for (i = 3; i <= NF; i++) if ($i == "main") { print $1, $2; break } }'
    done
}

SOURCES=$(host_sources)
# main mirror: first entry that carries a plain suite (no -security) ; security: suite *-security
MIRROR=${MIRROR:-$(awk '{ for (i = 2; i <= NF; i++) if ($i !~ /-security$/) { print $1; exit } }' <<<"$SOURCES")}
SECURITY=${SECURITY:-$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /-security$/) { print $1; exit } }' <<<"$SOURCES")}
[ -n "$MIRROR" ] || die "no Debian main mirror found in /etc/apt/sources.list{,.d/*.sources}"
[ -n "$SECURITY" ] || SECURITY=${MIRROR%/debian}/debian-security
echo "build-base: arch=$ARCH suite=$SUITE mirror=$MIRROR security=$SECURITY tag=$TAG"

rm -rf "$WORK"
mkdir -p "$WORK"
start=$(date +%s)
debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$WORK" "$MIRROR" >"$WORK.debootstrap.log" 2>&1 \
    || die "debootstrap failed, see $WORK.debootstrap.log: $(tail -n 5 "$WORK.debootstrap.log")"
mid=$(date +%s)

# apt sources for the image: main + updates + security, deb822
rm -f "$WORK/etc/apt/sources.list"
cat >"$WORK/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# small-image hygiene, like the official debian images
cat >"$WORK/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
echo 'APT::Install-Recommends "false";' >"$WORK/etc/apt/apt.conf.d/99galley-no-recommends"
# lean: no docs, man pages or translations, now or from later installs (copyright files stay)
printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
    'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
    'path-exclude=/usr/share/locale/*' 'path-exclude=/usr/share/lintian/*' \
    >"$WORK/etc/dpkg/dpkg.cfg.d/galley-lean"
find "$WORK/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$WORK/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$WORK"/usr/share/man/* "$WORK"/usr/share/info/* "$WORK"/usr/share/locale/* "$WORK"/usr/share/lintian/*
rm -rf "$WORK"/var/cache/apt/archives/*.deb "$WORK"/var/lib/apt/lists/* "$WORK"/tmp/* "$WORK"/var/log/*.log
: >"$WORK/etc/hostname"
: >"$WORK/etc/resolv.conf"

case $ARCH in
    amd64) DARCH=amd64 VARIANT= ;;
    arm64) DARCH=arm64 VARIANT=v8 ;;
    s390x) DARCH=s390x VARIANT= ;;
    ppc64el) DARCH=ppc64le VARIANT= ;;
    *) DARCH=$ARCH VARIANT= ;;
esac
# NB: docker 20.10 ignores the architecture part of --platform on import (records the daemon's
# arch); set-image-arch.sh below rewrites it so that `--platform linux/<arch>` builds work offline.
tar --numeric-owner -C "$WORK" -c . | "$DOCKER" import --platform "linux/$DARCH" \
    --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    --message "debootstrap --variant=minbase --arch=$ARCH $SUITE $MIRROR" - "$TAG" >/dev/null
if [ "$("$DOCKER" image inspect -f '{{.Architecture}}' "$TAG")" != "$DARCH" ]; then
    DOCKER=$DOCKER "$(dirname "$0")/set-image-arch.sh" "$TAG" "$DARCH" $VARIANT
fi
end=$(date +%s)
rm -rf "$WORK"
echo "build-base: $TAG debootstrap=$((mid - start))s total=$((end - start))s" \
    "size=$("$DOCKER" image inspect -f '{{.Size}}' "$TAG") platform=$("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}' "$TAG")"
