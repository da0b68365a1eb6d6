#!/bin/sh
# Hold back the versions of Multi-Arch: same packages that a cross arch cannot match.
#
#   multiarch-pins.sh NATIVE_DEBIAN_ARCH CROSS_DEBIAN_ARCH... > /etc/apt/preferences.d/galley-multiarch
#
# A Multi-Arch: same package must have one version on every arch it is installed for. When a
# suite has an index for the native arch but none for a cross arch (bookworm-security carries no
# s390x), its newer native versions (zlib1g, liblzma5, libzstd1 ...) cannot be matched on that
# arch and apt gives up on the whole install. Such versions, and every package built from the
# same source upload, get priority -1, so apt keeps the version every arch has, also for what is
# installed later. Run after `apt-get update`; prints apt_preferences(5) records.
set -eu
native="$1"; shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
indexes() { apt-get indextargets --format '$(FILENAME)' 'Identifier: Packages' "$@"; }
indexes > "$work/all"
for arch in "$@"; do
    [ "$arch" = "$native" ] && continue
    # shellcheck disable=SC2046 # one argument per index file
    /usr/lib/apt/apt-helper cat-file $(indexes "Architecture: $arch") > "$work/cross"
    for index in $(indexes "Architecture: $native"); do
        sibling="$(echo "$index" | sed "s/_binary-${native}_/_binary-${arch}_/")"
        grep -qxF "$sibling" "$work/all" && continue
        echo "multiarch-pins: ${index##*/} has no $arch sibling; holding back what $arch lacks" >&2
        /usr/lib/apt/apt-helper cat-file "$index" > "$work/native"
        # Pass 1: what the cross arch has. Pass 2: the source uploads with a Multi-Arch: same
        # version it lacks. Pass 3: every binary of those uploads (python3.11 needs
        # libpython3.11-stdlib of its own version), so what is held back stays installable.
        awk 'FNR == 1 { file++ }
             /^Package:/ { p = $2 } /^Version:/ { v = $2 } /^Multi-Arch:/ { m = $2 }
             /^Source:/ { s = $2; sv = ($3 ~ /^\(/) ? substr($3, 2, length($3) - 2) : "" }
             /^$/ {
                 if (s == "") s = p
                 if (sv == "") sv = v
                 if (file == 1) { has[p] = 1; have[p " " v] = 1 }
                 else if (file == 2) {
                     if (m == "same" && (p in has) && !((p " " v) in have)) held[s " " sv] = 1
                 } else if ((s " " sv) in held)
                     printf "Package: %s:any\nPin: version %s\nPin-Priority: -1\n\n", p, v
                 p = v = m = s = sv = ""
             }' "$work/cross" "$work/native" "$work/native"
    done
done
