#!/usr/bin/env bash
# Provision the docker side for galley on a Debian 12 host (run as root).
# Idempotent and non-interactive; fast when everything is already in place.
#
#   - apt packages: docker.io qemu-user-static binfmt-support debootstrap docker-registry
#   - dockerd running (background, log: /var/log/galley-dockerd.log)
#   - binfmt_misc handlers for aarch64 / s390x / ppc64le
#   - local registry on 127.0.0.1:5000 (Debian docker-registry, distribution 2.8)
#
# Prints one "component: status" line per component. Exits non-zero with a message on failure.
# Environment overrides: GALLEY_REGISTRY_ADDR (default 127.0.0.1:5000),
# GALLEY_REGISTRY_DIR (default /var/lib/galley-registry), DOCKERD_WAIT (default 60 s).
set -euo pipefail

DOCKER=/usr/bin/docker            # Debian 20.10 client (BuildKit with DOCKER_BUILDKIT=1)
DOCKERD_LOG=/var/log/galley-dockerd.log
DOCKERD_WAIT=${DOCKERD_WAIT:-60}
REG_ADDR=${GALLEY_REGISTRY_ADDR:-127.0.0.1:5000}
REG_DIR=${GALLEY_REGISTRY_DIR:-/var/lib/galley-registry}
REG_CONFIG=$REG_DIR/config.yml
REG_LOG=/var/log/galley-registry.log
PACKAGES=(docker.io qemu-user-static binfmt-support debootstrap docker-registry)
# binfmt_misc handler name -> qemu binary
declare -A BINFMT=([qemu-aarch64]=qemu-aarch64-static [qemu-s390x]=qemu-s390x-static [qemu-ppc64le]=qemu-ppc64le-static)

die() { echo "provision: ERROR: $*" >&2; exit 1; }
status() { printf '%-10s %s\n' "$1:" "$2"; }

[ "$(id -u)" = 0 ] || die "must run as root"

# ---------------------------------------------------------------- packages
missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/var/log/galley-apt.log 2>&1; then
        # package lists may be stale/missing: update once and retry
        apt-get update -q >>/var/log/galley-apt.log 2>&1 || die "apt-get update failed (see /var/log/galley-apt.log)"
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>/var/log/galley-apt.log 2>&1 \
            || die "apt-get install ${missing[*]} failed (see /var/log/galley-apt.log)"
    fi
    status packages "installed ${missing[*]}"
else
    status packages "ok (already installed)"
fi
[ -x "$DOCKER" ] || die "$DOCKER missing after installing docker.io"

# ---------------------------------------------------------------- dockerd
if "$DOCKER" info >/dev/null 2>&1; then
    status dockerd "ok (already running, $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null))"
else
    if pgrep -x dockerd >/dev/null; then
        action="waited for already starting dockerd"   # e.g. started a moment ago by someone else
    else
        # stale pid file from a killed dockerd makes the new one refuse to start
        rm -f /var/run/docker.pid
        # containerd is started by dockerd itself when no system containerd is running.
        setsid nohup /usr/sbin/dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
        action=started
    fi
    ok=0
    for _ in $(seq "$DOCKERD_WAIT"); do
        if "$DOCKER" info >/dev/null 2>&1; then ok=1; break; fi
        sleep 1
    done
    [ $ok = 1 ] || die "dockerd did not answer within ${DOCKERD_WAIT}s; last log lines:
$(tail -n 15 "$DOCKERD_LOG")"
    status dockerd "$action (pid $(pgrep -o -x dockerd), $("$DOCKER" version -f '{{.Server.Version}}'), log $DOCKERD_LOG)"
fi

# ---------------------------------------------------------------- binfmt
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
        || die "cannot mount binfmt_misc on /proc/sys/fs/binfmt_misc"
fi
need=()
for h in "${!BINFMT[@]}"; do
    [ -e "/proc/sys/fs/binfmt_misc/$h" ] || need+=("$h")
done
if [ ${#need[@]} -gt 0 ]; then
    for h in "${need[@]}"; do
        # binfmt-support reads /usr/share/binfmts/<name> shipped by qemu-user-static
        update-binfmts --import "$h" >/dev/null 2>&1 || true
        update-binfmts --enable "$h" >/dev/null 2>&1 || true
    done
fi
bad=()
for h in "${!BINFMT[@]}"; do
    f=/proc/sys/fs/binfmt_misc/$h
    if [ ! -e "$f" ] || ! grep -q '^enabled' "$f"; then bad+=("$h"); fi
done
[ ${#bad[@]} -eq 0 ] || die "binfmt handlers not registered: ${bad[*]}"
if [ ${#need[@]} -gt 0 ]; then
    status binfmt "registered ${need[*]}"
else
    status binfmt "ok (qemu-aarch64 qemu-s390x qemu-ppc64le, flags: $(sed -n 's/^flags: //p' /proc/sys/fs/binfmt_misc/qemu-aarch64))"
fi

# ---------------------------------------------------------------- registry
if curl -fsS "http://$REG_ADDR/v2/" >/dev/null 2>&1; then
    status registry "ok (already serving http://$REG_ADDR)"
else
    mkdir -p "$REG_DIR/data"
    cat >"$REG_CONFIG.tmp" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REG_ADDR
health:
  storagedriver:
    enabled: false
EOF
    mv "$REG_CONFIG.tmp" "$REG_CONFIG"
    setsid nohup /usr/bin/docker-registry serve "$REG_CONFIG" >>"$REG_LOG" 2>&1 </dev/null &
    ok=0
    for _ in $(seq 20); do
        if curl -fsS "http://$REG_ADDR/v2/" >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.5
    done
    [ $ok = 1 ] || die "registry did not answer on http://$REG_ADDR/v2/; last log lines:
$(tail -n 15 "$REG_LOG")"
    status registry "started (http://$REG_ADDR, config $REG_CONFIG, log $REG_LOG)"
fi
