# galley drop.sh TARGET PACKAGE...: in every profile dir of the cargo target dir TARGET
# (TARGET/<profile>, TARGET/<triple>/<profile>), remove the units of the packages not named and
# the files of deps/ and build/ that no unit owns; print each removed path.
#
# The one implementation: the local backend runs it on the host (galley.delta), the docker
# backend in builder images, which have no Python (galley.backends.docker.scripts). POSIX sh, find and
# awk (mawk too: no regex intervals).
#
# What belongs to a package is what cargo records, not a guess from names. Cargo (checked on
# 1.85, 1.95 and 1.96; compilation_files.rs, `pkg_dir` and `calc_outputs_rustc`) names a unit's
# fingerprint dir `.fingerprint/<package>-<hash>` and its build-script dir
# `build/<package>-<hash>`, and gives its deps/ files the same `-<hash>` (the unit's metadata
# hash, `-C extra-filename`) after the name of its *target*, which may differ from the
# package's (md-5: `deps/libmd5-<hash>.rlib`). So a package's units are its fingerprint dirs,
# and their files those with the same hash. Entries without a hash (a workspace crate's cdylib)
# are left alone.
set -eu
target=$1
shift
find "$target" -mindepth 2 -maxdepth 3 -type d -name .fingerprint | while read -r fingerprints; do
    profile=${fingerprints%/.fingerprint}
    # the fingerprints first (find lists its starting points in order): the owners they name
    find "$fingerprints" "$profile/build" "$profile/deps" -mindepth 1 -maxdepth 1 2>/dev/null \
        | awk -v packages="$*" '
            BEGIN { n = split(packages, names, " "); for (i = 1; i <= n; i++) keep[names[i]] = 1 }
            {
                n = split($0, parts, "/"); dir = parts[n - 1]; stem = parts[n]
                sub(/\..*/, "", stem)  # crate and package names have no dot
                hash = substr(stem, length(stem) - 15)
                if (length(stem) < 18 || substr(stem, length(stem) - 16, 1) != "-" ||
                    hash !~ /^[0-9a-f]+$/) next
                if (dir == ".fingerprint") {
                    if (substr(stem, 1, length(stem) - 17) in keep) owned[hash] = 1
                    else print
                } else if (!(hash in owned)) print
            }'
done | while read -r path; do
    rm -rf "$path"
    printf '%s\n' "$path"
done
