"""The docker client: which program, what it can do, and typed command builders.

Two clients may exist: a newer one first on PATH without the buildx plugin, and Debian's 20.10
at /usr/bin/docker that speaks BuildKit with DOCKER_BUILDKIT=1. We detect rather than assume:
buildx plugin > BuildKit (DOCKER_BUILDKIT=1) > legacy builder (no --output: docker create/cp).
The answer is kept in the cache dir for as long as the client program, its plugin directories,
its config file and its DOCKER_HOST/DOCKER_CONTEXT are unchanged: asking takes two client runs
(0.1 s) per galley command. So is whether the client's daemon listens on the unix socket the
client's own rules name (the same daemon ID on both): then image queries and the copy-out of
a build's outputs go to that socket directly (see engine.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galley import filelock, jsonfile, shell
from galley.backends.docker.engine import Engine, client_socket
from galley.errors import CommandFailed, DockerError, ToolNotFound

DEBIAN_CLIENT = "/usr/bin/docker"
SYSTEM_PLUGIN_DIRS = (  # docker/cli's cli-plugins/manager (Unix), after $DOCKER_CONFIG/cli-plugins
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
MODES = ("buildx", "buildkit", "legacy")
MODES_FILE = "client-modes.json"  # in <cache_dir>/docker/
SERVER_VERSION = ("version", "--format", "{{.Server.Version}}")  # answers only if the daemon does
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


@dataclass(frozen=True)
class Image:
    """A local image: its ID, its size in bytes and its labels."""

    id: str
    size: int
    labels: dict[str, str]


@dataclass(frozen=True)
class Docker:
    """A docker client program, its build mode (`buildx`, `buildkit` or `legacy`), and the
    Engine API of its daemon when that is a local socket (for the short calls)."""

    program: str
    mode: str
    engine: Engine | None = None

    @property
    def env(self) -> dict[str, str | None]:
        return {"DOCKER_BUILDKIT": "0" if self.mode == "legacy" else "1"}

    def describe(self) -> str:
        via = f"; queries via {self.engine.socket_path}" if self.engine else ""
        return f"{self.program} ({self.mode}{via})"

    # -- queries --------------------------------------------------------------------------------

    def image_id(self, reference: str) -> str | None:
        """The local image ID of `reference`, or None."""
        data = self._inspect(reference)
        return str(data["Id"]) if data else None

    def image(self, reference: str) -> Image | None:
        """The local image `reference` (one query), or None when it is not here."""
        data = self._inspect(reference)
        if data is None:
            return None
        return Image(str(data["Id"]), int(data.get("Size") or 0), _labels(data))

    def labels(self, reference: str) -> dict[str, str]:
        """The labels of the local image `reference` (none when it is gone)."""
        data = self._inspect(reference)
        return _labels(data) if data else {}

    def _inspect(self, reference: str) -> dict[str, Any] | None:
        """`docker image inspect` of a local image; None when it is missing (DockerError if
        the daemon does not answer: a missing image and a stopped daemon fail alike)."""
        if self.engine:
            return self.engine.image(reference)
        try:
            argv = [self.program, "image", "inspect", "--format", "{{json .}}", reference]
            out = shell.capture(argv)
        except CommandFailed:
            require_daemon(self)
            return None
        data = json.loads(out)
        return data if isinstance(data, dict) else None

    def images_with_label(self, label: str) -> list[str]:
        return self._tagged("--filter", f"label={label}")

    def references(self, repository: str) -> list[str]:
        """`repository:tag` of every local image of `repository`."""
        return self._tagged(repository)

    def _tagged(self, *selection: str) -> list[str]:
        """`repository:tag` of the tagged local images that `docker images <selection>` lists."""
        out = shell.capture(
            [self.program, "images", "--format", "{{.Repository}}:{{.Tag}}", *selection]
        )
        return sorted({line for line in out.split() if not line.endswith(":<none>")})

    # -- commands -------------------------------------------------------------------------------

    def build(
        self,
        context: Path,
        dockerfile: Path,
        *,
        tag: str | None = None,
        platform: str | None = None,
        build_args: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        target: str | None = None,
        output: Path | None = None,
        iidfile: Path | None = None,
        secrets: dict[str, Path] | None = None,
        network_none: bool = False,
        no_cache: bool = False,
        watch: Callable[[str], None] | None = None,
    ) -> None:
        """`docker build` with flags in a fixed order; output streams live. A daemon that stops
        during the build is one DockerError (BuildKit tags nothing from a failed build)."""
        if self.mode == "buildx":
            argv = [self.program, "buildx", "build", *([] if output else ["--load"])]
        else:
            argv = [self.program, "build"]
        argv += ["--file", str(dockerfile)]
        argv += ["--progress=plain"] if self.mode != "legacy" else []
        argv += ["--platform", platform] if platform and self.mode != "legacy" else []
        argv += ["--network=none"] if network_none else []
        argv += ["--no-cache"] if no_cache else []
        for name, value in sorted((build_args or {}).items()):
            argv += ["--build-arg", f"{name}={value}"]
        for name, value in sorted((labels or {}).items()):
            argv += ["--label", f"{name}={value}"]
        argv += ["--target", target] if target else []
        argv += ["--tag", tag] if tag else []
        argv += ["--output", f"type=local,dest={output}"] if output else []
        argv += ["--iidfile", str(iidfile)] if iidfile else []
        for name, path in sorted((secrets or {}).items()):
            argv += ["--secret", f"id={name},src={path}"]
        try:
            shell.run([*argv, str(context)], env=self.env, watch=watch)
        except CommandFailed:
            if not self.daemon_stays_up():
                raise DockerError(
                    f"the docker daemon stopped during `docker build` of {tag or context}; "
                    "nothing was tagged; start dockerd and run again"
                ) from None
            raise

    def daemon_stays_up(self, seconds: int = 2) -> bool:
        """Whether the daemon answers now and still after `seconds` (a stopping daemon may
        answer for a moment after it cancelled the build)."""
        for attempt in range(seconds + 1):
            if not shell.succeeds([self.program, *SERVER_VERSION]):
                return False
            if attempt < seconds:
                time.sleep(1)
        return True

    def tag(self, source: str, destination: str) -> None:
        shell.run([self.program, "tag", source, destination], echo=False)

    def remove_image(self, reference: str) -> None:
        shell.run([self.program, "image", "rm", reference], echo=False)

    def discard_image(self, image: str) -> None:
        """Remove a throw-away image; one still in use (a concurrent build made the same
        image) stays, and its layers are shared with the cook image anyway."""
        if self.engine:
            self.engine.discard_image(image)
        else:
            shell.succeeds([self.program, "image", "rm", image])

    def push(self, reference: str) -> None:
        shell.run([self.program, "push", reference])

    def pull(self, reference: str) -> None:
        shell.run([self.program, "pull", reference])

    def copy_out(self, image: str, source: str, destination: Path) -> None:
        """The directory `source` of `image` becomes `destination` (which must not exist),
        through a container that is created, never started, and removed."""
        if self.engine:
            self.engine.copy_out(image, source, destination)
            return
        container = shell.capture([self.program, "create", image, "/nonexistent"]).strip()
        try:
            destination.mkdir(parents=True)
            shell.run(
                [self.program, "cp", f"{container}:{source.rstrip('/')}/.", str(destination)],
                echo=False,
            )
        finally:
            shell.capture([self.program, "rm", container])


def _labels(data: dict[str, Any]) -> dict[str, str]:
    labels = (data.get("Config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def detect(program: str | None, cache_dir: Path) -> Docker:
    """The configured client, else /usr/bin/docker, else `docker`; with its best build mode
    and its daemon's socket, if local (both remembered in `cache_dir`)."""
    candidates = [program] if program else [DEBIAN_CLIENT, "docker"]
    for candidate in candidates:
        path = candidate if "/" in candidate else shutil.which(candidate)
        if path and Path(path).exists():
            mode, socket = _remembered(path, cache_dir)
            return Docker(path, mode, Engine(socket) if socket else None)
    raise ToolNotFound(f"docker client not found ({', '.join(candidates)}); run ci/provision")


def _remembered(program: str, cache_dir: Path) -> tuple[str, str]:
    """(`_mode(program)`, `_shared_socket(program)` or ""), asked again only when what they
    depend on changed; the socket also while it was undecided (the daemon did not answer)."""
    path = cache_dir / "docker" / MODES_FILE
    fingerprint = _client_fingerprint(program)
    remembered = jsonfile.read_object(path) or {}
    entry = remembered.get(program)
    if not isinstance(entry, dict) or entry.get("fingerprint") != fingerprint:
        entry = {"fingerprint": fingerprint}
    known = dict(entry)
    if entry.get("mode") not in MODES:
        entry["mode"] = _mode(program)
    if not isinstance(entry.get("socket"), str):
        socket = _shared_socket(program)
        if socket is not None:
            entry["socket"] = socket
    if entry != known:
        remembered[program] = entry
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            filelock.write_atomically(path, json.dumps(remembered, indent=1, sort_keys=True))
        except OSError:
            pass  # a read-only cache dir: ask every time
    return str(entry["mode"]), str(entry.get("socket") or "")


def _shared_socket(program: str) -> str | None:
    """The unix socket the client's rules name, if the daemon there is the client's own (same
    ID); "" if it is not, or the client's daemon is not on such a socket; None while either
    daemon does not answer."""
    candidate = client_socket()
    if candidate is None:
        return ""
    ours = Engine(candidate).daemon_id()
    if ours is None:
        return None
    try:
        theirs = shell.capture([program, "info", "--format", "{{.ID}}"]).strip()
    except CommandFailed:
        return None
    return candidate if theirs == ours else ""


def _client_fingerprint(program: str) -> str:
    """A digest of what decides the client's build mode and daemon: the program, its config
    file, each plugin directory and buildx plugin in it (a plugin added, replaced or removed
    changes it), and DOCKER_HOST and DOCKER_CONTEXT."""
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    config = config_dir / "config.json"
    plugin_dirs = [config_dir / "cli-plugins", *map(Path, SYSTEM_PLUGIN_DIRS)]
    plugin_dirs += [Path(d) for d in _extra_plugin_dirs(config)]
    paths = [Path(program), config]
    for directory in plugin_dirs:
        paths += [directory, directory / "docker-buildx"]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path}\0{_stat_text(path)}\n".encode())
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        digest.update(f"{name}={os.environ.get(name, '')}\n".encode())
    return digest.hexdigest()


def _extra_plugin_dirs(config: Path) -> list[str]:
    extra = (jsonfile.read_object(config) or {}).get("cliPluginsExtraDirs")
    return [str(d) for d in extra] if isinstance(extra, list) else []


def _stat_text(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return "absent"
    return f"{info.st_ino} {info.st_size} {info.st_mtime_ns}"


@functools.lru_cache(maxsize=8)
def _mode(program: str) -> str:
    if shell.succeeds([program, "buildx", "version"]):
        return "buildx"
    try:
        help_text = shell.capture([program, "build", "--help"], env={"DOCKER_BUILDKIT": "1"})
    except CommandFailed:
        return "legacy"
    return "buildkit" if "--output" in help_text else "legacy"


def require_daemon(docker: Docker) -> None:
    """A clear error when the daemon does not answer."""
    try:
        shell.capture([docker.program, *SERVER_VERSION])
    except CommandFailed as exc:
        raise DockerError(
            f"the docker daemon is not running or not reachable ({exc}); start dockerd "
            "(ci/provision does)"
        ) from None


def registry_has(reference: str) -> bool:
    """Whether `registry/name:tag` exists in its (plain HTTP) registry; DockerError if down."""
    registry, _, rest = reference.partition("/")
    name, _, tag = rest.rpartition(":")
    request = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise DockerError(f"registry {registry}: HTTP {exc.code} for {name}:{tag}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DockerError(f"registry {registry} is unreachable ({reason})") from None
