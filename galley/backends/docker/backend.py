"""The docker backend: cook images keyed by the cache key, builds on top of them.

Cook: the recipe's skeleton is materialised on the host, dependencies are vendored on the host
(`cargo vendor`, honouring the workspace's source replacement), and the cook stage compiles them
in the builder image with no network. The image is tagged `galley-cook:<arch>-<key12>` (and
`<registry>/<repository>:cook-<arch>-<key12>` when a registry is set). Build: a stage FROM the
cook image with the real sources; only the binaries leave it.

The build's cache mount is one per workspace and key inputs but the recipe: a new key's cook
is copied over it and the workspace crates stay, so a dependency bump recompiles only what
depends on the change. Each build records `sha256 mtime path` of its sources there, and the next
one first stamps every source newer than every artifact and gives unchanged files their recorded
mtime back: cargo's mtime check then tells the truth, whatever mtimes BuildKit's reused COPY
layers or a checkout carry (cargo-chef #212). What a fill gave the mount from the cook image is
recorded there too, so that damage in the mount is found and healed from the cook image
(scripts.mount_check_functions); `verify` checks it in a step with the same mount.

Warm images (`<cook tag>-warm`, `<registry>/<repository>:warm-<arch>-<key12>`): `build --push`
also publishes the workspace crates its build compiled, with that record. A build on a new
machine (cook image pulled, nothing built in its mount yet) starts from them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galley import arch as arches
from galley import cachekey, delta, dist, filelock, jsonfile, shell, toml_io, toolchain_file
from galley.arch import Arch
from galley.backends.docker import assets, images, scripts, vendor
from galley.backends.docker.client import Docker, Image, detect, registry_has
from galley.backends.docker.scripts import (
    COOKED,
    DUMMIES,
    MESSAGES,
    RUN_ID_NAME,
    RUNNER,
    SRC,
    TARGET,
)
from galley.chef import cleanup, skeleton
from galley.chef.cooker import copy_patch_sources, copy_vendored_dirs
from galley.chef.recipe import Recipe
from galley.errors import CommandFailed, DockerError, ToolNotFound
from galley.hashing import sha256_file
from galley.options import Settings
from galley.plan import Plan, Work, make_plan
from galley.results import ArchResult, CacheStatus
from galley.runs import RunReport, check_failed
from galley.verify import Report

LOCK = ".lock"  # beside a build context: held by the build using it
IMAGE_ID = ".iid"  # beside a build context: the ID of the image the build just made
RUN_ID = ".run-id"  # beside a build context: this build's nonce, a secret (not in the cache key)
RUN_ID_SECRET = "galley-run-id"
MOUNT = ".mount.json"  # beside a build context: the cache mount of the last build, for verify


@dataclass(frozen=True)
class DockerPlan:
    """A plan plus what docker needs: client, builder, mode and image names."""

    plan: Plan
    docker: Docker
    builder: images.Builder
    mode: str

    @property
    def local_tag(self) -> str:
        repository = self.plan.settings.rebuild.cook_repository
        return f"{repository}:{self.plan.arch.name}-{self.plan.key[:12]}"

    @property
    def remote_ref(self) -> str | None:
        registry = self.plan.settings.registry
        if not registry:
            return None
        repository = self.plan.settings.repository
        return f"{registry}/{repository}:cook-{self.plan.arch.name}-{self.plan.key[:12]}"

    @property
    def local_warm_tag(self) -> str:
        return f"{self.local_tag}-warm"

    @property
    def remote_warm_ref(self) -> str | None:
        remote = self.remote_ref
        return remote.replace(":cook-", ":warm-", 1) if remote else None

    @property
    def uses_cache_mount(self) -> bool:
        return self.docker.mode != "legacy" and not self.plan.settings.rebuild.no_cache


def plans(
    settings: Settings, recipe: Recipe, arches: list[Arch], mode: str, work: Work = "build"
) -> list[DockerPlan]:
    # the daemon is checked by the first image query
    docker = detect(settings.client, settings.cache_dir)
    print(f"galley: docker client {docker.describe()}", file=sys.stderr)
    needed = toolchain_file.required_release(recipe)
    if needed and not settings.builder_image:  # before any image is built
        _check_releases(settings, arches, mode, needed)
    found = []
    for arch in arches:
        builder = images.builder_image(docker, settings, arch, mode)
        facts = _builder_facts(docker, builder, settings)
        toolchain = _toolchain(docker, builder, facts)
        if needed and not toolchain_file.meets(toolchain.release, needed.release):
            raise ToolNotFound(
                f"the workspace needs Rust {needed.release} ({needed.source}), but builder "
                f"image {builder.tag} has rustc {toolchain.release}; set builder_image to one "
                f"with Rust {needed.release} or newer"
            )
        triple = settings.triple(arch)
        if not toolchain.has_std(triple):
            raise ToolNotFound(
                f"builder image {builder.tag} (rustc {toolchain.release}) has no std for "
                f"{triple}{_std_hint(triple)}; set builder_image (or --builder-image) to one "
                "that has it"
            )
        warning = toolchain_file.mismatch_warning(recipe, toolchain.release, builder.tag)
        if warning:
            print(warning, file=sys.stderr)
        chef = _chef(settings.chef, facts, builder)
        plan = make_plan(
            settings.replace(chef=chef), arch, recipe, toolchain,
            builder_image=builder.image_id, work=work, backend="docker", mode=mode,
        )  # fmt: skip
        found.append(DockerPlan(plan, docker, builder, mode))
    return found


def _std_hint(triple: str) -> str:
    """What galley's own builders offer for a musl target."""
    if not triple.endswith("-musl"):
        return ""
    musl = " and ".join(arches.MUSL_ARCHES)
    return f" (galley's builders build a musl std for {musl} only)"


def _check_releases(
    settings: Settings, arches: list[Arch], mode: str, needed: toolchain_file.Requirement
) -> None:
    """One line, before any image is built, when the release of a builder galley would build
    is older than what the workspace needs, naming what Debian has for each arch."""
    chosen = {arch: images.rust_release(settings, arch, mode) for arch in arches}
    short = [
        f"{r} for {a.name}"
        for a, r in chosen.items()
        if not toolchain_file.meets(r, needed.release)
    ]
    if not short:
        return
    offers = "; ".join(
        f"{a.name}: {', '.join(images.offered(settings, a, mode)) or 'none'}" for a in arches
    )
    raise ToolNotFound(
        f"the workspace needs Rust {needed.release} ({needed.source}), newer than the "
        f"builder's {', '.join(short)}; Debian's rustc-web has {offers}; nothing was cooked: "
        f"set rust to a release that is new enough, or builder_image to an image with Rust "
        f"{needed.release} or newer"
    )


def forget_cook_images(settings: Settings) -> None:
    """Remove every local image named `<cook_repository>:*` (throw-away verify cooks)."""
    docker = detect(settings.client, settings.cache_dir)
    for reference in docker.references(settings.rebuild.cook_repository):
        docker.remove_image(reference)


def cook(dplan: DockerPlan, push: bool) -> ArchResult:
    """A local cook image (hit), one pulled from the registry (pulled), or a new cook (miss)."""
    started = time.monotonic()
    plan, docker = dplan.plan, dplan.docker
    result = ArchResult(plan.arch.name, plan.triple, plan.key, "hit")
    image = _own_image(dplan, dplan.local_tag, "cook")
    if image is None:
        with filelock.exclusive(_cook_lock(plan), remove=True):  # one cook per key; the rest hit
            image = _own_image(dplan, dplan.local_tag, "cook", warn=False)  # said above
            if image is None:
                with result.phase("pull or cook"):
                    result.cache, image = _pull_or_cook(dplan, result)
    if push and dplan.remote_ref:
        _push(docker, dplan.local_tag, dplan.remote_ref)
        result.details["pushed"] = dplan.remote_ref
    builder = dplan.builder
    result.details.update(
        cook_image=dplan.local_tag, builder_image=builder.tag, builder=builder.status,
        builder_size=builder.size, chef=plan.chef,
    )  # fmt: skip
    if dplan.remote_ref:
        result.details["registry_image"] = dplan.remote_ref
    result.details["docker_client"] = docker.describe()
    result.size = image.size if image else 0
    result.seconds = time.monotonic() - started
    return result


def build(dplan: DockerPlan, push: bool, work_root: Path, dist_dir: Path) -> ArchResult:
    """Cook if needed, then build the real sources on top; outputs to `dist/<arch>/`. Nothing
    runs in docker when the build's inputs and its verified outputs are those of the last build
    (a no-op build)."""
    started = time.monotonic()
    result = cook(dplan, push)
    context = work_root / f"build-{dplan.plan.arch.name}"
    with filelock.exclusive(_beside(context, LOCK)):
        _build_in(dplan, context, push, dist_dir, result)
    result.seconds = time.monotonic() - started
    return result


def _build_in(
    dplan: DockerPlan, context: Path, push: bool, dist_dir: Path, result: ArchResult
) -> None:
    """The build in `context`, which every build of the arch in this cache dir uses (the
    caller holds its lock)."""
    plan = dplan.plan
    with result.phase("sync sources"):
        _write_context(dplan, context)
    with result.phase("find warm image"):
        base = _build_base(dplan, pulled_cook=result.cache == "pulled")
    if base != dplan.local_tag:
        result.details["warm_image"] = base
    arch_dir = dist_dir / plan.arch.name
    inputs = _context_digest(context, _build_args(dplan, base))
    reusable = result.cache == "hit" and not push and not plan.settings.rebuild.no_cache
    manifest = dist.read_manifest(arch_dir) if reusable else None
    if manifest and manifest.get("build_inputs") == inputs and dist.unaltered(arch_dir, manifest):
        result.details.update(up_to_date=True, compiled=[])
    else:
        manifest = _build_and_publish(dplan, context, base, dist_dir, push, result, inputs)
    result.details.update(artifacts=sorted(manifest["artifacts"]), dist=str(arch_dir))


def run(dplan: DockerPlan, push: bool, work_root: Path, extra: Sequence[str]) -> ArchResult:
    """Cook if needed, then `cargo test|check|clippy` (the plan's work) on the real sources in
    a build stage on top, its output streamed. When BuildKit reuses the step (the same sources
    passed before), nothing runs: `cached_step`."""
    started = time.monotonic()
    result = cook(dplan, push)
    plan = dplan.plan
    context = work_root / f"{plan.work}-{plan.arch.name}"
    with filelock.exclusive(_beside(context, LOCK)):
        with result.phase("sync sources"):
            _write_context(dplan, context, scripts.run_script(plan, dplan.mode,
                           dplan.uses_cache_mount, extra))  # fmt: skip
            _place_runner(dplan, context / "runner")
        out = context.parent / f"out-{plan.work}-{plan.arch.name}"
        shutil.rmtree(out, ignore_errors=True)
        report = RunReport()
        ran = True
        try:
            with result.phase("docker build"):
                ran = _docker_build(dplan, context, out, dplan.local_tag, report.watch)
        except CommandFailed as exc:
            check_failed(exc, report)
        finally:
            result.details.update(report.details(plan.work))
    if not ran:
        result.details["cached_step"] = True
    result.seconds = time.monotonic() - started
    return result


def _place_runner(dplan: DockerPlan, runner: Path) -> None:
    """The host's static qemu-user for a cross build's foreign tests (see scripts.run_script);
    the directory is bound into every step, empty when nothing needs it."""
    shutil.rmtree(runner, ignore_errors=True)
    runner.mkdir(parents=True)
    program = dplan.plan.test_runner(emulated=dplan.mode == "emulate")
    if program is None:
        return
    found = shutil.which(program)
    if found is None:
        raise ToolNotFound(f"{program}: not found; tests for {dplan.plan.arch.name} run under it "
                           "(Debian's qemu-user-static; or use --mode emulate)")  # fmt: skip
    shutil.copy2(found, runner / program)


def _write_context(dplan: DockerPlan, context: Path, script: str | None = None) -> None:
    """The build context: the real sources (only changed files rewritten), build.sh (`script`,
    else the build's), warm.sh, the runner dir and the Dockerfile."""
    settings = dplan.plan.settings
    dplan.plan.layout.mirror(context / "src", exclude=[settings.dist_dir])
    build_sh = script or scripts.build_script(dplan.plan, dplan.mode, dplan.uses_cache_mount)
    (context / "build.sh").write_text(build_sh, encoding="utf-8")
    (context / "runner").mkdir(exist_ok=True)
    (context / "warm.sh").write_text(scripts.warm_capture_script(), encoding="utf-8")
    (context / "Dockerfile").write_text(_build_dockerfile(dplan), encoding="utf-8")


def _build_and_publish(
    dplan: DockerPlan,
    context: Path,
    base: str,
    dist_dir: Path,
    push: bool,
    result: ArchResult,
    inputs: str,
) -> dict[str, Any]:
    """The docker build (and the warm image's push), its outputs published with the digest of
    the build's inputs; the manifest."""
    plan = dplan.plan
    out = context.parent / f"out-{plan.arch.name}"
    shutil.rmtree(out, ignore_errors=True)
    if dplan.uses_cache_mount:  # for verify
        mount = {"id": _mount_id(dplan), "cook_image": dplan.local_tag, "key": plan.key,
                 "platform": dplan.builder.platform}  # fmt: skip
        filelock.write_atomically(_beside(context, MOUNT), json.dumps(mount) + "\n")
    with result.phase("docker build"):
        ran = _docker_build(dplan, context, out, base)
    healed = out / scripts.HEALED
    if ran and healed.is_file():
        result.details["healed"] = healed.read_text(encoding="utf-8").split()
    if push and dplan.remote_warm_ref and dplan.uses_cache_mount:
        with result.phase("push warm image"):
            _push_warm_image(dplan, context)
        result.details["pushed_warm"] = dplan.remote_warm_ref
    messages = (out / MESSAGES).read_text().splitlines() if (out / MESSAGES).is_file() else []
    # what cargo's messages name, as copied out (never a stale file of the cache mount)
    files = {name: out / name for name in dist.payload(messages) if (out / name).is_file()}
    result.details["compiled"] = dist.compiled(messages) if ran else []
    if not ran:
        result.details["cached_step"] = True
    with result.phase("publish dist"):
        return dist.publish_build(
            plan, dist_dir, files, cook_image=dplan.local_tag, mode=dplan.mode,
            dummies=_read_dummies(out / DUMMIES), build_inputs=inputs,
        )  # fmt: skip


def _context_digest(context: Path, build_args: dict[str, str]) -> str:
    """What the build's output depends on: every context file's path, mode and content (the
    cook image's tag carries its cache key), and the build arguments."""
    digest = hashlib.sha256(json.dumps(sorted(build_args.items())).encode())
    for path in sorted(context.rglob("*")):
        if path.is_file():
            relative = path.relative_to(context).as_posix()
            digest.update(f"{relative}\0{path.stat().st_mode & 0o111}\0".encode())
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def _build_base(dplan: DockerPlan, pulled_cook: bool) -> str:
    """After the cook image was pulled (a new machine: its cache mount is new too), the warm
    image, here or in the registry; else the cook image (a machine that has built keeps its
    cache mount, and its builds keep their BuildKit layer cache)."""
    docker, local, remote = dplan.docker, dplan.local_warm_tag, dplan.remote_warm_ref
    if not dplan.uses_cache_mount or not pulled_cook:
        return dplan.local_tag
    if _own_image(dplan, local, "warm"):
        return local
    if remote and registry_has(remote):
        docker.pull(remote)
        docker.tag(remote, local)
        if _own_image(dplan, local, "warm", pulled=remote):
            return local
    return dplan.local_tag


def _own_image(
    dplan: DockerPlan, reference: str, kind: str, pulled: str | None = None, warn: bool = True
) -> Image | None:
    """The local image `reference` when it is this key's cook (or warm) image. One that is not
    (tagged by hand, pushed to the registry by mistake, another key whose digest begins with the
    same 12 hex digits) is named in a warning (by the registry name it was `pulled` from, if
    so) and never built on; the cook then made takes the name. It is not untagged here: by
    then the name may be a concurrent cook's right image."""
    key = dplan.plan.key
    image = dplan.docker.image(reference)
    if image is None:
        return None
    theirs = image.labels.get("galley.key", "none"), image.labels.get("galley.kind", "cook")
    builder = image.labels.get("galley.builder", dplan.builder.image_id)  # older: none
    if theirs == (key, kind) and builder == dplan.builder.image_id:
        return image
    if not warn:
        return None
    print(
        f"galley: {pulled or reference} is not the {kind} image of key {key[:12]} (its "
        f"galley.key is {theirs[0][:12]}, its kind {theirs[1]}, its builder "
        f"{builder.removeprefix('sha256:')[:12]}); not used",
        file=sys.stderr,
    )
    return None


def _push_warm_image(dplan: DockerPlan, context: Path) -> None:
    """The workspace crates of the build just done, from its cache mount, as the warm image."""
    docker = dplan.docker
    assert dplan.remote_warm_ref
    docker.build(
        context, context / "Dockerfile", tag=dplan.local_warm_tag,
        platform=dplan.builder.platform,
        build_args={**_build_args(dplan, dplan.local_tag), "WARM_NONCE": str(time.time_ns())},
        labels={"galley.kind": "warm", "galley.created": str(int(time.time()))},
        target="warm", network_none=True,
    )  # fmt: skip
    _push(docker, dplan.local_warm_tag, dplan.remote_warm_ref)


def _beside(context: Path, suffix: str) -> Path:
    """A file beside the build context (never sent to the daemon): `build-<arch><suffix>`."""
    return context.with_name(context.name + suffix)


def _build_args(dplan: DockerPlan, base: str) -> dict[str, str]:
    return {"COOK_IMAGE": dplan.local_tag, "BASE_IMAGE": base}


def _docker_build(
    dplan: DockerPlan,
    context: Path,
    out: Path,
    base: str,
    watch: Callable[[str], None] | None = None,
) -> bool:
    """The build stage; its /out lands in `out` (see _build_out). Whether the build step ran
    (False: BuildKit reused it from its cache, for sources it has built before). BuildKit's
    step gets a new nonce as a secret, which is not part of its cache key, and copies it to
    /out; the legacy builder's cache goes with the discarded image."""
    legacy = dplan.docker.mode == "legacy"
    nonce, run_id = secrets.token_hex(16), _beside(context, RUN_ID)
    run_id.write_text(nonce, encoding="utf-8")
    _build_out(
        dplan.docker, context, out, dplan.builder.platform, _build_args(dplan, base),
        secrets=None if legacy else {RUN_ID_SECRET: run_id},
        no_cache=dplan.plan.settings.rebuild.no_cache, watch=watch,
    )  # fmt: skip
    recorded = out / RUN_ID_NAME
    return legacy or (recorded.is_file() and recorded.read_text(encoding="utf-8") == nonce)


def _build_out(
    docker: Docker,
    context: Path,
    out: Path,
    platform: str,
    build_args: dict[str, str],
    secrets: dict[str, Path] | None = None,
    no_cache: bool = False,
    watch: Callable[[str], None] | None = None,
) -> None:
    """The Dockerfile of `context`, whose stage `out` holds the /out of its stage `build`:
    that /out lands in `out`. With buildx, through `--output`. With the daemon's own builder
    (BuildKit or legacy), as an untagged image whose /out is copied out (a container created
    and never started, through the daemon's socket when it is local) and which is then
    removed: on dockerd 20.10 that is 0.3 s faster per build than `--output`, whose local
    export grows with the cook image below it."""
    buildx = docker.mode == "buildx"
    iidfile = None if buildx else _beside(context, IMAGE_ID)
    if iidfile:
        iidfile.unlink(missing_ok=True)
    docker.build(
        context, context / "Dockerfile", platform=platform, build_args=build_args,
        target="out" if buildx else "build", output=out if buildx else None, iidfile=iidfile,
        secrets=secrets, network_none=True, no_cache=no_cache, watch=watch,
    )  # fmt: skip
    if iidfile:
        image = iidfile.read_text(encoding="utf-8").strip()
        try:
            docker.copy_out(image, "/out", out)
        finally:
            docker.discard_image(image)


def _build_dockerfile(dplan: DockerPlan) -> str:
    """Dockerfile.build with its sources, mounts and warm stage rendered: BuildKit binds
    the sources into the step (no layers to commit for them); the legacy builder copies them."""
    sources = mounts = warm_stage = ""
    if dplan.docker.mode == "legacy":
        sources = f"COPY src {SRC}\nCOPY build.sh /galley/build.sh\nCOPY runner {RUNNER}"
    else:
        mounts = (
            f"--mount=type=bind,source=src,target={SRC},rw "
            "--mount=type=bind,source=build.sh,target=/galley/build.sh "
            f"--mount=type=bind,source=runner,target={RUNNER} "
            f"--mount=type=secret,id={RUN_ID_SECRET},target=/galley/{RUN_ID_NAME}"
        )
    if dplan.uses_cache_mount:
        cache = (
            f"--mount=type=cache,id={_mount_id(dplan)},target={TARGET},sharing=locked "
            f"--mount=type=bind,from={dplan.local_tag},source={TARGET},target={COOKED}"
        )
        mounts += " " + cache
        warm_stage = (
            "\n# warm: the workspace crates in the cache mount and what their sources were\n"
            "# (a new WARM_NONCE each time: the step reruns, and --no-cache would give a new\n"
            "# mount)\nFROM ${COOK_IMAGE} AS warm\nARG WARM_NONCE\nCOPY warm.sh /galley/warm.sh\n"
            f"RUN {cache} sh /galley/warm.sh\n"
        )
    template = assets.text("Dockerfile.build")
    return (
        template.replace("@SOURCES@", sources)
        .replace("@MOUNTS@", mounts)
        .replace("@WARM_STAGE@", warm_stage)
    )


def _mount_id(dplan: DockerPlan) -> str:
    """One cache mount per workspace (its local packages) and key inputs but the recipe: it
    outlives a dependency bump, so the workspace crates the bump does not touch stay built."""
    local, _ = cleanup.local_names(dplan.plan.recipe)
    identity = _inputs_digest(dplan.plan) + "\n" + "\n".join(sorted(local))
    return f"galley-{dplan.plan.arch.name}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def _cook_lock(plan: Plan) -> Path:
    """Held while a key's cook image is pulled or cooked: concurrent cooks of one key (two CI
    jobs sharing a cache dir) make it once. Removed when the cook ends."""
    return plan.settings.cache_dir / "docker" / "locks" / f"cook-{plan.key[:16]}.lock"


def cook_locks(cache_dir: Path) -> list[Path]:
    """Cook lock files left by killed cooks (or older galleys)."""
    root = cache_dir / "docker" / "locks"
    return sorted(root.glob("cook-*.lock")) if root.is_dir() else []


def _pull_or_cook(dplan: DockerPlan, result: ArchResult) -> tuple[CacheStatus, Image | None]:
    """("pulled" or "miss", the cook image now under the local name)."""
    docker, remote = dplan.docker, dplan.remote_ref
    if remote and registry_has(remote):
        docker.pull(remote)
        docker.tag(remote, dplan.local_tag)
        image = _own_image(dplan, dplan.local_tag, "cook", pulled=remote)
        if image:
            return "pulled", image
    _cook_image(dplan, result)
    return "miss", docker.image(dplan.local_tag)


def _push(docker: Docker, local: str, remote: str) -> None:
    docker.tag(local, remote)
    try:
        docker.push(remote)
    except CommandFailed as exc:
        raise DockerError(
            f"push of {remote} failed ({exc}); the local cook image {local} is kept"
        ) from None


def _cook_image(dplan: DockerPlan, result: ArchResult) -> None:
    plan = dplan.plan
    context = _cook_context(plan, dplan.mode)
    labels = {
        "galley.kind": "cook",  # not the builder's, which the image would inherit
        "galley.inputs": _inputs_digest(plan),
        "galley.lock": json.dumps(delta.lock_packages(plan.recipe), separators=(",", ":")),
        "galley.key": plan.key,
        "galley.arch": plan.arch.name,
        "galley.target": plan.triple,
        "galley.recipe": plan.recipe.digest(),
        "galley.toolchain": plan.toolchain.release,
        "galley.builder": dplan.builder.image_id,
        "galley.created": str(int(time.time())),
    }
    args = {"BUILDER": dplan.builder.tag}
    dockerfile = "Dockerfile.cook"
    seed = _closest_cook_image(dplan)
    if seed:
        drop_sh = "set -eu\n" + scripts.drop_script(plan.recipe)
        (context / "drop.sh").write_text(drop_sh, encoding="utf-8")
        args["SEED"] = seed
        dockerfile = "Dockerfile.cook-delta"
        result.details["seeded_from"] = seed
    assets.write(context, dockerfile)
    started = time.monotonic()
    dplan.docker.build(
        context, context / dockerfile, tag=dplan.local_tag, platform=dplan.builder.platform,
        build_args=args, labels=labels, network_none=True,
        no_cache=plan.settings.rebuild.no_cache,
    )  # fmt: skip
    result.details["cook_seconds"] = round(time.monotonic() - started, 3)
    shutil.rmtree(context, ignore_errors=True)


def _inputs_digest(plan: Plan) -> str:
    """Digest of the key inputs a delta seed must share: cook images that can seed each other."""
    inputs = cachekey.seed_inputs(plan.key_manifest)
    return hashlib.sha256(cachekey.canonical(inputs).encode()).hexdigest()


def _closest_cook_image(dplan: DockerPlan) -> str | None:
    """The local cook image with the same inputs and most lockfile packages in common."""
    if dplan.plan.settings.rebuild.no_cache:
        return None
    docker, mine = dplan.docker, set(delta.lock_packages(dplan.plan.recipe))
    best, best_score = None, (0, 0.0)
    for reference in docker.images_with_label(f"galley.inputs={_inputs_digest(dplan.plan)}"):
        labels = docker.labels(reference)
        try:
            theirs = set(json.loads(labels.get("galley.lock", "[]")))
        except ValueError:
            continue
        score = (len(mine & theirs), float(labels.get("galley.created", 0)))
        if score[0] and score > best_score:
            best, best_score = reference, score
    return best


def _cook_context(plan: Plan, mode: str) -> Path:
    """skeleton/ + recipe.json + vendor/ (hard links into the vendor cache) + cargo config +
    cook.sh. With chef = cargo-chef, skeleton/ holds only the workspace's vendored dirs."""
    context = plan.settings.cache_dir / "docker" / f"cook-{plan.key[:12]}.{os.getpid()}"
    _remove_abandoned_contexts(context.parent)
    shutil.rmtree(context, ignore_errors=True)
    workspace = context / "skeleton" / plan.layout.nest  # see galley.layout
    workspace.mkdir(parents=True)
    if plan.chef == "builtin":  # else `cargo chef cook` writes it in the image
        skeleton.write(skeleton.plan(plan.recipe), workspace, within=context / "skeleton")
        copy_patch_sources(
            plan.recipe, workspace, str(plan.settings.workspace), within=context / "skeleton"
        )
    copy_vendored_dirs(plan.recipe, workspace, str(plan.settings.workspace))
    recipe = vendor.served_recipe(plan.recipe)
    (context / "recipe.json").write_text(recipe.to_json(), encoding="utf-8")
    with vendor.vendored(plan) as vendored:
        shutil.copytree(vendored / "vendor", context / "vendor", copy_function=os.link)
        config = {"source": vendor.cargo_sources(vendored), "net": {"offline": True}}
    (context / "cargo-config.toml").write_text(toml_io.dumps(config), encoding="utf-8")
    (context / "cook.sh").write_text(scripts.cook_script(plan, mode), encoding="utf-8")
    return context


def _remove_abandoned_contexts(directory: Path) -> None:
    """Cook contexts left by galley processes that died (killed, daemon gone, power loss)."""
    for context in directory.glob("cook-*.*"):
        filelock.remove_if_owner_died(context, context.suffix[1:])


def _read_dummies(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if digest and name:
            found[name.removeprefix(TARGET + "/")] = digest
    return found


def _builder_facts(docker: Docker, builder: images.Builder, settings: Settings) -> dict[str, Any]:
    """What the builder image has: `rustc -vV`, `cargo -V`, the targets with a std and
    `cargo chef --version` (empty without cargo-chef), cached per image ID."""
    cache = settings.cache_dir / "state" / f"toolchain-{builder.image_id.replace(':', '-')}.json"
    data = jsonfile.read_object(cache)
    if data is None or not {"targets", "chef", "std_sources"} <= data.keys():  # older files
        data = _ask_builder(docker, builder)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(data), encoding="utf-8")
    return dict(data)


def _toolchain(
    docker: Docker, builder: images.Builder, facts: dict[str, Any]
) -> cachekey.Toolchain:
    run = (docker.program, "run", "--rm", "--network", "none", "--platform", builder.platform)
    return cachekey.Toolchain(
        rustc=facts["rustc"], cargo=facts["cargo"], sysroot=Path("/usr"),
        rustc_argv=(*run, builder.tag, "rustc"), targets=frozenset(facts["targets"]),
        std_sources=tuple(sorted(facts["std_sources"].items())),
    )  # fmt: skip


def _chef(chosen: str, facts: dict[str, Any], builder: images.Builder) -> str:
    """The chef of the cook stage: `cargo chef cook` in the builder image when chosen (or with
    `auto`, when the image has it), else galley's skeleton and cargo."""
    if chosen == "cargo-chef" and not facts["chef"]:
        raise ToolNotFound(
            f"builder image {builder.tag} has no cargo-chef (`cargo chef --version` fails in "
            "it); set chef = builtin, or builder_image to an image with cargo-chef"
        )
    return (
        "cargo-chef"
        if chosen == "cargo-chef" or (chosen == "auto" and facts["chef"])
        else "builtin"
    )


#: What `_ask_builder` runs in a builder image (sh): rustc, cargo, the targets with a std,
#: cargo-chef's version and, for each std galley built from source, its target and how it was
#: built (STD_SOURCE, on one line), separated by `---galley---` lines; it stops
#: at the first command that fails (no rustc or cargo: the image is no builder).
ASK_BUILDER = r"""set -e
rustc -vV
echo ---galley---
cargo -V
echo ---galley---
rustlib="$(rustc --print sysroot)/lib/rustlib"
for lib in "$rustlib"/*/lib; do
    if ls "$lib" | grep -q '^libstd-'; then basename "$(dirname "$lib")"; fi
done
echo ---galley---
cargo chef --version 2>/dev/null || true
echo ---galley---
for source in "$rustlib"/*/lib/STD_SOURCE; do
    if [ -f "$source" ]; then
        printf '%s\t%s\n' "$(basename "$(dirname "$(dirname "$source")")")" \
            "$(paste -sd ';' "$source")"
    fi
done
""".replace("STD_SOURCE", images.STD_SOURCE)


def _ask_builder(docker: Docker, builder: images.Builder) -> dict[str, Any]:
    """The builder's facts (see _builder_facts); `std_sources`: {target: how galley built its
    std from source}."""
    try:
        out = shell.capture(
            [docker.program, "run", "--rm", "--network", "none", "--platform",
             builder.platform, builder.tag, "sh", "-c", ASK_BUILDER]
        )  # fmt: skip
    except CommandFailed as exc:
        raise DockerError(
            f"builder image {builder.tag}: `rustc -vV` and `cargo -V` do not run in it "
            f"({(exc.tail.strip().splitlines() or [str(exc)])[-1]})"
        ) from None
    rustc, cargo, targets, chef, built = [*out.split("---galley---"), "", "", "", ""][:5]
    sources = dict(line.split("\t", 1) for line in built.strip().splitlines() if "\t" in line)
    return {
        "rustc": rustc.strip(), "cargo": cargo.strip(), "targets": targets.split(),
        "chef": chef.strip(), "std_sources": sources,
    }  # fmt: skip


def verify_mounts(settings: Settings, arches: Sequence[Arch], repair: bool, report: Report) -> None:
    """The build cache mount that each arch's last build used (in this cache dir), compared
    with its cook image in a BuildKit step: each recorded dependency artifact that differs is
    a problem, marked for the next build to restore, or with `repair` restored now (a note).
    A mount that cannot be checked (daemon down, cook image pruned) is a note."""
    for arch in arches:
        context = settings.cache_dir / "docker" / f"build-{arch.name}"
        mount = jsonfile.read_object(_beside(context, MOUNT))
        if mount is None:
            continue
        where = f"build cache mount of {arch.name}"
        try:
            with filelock.exclusive(_beside(context, LOCK)):
                state, damaged = _check_mount(settings, context, mount, repair)
        except (DockerError, CommandFailed, KeyError, ValueError) as exc:
            report.notes.append(f"{where}: not checked ({exc})")
            continue
        cook = mount["cook_image"]
        if state != "checked":
            report.notes.append(f"{where}: not checked ({state})")
        elif repair:
            report.notes += [f"{where}: {path} differed from {cook}; restored" for path in damaged]
        else:
            report.problems += [
                f"{where}: {path} differs from {cook} (the next build or `verify --repair` "
                "restores it)"
                for path in damaged
            ]


def _check_mount(
    settings: Settings, context: Path, mount: dict[str, Any], repair: bool
) -> tuple[str, list[str]]:
    """(what the check found: `checked` or why not, the differing paths) for the mount the
    build in `context` used."""
    docker = detect(settings.client, settings.cache_dir)
    cook, key = str(mount["cook_image"]), str(mount["key"])
    if docker.image(cook) is None:
        return f"its cook image {cook} is gone", []
    check = _beside(context, "-verify")
    shutil.rmtree(check, ignore_errors=True)
    check.mkdir(parents=True)
    (check / "verify.sh").write_text(scripts.verify_mount_script(key, repair), encoding="utf-8")
    cache = (
        f"--mount=type=cache,id={mount['id']},target={TARGET},sharing=locked "
        f"--mount=type=bind,from={cook},source={TARGET},target={COOKED}"
    )
    (check / "Dockerfile").write_text(
        f"FROM {cook} AS build\nARG GALLEY_NONCE\n"
        f"RUN --mount=type=bind,source=verify.sh,target=/galley/verify.sh {cache} "
        "sh /galley/verify.sh\n"
        "FROM scratch AS out\nCOPY --from=build /out/ /\n",
        encoding="utf-8",
    )
    out = _beside(context, "-verify-out")
    shutil.rmtree(out, ignore_errors=True)
    nonce = {"GALLEY_NONCE": secrets.token_hex(16)}  # a step BuildKit never reuses
    _build_out(docker, check, out, str(mount["platform"]), nonce)
    state = (out / "state").read_text(encoding="utf-8").strip()
    damaged = (out / "damaged.txt").read_text(encoding="utf-8").split()
    shutil.rmtree(out, ignore_errors=True)
    return state, damaged
