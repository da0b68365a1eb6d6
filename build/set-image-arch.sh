#!/usr/bin/env bash
# Rewrite the os/architecture recorded in a local image's config (docker 20.10's `docker import`
# always records the daemon's own arch, even with --platform).  docker save -> edit config -> load.
#
#   set-image-arch.sh IMAGE ARCH [VARIANT]     e.g. set-image-arch.sh galley-base:bookworm-arm64 arm64 v8
#
# The image gets a new ID (config digest changes); the tag is moved to it, layers are unchanged.
set -euo pipefail
IMAGE=${1:?usage: set-image-arch.sh IMAGE ARCH [VARIANT]}
ARCH=${2:?usage: set-image-arch.sh IMAGE ARCH [VARIANT]}
VARIANT=${3:-}
DOCKER=${DOCKER:-/usr/bin/docker}

cur=$("$DOCKER" image inspect -f '{{.Architecture}}/{{.Variant}}' "$IMAGE")
if [ "$cur" = "$ARCH/$VARIANT" ]; then
    echo "set-image-arch: $IMAGE already $ARCH${VARIANT:+/$VARIANT}"; exit 0
fi
old_id=$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE")
tmp=$(mktemp -d /var/tmp/galley-setarch.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$DOCKER" save "$IMAGE" | tar -C "$tmp" -x
cfg=$(jq -r '.[0].Config' "$tmp/manifest.json")
jq -c --arg a "$ARCH" --arg v "$VARIANT" \
    '.architecture = $a | if $v == "" then del(.variant) else .variant = $v end' \
    "$tmp/$cfg" >"$tmp/new.json"
sum=$(sha256sum "$tmp/new.json" | cut -d' ' -f1)
mv "$tmp/new.json" "$tmp/$sum.json"
rm -f "$tmp/$cfg"
jq --arg c "$sum.json" --arg t "$IMAGE" '.[0].Config = $c | .[0].RepoTags = [$t]' \
    "$tmp/manifest.json" >"$tmp/m.json"
mv "$tmp/m.json" "$tmp/manifest.json"
rm -f "$tmp/repositories"
tar -C "$tmp" -c . | "$DOCKER" load -q >/dev/null
# drop the old, now untagged image if nothing else references it
"$DOCKER" image rm "$old_id" >/dev/null 2>&1 || true
echo "set-image-arch: $IMAGE -> $("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}}/{{.Variant}} {{.Id}}' "$IMAGE")"
