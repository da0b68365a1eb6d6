"""The sh scripts galley runs in builder images (which have no Python): cook.sh, drop.sh,
build.sh and warm.sh, and the paths they share with the Dockerfiles in build/."""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Sequence
from pathlib import Path

from galley import cachekey, chefcmd, delta
from galley.chef import cleanup
from galley.chef.cooker import cargo_args, outside_sources
from galley.chef.recipe import Recipe, TargetKind
from galley.plan import Plan
from galley.restored import KINDS

SRC, TARGET, VENDOR, WARM = "/galley/src", "/galley/target", "/galley/vendor", "/galley/warm"
RECIPE = "/galley/recipe.json"  # the cook's recipe (what `cargo chef cook` reads)
#: The cook's name for the source at VENDOR (one no workspace config uses).
SOURCE_NAME = "galley-vendored"
COOKED = "/galley/cooked"  # the cook image's target dir, bind-mounted beside the cache mount
DUMMIES = ".galley-dummies.txt"
BUILT = ".galley-built"  # in a cache mount: a build already ran there (warm images not needed)
MOUNT_KEY = ".galley-key"  # in a cache mount: the cache key whose cook it was last filled from
FILLING = ".galley-filling"  # in a cache mount: a fill from a cook began and did not end
SOURCES = ".galley-sources.txt"  # in a cache mount: `sha256 mtime path` of the last build's sources
#: In a cache mount: `size mtime path` of each dependency artifact the cook image gave it (see
#: mount_check_functions), sorted; and the paths `verify` found damaged, for the next build.
RECORD, SUSPECT = ".galley-cooked.txt", ".galley-suspect.txt"
HEALED = "healed.txt"  # in /out: the dependency artifacts the build restored from the cook image
MESSAGES = "cargo-messages.jsonl"
RUN_ID_NAME = "run-id"  # the build's nonce, mounted at /galley/<name> and copied to /out
RUNNER = "/galley/runner"  # the host's qemu-user for a cross build's tests (run.sh)
DROP_END = "GALLEY_DROP_SH"  # the end of drop.sh's here-document


def cook_script(plan: Plan, mode: str) -> str:
    """cook.sh: cargo on the skeleton galley wrote (or `cargo chef cook`, which writes it, with
    chef = cargo-chef), then every compiled trace of the local crates removed."""
    command = chef_command(plan) if plan.chef == "cargo-chef" else cargo_command(plan)
    script = env_lines(plan, mode) + shlex.join(command) + "\n"
    return "set -eu\n" + cd_workspace(plan) + script + cleanup.shell_script(plan.recipe, TARGET)


def cd_workspace(plan: Plan) -> str:
    """`cd` to the workspace when it is nested in the tree at SRC (see galley.layout)."""
    nest = plan.layout.nest
    return f"cd {shlex.quote(f'{SRC}/{nest}')}\n" if nest else ""


def cargo_command(plan: Plan) -> list[str]:
    """The cook's cargo command line, offline, with the target dir at TARGET. The sources that
    the workspace's cargo config puts outside the workspace are not in the image: they are
    replaced by the vendor dir, which `cargo vendor` filled from them (a command-line
    `--config` beats the workspace's config)."""
    options = cargo_args(plan.cook_options(Path(TARGET)))
    return ["cargo", *options, "--offline", *_served(plan)]


def _served(plan: Plan) -> list[str]:
    """cargo's `--config` replacing the sources outside the workspace (see cargo_command)."""
    return [
        f'--config=source.{json.dumps(name)}.replace-with="{SOURCE_NAME}"'
        for name in outside_sources(plan.recipe)
    ]


def chef_command(plan: Plan) -> list[str]:
    """`cargo chef cook` of the recipe at RECIPE with the flags of galley's own cook, offline:
    the seed's classic cook stage, for builder images that have cargo-chef. It cannot pass
    `--config` to cargo, so the recipe at RECIPE serves outside sources itself (see
    vendor.served_recipe)."""
    options = dataclasses.replace(plan.cook_options(Path(TARGET)), offline=True)
    return chefcmd.cook_command(["cargo", "chef"], Path(RECIPE), options)


def env_lines(plan: Plan, mode: str, keep_incremental: bool = False) -> str:
    """`export` lines for cargo: the user's variables that mean the same in the image (see
    cachekey.carried_into_images; `CFLAGS_<triple>` as the cc crate's other spelling,
    `CFLAGS_<triple_with_underscores>`), no incremental unless `keep_incremental` (a run: see
    Plan.cargo_env), the target's linker, the user's rustflags. With no linker from galley
    (the host arch, or one the workspace's cargo config names), the builder image's
    CARGO_TARGET_<TRIPLE>_LINKER is unset, so cargo's own choice stands."""
    variable = cachekey.target_variable(plan.triple, "LINKER")
    linker = "cc" if plan.linker and mode == "emulate" else plan.linker  # a native builder
    env: dict[str, str] = {}
    for name, value in plan.key_manifest.get("env", {}).items():
        if cachekey.carried_into_images(name):
            env.setdefault(name.replace("-", "_").replace(".", "_"), value)
    if not keep_incremental:
        env["CARGO_INCREMENTAL"] = "0"
    if plan.settings.source_date_epoch is not None:  # as the local backend sets it
        env["SOURCE_DATE_EPOCH"] = str(plan.settings.source_date_epoch)
    if linker:
        env[variable] = linker
    flags = plan.rustflags
    if flags:
        env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join(flags)
    lines = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    return lines if linker else lines + f"unset {variable}\n"


def drop_script(recipe: Recipe, target: str = TARGET) -> str:
    """delta.drop_unused in a builder image (which has no Python): galley/drop.sh itself, written
    out by a here-document, run on `target` with the names of the packages to keep."""
    names = shlex.join(sorted(delta.keep_names(recipe)))
    return (
        "drop_sh=$(mktemp)\n"
        f"cat > \"$drop_sh\" <<'{DROP_END}'\n{delta.drop_script()}{DROP_END}\n"
        f'sh "$drop_sh" {shlex.quote(target)} {names} > /dev/null\n'
        'rm -f "$drop_sh"\n'
    )


def build_script(plan: Plan, mode: str, mounted: bool) -> str:
    """build.sh: cargo on the real sources; the binaries, cargo's messages, the dummies' record
    and the build's nonce to /out. `mounted`: the target dir is the build's cache mount."""
    profile_dir = f"{TARGET}/{plan.triple}/{plan.profile_dir}"
    copy = "".join(
        f"if [ -f {profile_dir}/{shlex.quote(name)} ]; then "
        f"cp {profile_dir}/{shlex.quote(name)} /out/{kind}/; fi\n"
        for kind, name in _output_names(plan)
    )
    cargo = shlex.join([*cargo_command(plan), "--message-format=json-render-diagnostics"])
    outputs = copy + f"cp {TARGET}/{DUMMIES} /out/ 2>/dev/null || true\n"
    return _step_script(plan, mode, mounted, "mkdir -p /out/bin /out/lib\n",
                        f"{cargo} > /out/{MESSAGES}\n", outputs)  # fmt: skip


def run_script(plan: Plan, mode: str, mounted: bool, extra: Sequence[str]) -> str:
    """run.sh: `cargo test|check|clippy` (the plan's work) on the real sources, its output in
    the step's log, the build's nonce to /out. Foreign tests in cross mode run under the
    host's static qemu-user, bound at RUNNER, with the arch's libraries from Debian's cross
    libc in the builder."""
    command = ["cargo", *plan.cargo_command(Path(TARGET)), "--offline", *_served(plan)]
    command += ["--", *extra] if extra else []
    return _step_script(plan, mode, mounted, "mkdir -p /out\n" + _runner_line(plan, mode),
                        f"{shlex.join(command)}\n")  # fmt: skip


def _step_script(
    plan: Plan, mode: str, mounted: bool, setup: str, cargo: str, outputs: str = ""
) -> str:
    """The build step's script around one cargo command: in the cache mount (`mounted`), its
    check and healing, the fill from the cook, the warm start and the retiming of the sources
    before, the retry on damaged artifacts and the record of the sources after."""
    return (
        "set -eu\n"
        + setup
        + cd_workspace(plan)
        + env_lines(plan, mode, keep_incremental=plan.work != "build")
        + (mount_check_functions() + heal_mount_script() if mounted else "")
        + (fill_mount_script(plan.key, plan.recipe) + warm_apply_script() if mounted else "")
        + (retime_script() if mounted else "")
        + (retry_on_damage_script(cargo) if mounted else cargo)
        + (record_sources_script() if mounted else "")
        + f"touch {TARGET}/{BUILT}\n"
        + outputs
        + f"if [ -f /galley/{RUN_ID_NAME} ]; then cp /galley/{RUN_ID_NAME} /out/; fi\n"
    )


def _runner_line(plan: Plan, mode: str) -> str:
    """The runner's `export`: qemu-user with the arch's multiarch libc the builder has (its
    std pulls it in); with Debian's cross libc (`-L`) only where there is none, since `-L`
    falls back to the real root for what the prefix lacks, and a cross ld.so paired with the
    multiarch libc.so.6 hangs at the first thread."""
    program = plan.test_runner(emulated=mode == "emulate")
    if program is None:
        return ""
    variable = cachekey.target_variable(plan.triple, "RUNNER")
    triple = plan.arch.gcc_triple
    return (
        f"if [ -e /lib/{triple}/libc.so.6 ]; then {variable}={RUNNER}/{program}; "
        f'else {variable}="{RUNNER}/{program} -L /usr/{triple}"; fi\n'
        f"export {variable}\n"
    )


def fill_mount_script(key: str, recipe: Recipe) -> str:
    """For build.sh: when the cache mount was last filled from another key's cook (or never),
    add the files of this cook's target dir that the mount lacks, and drop what the lockfile no
    longer has. A file both have is the same artifact (the mount is per key input but the
    recipe, and cargo names artifacts by a hash of their inputs), so the mount's copy stays with
    its mtime: cargo rebuilds a crate whose dependency is newer, and a cook made after the last
    build (on a CI machine, then pulled) would make every workspace crate stale. A fill that was
    cut short is done again by copying everything over."""
    missing_only = f"""(cd {COOKED} && find . ! -type d | while read -r path; do
            [ -e "{TARGET}/$path" ] || printf '%s\\n' "$path"
        done | tar -T - -cf -) | tar -xpf - -C {TARGET}
"""
    return (
        f'if [ "$(cat {TARGET}/{MOUNT_KEY} 2>/dev/null || true)" != {key} ] '
        f"|| [ ! -f {TARGET}/{RECORD} ]; then\n"
        f"    if [ -e {TARGET}/{FILLING} ]; then\n"
        f"        cp -a {COOKED}/. {TARGET}/\n"
        "    else\n"
        f"        touch {TARGET}/{FILLING}\n"
        f"        {missing_only}"
        f"        cp -a {COOKED}/{DUMMIES} {TARGET}/ 2>/dev/null || true\n"
        "    fi\n"
        + drop_script(recipe, TARGET)
        + "    galley_record\n"
        + f"    echo {key} > {TARGET}/{MOUNT_KEY}\n"
        + f"    rm -f {TARGET}/{FILLING}\n"
        + "fi\n"
    )


#: find's test for a dependency artifact's place: in a profile dir's deps/, build/ or
#: .fingerprint/ (restored.KINDS; not cargo's own bookkeeping beside them, which cargo may
#: rewrite).
ARTIFACT_TEST = (
    r"-type f \( " + " -o ".join(f"-path '*/{kind}/*'" for kind in sorted(KINDS)) + r" \)"
)


def mount_check_functions() -> str:
    """sh functions on the cache mount's record of what came from the cook image (RECORD:
    `size mtime path` of each dependency artifact, as in the mount after the fill; a file both
    had, which the fill kept, is the same artifact). The cook image, bound at COOKED, is the
    reference: a file differs when its bytes do (`cmp`), and is restored from there with its
    recorded mtime (cargo decides freshness by mtimes). The workspace crates' artifacts are not
    in the cook, so never in the record.

    - galley_listed FILE [unlisted]: the record lines on stdin whose path FILE lists (with
      `unlisted`: whose path it does not list).
    - galley_record: the record, after a fill (and no suspects).
    - galley_changed: the recorded paths whose size or mtime differ (or that are gone), and
      the suspects `verify` found: the cheap check.
    - galley_differing FILE: of the paths in FILE that the cook image has, those whose bytes
      differ; `galley_differing` alone: every recorded path checked (`diff -rq`, one process).
    - galley_restore FILE: the paths in FILE restored from the cook image, the suspects
      cleared; galley_retime FILE: their recorded mtime back.
    - galley_forget_changed: after a build, the record without what cargo compiled again."""
    strip = r"sed 's/^[^ ]* [^ ]* //'"
    return f"""galley_artifacts() {{
    (cd "$1" && find . {ARTIFACT_TEST} -printf '%s %T@ %P\\n') | LC_ALL=C sort
}}
galley_listed() {{
    awk -v keep="${{2:-listed}}" 'NR == FNR {{ listed[$0] = 1; next }}
        {{ path = $0; sub(/^[^ ]+ [^ ]+ /, "", path) }}
        (path in listed) == (keep == "listed")' "$1" -
}}
galley_record() {{
    (cd {COOKED} && find . {ARTIFACT_TEST} -printf '%P\\n') > /tmp/galley-cooked
    galley_artifacts {TARGET} | galley_listed /tmp/galley-cooked > {TARGET}/{RECORD}
    rm -f {TARGET}/{SUSPECT}
}}
galley_changed() {{
    [ -f {TARGET}/{RECORD} ] || return 0
    galley_artifacts {TARGET} | LC_ALL=C comm -23 {TARGET}/{RECORD} - | {strip}
    cat {TARGET}/{SUSPECT} 2>/dev/null || true
}}
galley_differing() {{
    [ -f {TARGET}/{RECORD} ] || return 0
    if [ $# -gt 0 ]; then
        LC_ALL=C sort -u "$1" | while IFS= read -r path; do
            if [ -f "{COOKED}/$path" ] && ! cmp -s "{COOKED}/$path" "{TARGET}/$path"; then
                printf '%s\\n' "$path"
            fi
        done
        return 0
    fi
    {strip} {TARGET}/{RECORD} > /tmp/galley-recorded
    {{
        LC_ALL=C diff -rq {COOKED} {TARGET} 2>/dev/null \\
            | sed -n 's|^Files {COOKED}/\\(.*\\) and {TARGET}/.* differ$|\\1|p' || true
        while IFS= read -r path; do
            [ -e "{TARGET}/$path" ] || printf '%s\\n' "$path"
        done < /tmp/galley-recorded
    }} | awk 'NR == FNR {{ recorded[$0] = 1; next }} $0 in recorded' /tmp/galley-recorded - \\
        | LC_ALL=C sort -u
}}
galley_restore() {{
    galley_listed "$1" < {TARGET}/{RECORD} | while read -r size mtime path; do
        mkdir -p "$(dirname "{TARGET}/$path")"
        cp -p "{COOKED}/$path" "{TARGET}/$path.galley-restoring"
        touch -c -d "@$mtime" "{TARGET}/$path.galley-restoring"
        mv -f "{TARGET}/$path.galley-restoring" "{TARGET}/$path"
    done
    rm -f {TARGET}/{SUSPECT}
}}
galley_retime() {{
    galley_listed "$1" < {TARGET}/{RECORD} | while read -r size mtime path; do
        if [ -f "{TARGET}/$path" ]; then touch -c -d "@$mtime" "{TARGET}/$path"; fi
    done
}}
galley_forget_changed() {{
    [ -f {TARGET}/{RECORD} ] || return 0
    galley_artifacts {TARGET} | LC_ALL=C comm -12 {TARGET}/{RECORD} - > /tmp/galley-record
    cat /tmp/galley-record > {TARGET}/{RECORD}
}}
"""


def heal_mount_script() -> str:
    """For build.sh, before the fill: the cheap check of the cache mount against its record;
    what differs from the cook image is restored, said in one line and listed in /out."""
    return f"""galley_changed > /tmp/galley-changed
if [ -s /tmp/galley-changed ]; then
    galley_differing /tmp/galley-changed > /tmp/galley-damaged
    galley_retime /tmp/galley-changed
    if [ -s /tmp/galley-damaged ]; then
        galley_restore /tmp/galley-damaged
        cat /tmp/galley-damaged >> /out/{HEALED}
        echo "galley: $(wc -l < /tmp/galley-damaged) dependency artifact(s) in the build cache \
mount differed from the cook image ($(head -n 1 /tmp/galley-damaged | xargs basename)...); \
restored" >&2
    fi
    rm -f {TARGET}/{SUSPECT}
fi
"""


def retry_on_damage_script(cargo: str) -> str:
    """For build.sh: cargo; when it fails, every recorded artifact is compared with the cook
    image, and if some differ they are restored (said in one line) and cargo runs once more.
    A failure with nothing differing exits with cargo's status, as before. After the build,
    the record forgets what cargo compiled again (its own, no longer the cook's)."""
    return f"""set +e
{cargo}status=$?
set -e
if [ "$status" -ne 0 ]; then
    galley_differing > /tmp/galley-damaged
    if [ ! -s /tmp/galley-damaged ]; then exit "$status"; fi
    galley_restore /tmp/galley-damaged
    cat /tmp/galley-damaged >> /out/{HEALED}
    echo "galley: the build failed, and $(wc -l < /tmp/galley-damaged) dependency artifact(s) \
in the build cache mount differed from the cook image \
($(head -n 1 /tmp/galley-damaged | xargs basename)...); restored, building again" >&2
    {cargo}fi
galley_forget_changed
"""


def verify_mount_script(key: str, repair: bool) -> str:
    """verify.sh, in a step with the build's cache mount and cook image: every recorded
    dependency artifact compared with the cook image; to /out, `state` (`checked`, or why not)
    and `damaged.txt`. Those that differ are restored (`repair`), or marked for the next build
    to restore."""
    act = (
        "galley_restore /out/damaged.txt"
        if repair
        else f"cat /out/damaged.txt >> {TARGET}/{SUSPECT}"
    )
    return f"""set -eu
mkdir -p /out
: > /out/damaged.txt
{mount_check_functions()}if [ "$(cat {TARGET}/{MOUNT_KEY} 2>/dev/null || true)" != {key} ]; then
    echo "it was filled from another key's cook since; the next build checks it" > /out/state
elif [ ! -f {TARGET}/{RECORD} ]; then
    echo "no record of what the cook image gave it; the next build makes one" > /out/state
else
    galley_differing > /out/damaged.txt
    if [ -s /out/damaged.txt ]; then {act}; fi
    echo checked > /out/state
fi
"""


def record_sources_script() -> str:
    """For build.sh, after cargo: `sha256 mtime path` of every source file, in the mount."""
    return f"""find {SRC} -type f -printf '%T@\\t%p\\n' > /tmp/galley-mtimes
find {SRC} -type f -print0 | xargs -0 -r sha256sum \\
    | awk -F '\\t' 'NR == FNR {{ mtime[$2] = $1; next }}
        {{ path = substr($0, 67); print substr($0, 1, 64), mtime[path], path }}' \\
        /tmp/galley-mtimes - > {TARGET}/{SOURCES}
"""


def retime_script() -> str:
    """For build.sh: make source mtimes tell the truth to cargo, whatever mtimes the checkout
    came with (cargo-chef #212: an edited file older than the artifacts was not rebuilt).
    Against the last build's record: every file is first stamped newer than every artifact,
    then the unchanged ones (same sha256) get back the mtime they were compiled with, in whole
    seconds (image layers keep whole seconds: a warm artifact's 12.4 s became 12.0 s). The
    stamp is the clock, to the nanosecond, so a build that starts right after the last one ends
    need not wait. Only when an artifact is newer than the clock (a machine whose clock is
    ahead) is the stamp ahead of it; that is waited for, up to 2 s, or cargo's new artifacts
    would be older than their sources and the next build would compile again."""
    return f"""if [ -f {TARGET}/{SOURCES} ]; then
    newest=$(find {TARGET} -type f -printf '%T@\\n' | sort -n | tail -n 1)
    now=$(date +%s.%N)
    stamp=$(awk -v n="${{newest:-0}}" -v t="$now" \\
        'BEGIN {{ if (t + 0 > n + 0) print t; else printf "%.6f\\n", n + 0.001 }}')
    find {SRC} -type f -exec touch -c -d "@$stamp" {{}} +
    ahead=$(awk -v s="$stamp" -v t="$now" \\
        'BEGIN {{ d = s - t; if (d > 0 && d <= 2) printf "%.6f\\n", d }}')
    if [ -n "$ahead" ]; then sleep "$ahead"; fi
    find {SRC} -type f -print0 | xargs -0 -r sha256sum \\
        | awk 'NR == FNR {{ sum = $1; mtime = $2; sub(/^[^ ]+ [^ ]+ /, "")
                          was[$0] = sum " " mtime; next }}
            {{ path = substr($0, 67); split(was[path], w, " ")
              if (w[1] == substr($0, 1, 64)) {{
                  sub(/\\..*/, "", w[2]); print w[2] "\\t" path }} }}' \\
            {TARGET}/{SOURCES} - > /tmp/galley-restore
    cut -f1 /tmp/galley-restore | sort -u | while read -r mtime; do
        awk -F '\\t' -v m="$mtime" '$1 == m {{ print $2 }}' /tmp/galley-restore \\
            | tr '\\n' '\\0' | xargs -0 -r touch -c -d "@$mtime"
    done
fi
"""


def _output_names(plan: Plan) -> list[tuple[str, str]]:
    """("bin", name) for every local binary and ("lib", lib<name>.so) for every local library
    that could be a cdylib; the host ships those cargo's messages name (`dist.payload`)."""
    libraries = {
        f"lib{target.name.replace('-', '_')}.so"
        for manifest in plan.recipe.manifests
        for target in manifest.targets
        if target.kind is TargetKind.LIB
    }
    return sorted([("bin", name) for name in plan.binaries] + [("lib", n) for n in libraries])


def warm_capture_script() -> str:
    """warm.sh: what the cache mount holds beyond the cook (files the cook image lacks or has
    older: the workspace crates), and the record of the sources they were compiled from."""
    return f"""set -eu
mkdir -p {WARM}/target
cd {TARGET}
[ -f {SOURCES} ] || exit 0
find . -type f ! -name {BUILT} ! -name {MOUNT_KEY} ! -name {SOURCES} ! -name {RECORD} \\
    ! -name {SUSPECT} | while read -r path; do
    if [ ! -e "{COOKED}/$path" ] || [ "$path" -nt "{COOKED}/$path" ]; then echo "$path"; fi
done | tar -T - -cf - | tar -xpf - -C {WARM}/target
cp {SOURCES} {WARM}/sources.txt
"""


def warm_apply_script() -> str:
    """For build.sh: a cache mount with no build yet (a new machine) starts from the warm
    image's workspace crates and their record of sources (then retimed, see retime_script)."""
    return f"""if [ -f {WARM}/sources.txt ] && [ ! -e {TARGET}/{BUILT} ]; then
    (cd {WARM}/target && tar -cf - .) | tar -xpf - -C {TARGET}
    cp {WARM}/sources.txt {TARGET}/{SOURCES}
    if [ -f {TARGET}/{RECORD} ]; then  # what the warm image brought is not the cook's
        (cd {WARM}/target && find . -type f -printf '%P\\n') > /tmp/galley-warm
        galley_listed /tmp/galley-warm unlisted < {TARGET}/{RECORD} > /tmp/galley-record
        cat /tmp/galley-record > {TARGET}/{RECORD}
    fi
    echo "galley: started from the warm image's workspace crates" >&2
fi
"""
