"""The Docker Engine API of a local daemon, over its unix socket: the short calls only.

Each docker client run costs 27 ms of start-up here before it asks the daemon anything, and a
build needs seven short ones (three image queries; create, copy-out and removal of the build's
outputs). The same calls through the socket take 0.1 s in all instead of 0.33 s. galley makes
them here only when the socket is the one the configured client talks to (see
client.detect); builds, pushes, pulls and everything else go through the client.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import tarfile
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

from galley import jsonfile
from galley.errors import DockerError

DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT_SECONDS = 300  # a busy daemon can be slow to answer; never wait forever
MISSING, CONFLICT = 404, 409  # the HTTP statuses a call may allow (then it returns None)
Statuses = tuple[int, ...]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=TIMEOUT_SECONDS)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_SECONDS)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def client_socket() -> str | None:
    """The unix socket a docker client uses with this environment and config, by the client's
    own rules (DOCKER_HOST, then DOCKER_CONTEXT, then the config's current context); None
    when that is not a unix socket or is a context (whose endpoint galley does not read)."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host.removeprefix("unix://") if host.startswith("unix://") else None
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    current = (jsonfile.read_object(config_dir / "config.json") or {}).get("currentContext")
    context = os.environ.get("DOCKER_CONTEXT") or current
    return None if context and context != "default" else DEFAULT_SOCKET


class Engine:
    """Calls to the daemon listening on `socket_path`."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def daemon_id(self) -> str | None:
        """The daemon's ID (as `docker info` gives it), or None when nothing answers."""
        try:
            info = self._json("GET", "/info")
        except DockerError:
            return None
        return str(info.get("ID") or "") or None

    def image(self, reference: str) -> dict[str, Any] | None:
        """`docker image inspect` of `reference` as a dict, or None when it is not here."""
        data = self._json("GET", f"/images/{_quote(reference)}/json", allowed=(MISSING,))
        return data if isinstance(data, dict) else None

    def copy_out(self, image: str, source: str, destination: Path) -> None:
        """The directory `source` of `image` (through a container that never starts) becomes
        `destination` (which must not exist)."""
        created = self._json("POST", "/containers/create", {"Image": image, "Cmd": ["/none"]})
        container = str(created["Id"])
        try:
            self._extract(container, source, destination)
        finally:
            self._call("DELETE", f"/containers/{container}?force=1", allowed=(MISSING,))

    def discard_image(self, image: str) -> None:
        """Remove an image; one in use (409) or already gone stays as it is."""
        self._call("DELETE", f"/images/{_quote(image)}", allowed=(MISSING, CONFLICT))

    def _extract(self, container: str, source: str, destination: Path) -> None:
        """The archive of `source` unpacked beside `destination` (tarfile's `data` filter: no
        absolute paths, nothing outside, no devices), then moved into place."""
        staging = destination.with_name(destination.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        path = urllib.parse.quote(source.rstrip("/") or "/")
        connection, response = self._open("GET", f"/containers/{container}/archive?path={path}")
        try:
            with tarfile.open(fileobj=response, mode="r|") as archive:
                archive.extractall(staging, filter="data")
        except (OSError, tarfile.TarError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise DockerError(f"copying {source} out of {container[:12]} failed ({exc})") from None
        finally:
            connection.close()
        top = staging / PurePosixPath(source.rstrip("/")).name
        if not top.is_dir():
            raise DockerError(f"copying {source} out of {container[:12]}: not a directory")
        top.rename(destination)
        shutil.rmtree(staging)

    def _json(self, method: str, path: str, body: Any = None, allowed: Statuses = ()) -> Any:
        text = self._call(method, path, body, allowed)
        return None if text is None else json.loads(text)

    def _call(self, method: str, path: str, body: Any = None, allowed: Statuses = ()) -> str | None:
        """The response body of a call; None when its status is one of `allowed`."""
        connection, response = self._open(method, path, body, allowed)
        try:
            data = response.read()
        except OSError as exc:
            raise DockerError(f"docker daemon at {self.socket_path}: {exc}") from None
        finally:
            connection.close()
        if response.status in allowed:
            return None
        return data.decode("utf-8", errors="replace")

    def _open(
        self, method: str, path: str, body: Any = None, allowed: Statuses = ()
    ) -> tuple[_UnixConnection, http.client.HTTPResponse]:
        """A request sent and its response begun; DockerError when the daemon does not answer
        or answers with an error status that is not one of `allowed`."""
        connection = _UnixConnection(self.socket_path)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = json.dumps(body) if body is not None else None
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise DockerError(
                f"the docker daemon is not running or not reachable ({self.socket_path}: "
                f"{exc.strerror or exc}); start dockerd (ci/provision does)"
            ) from None
        if response.status >= 400 and response.status not in allowed:
            message = _message(response.read())
            connection.close()
            raise DockerError(f"docker daemon: {method} {path.split('?')[0]}: {message}")
        return connection, response


def _quote(reference: str) -> str:
    return urllib.parse.quote(reference, safe="/:@")


def _message(data: bytes) -> str:
    """The daemon's `{"message": …}`, else the body's first line."""
    text = data.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("message"):
        return str(parsed["message"])
    return text.splitlines()[0] if text else "no answer"
