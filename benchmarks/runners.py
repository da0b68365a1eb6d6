"""Simulated CI runners on this machine: each a `dockerd` of its own in a network namespace of
its own, reaching the local registry (127.0.0.1:5000 on the host) at the same address.

A runner's daemon has its own data root, exec root (and so its own containerd), socket and
pidfile, no bridge and no iptables rules: it cannot touch the main daemon's images or
interfaces (a second daemon in the host's namespace once took the main daemon's docker0 away).
In its namespace only loopback is up; a forwarder there listens on 127.0.0.1:5000 and passes
each connection through a unix socket to a forwarder on the host, which connects to the
registry. So image names are the same on every runner, and 127.0.0.1 is an insecure registry
to dockerd by default.

    python -m benchmarks.runners forward tcp:127.0.0.1:5000 unix:/path.sock   (one direction)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DOCKER = "/usr/bin/docker"
REGISTRY = ("127.0.0.1", 5000)


@dataclass(frozen=True)
class Runner:
    """A running runner daemon: its name, state dir and socket, and the bytes its registry
    connections carried (`pulled`: from the registry, `pushed`: to it)."""

    name: str
    root: Path
    counts: dict[str, int] = field(default_factory=lambda: {"pulled": 0, "pushed": 0})

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def env(self) -> dict[str, str]:
        """What makes a docker client (and galley) talk to this runner's daemon."""
        return {"DOCKER_HOST": f"unix://{self.socket}"}

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER, "-H", f"unix://{self.socket}", *args],
            capture_output=True, text=True, check=check,
        )  # fmt: skip


def _pipe(
    source: socket.socket, sink: socket.socket, counts: dict[str, int] | None, name: str
) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
            if counts is not None:
                counts[name] += len(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _serve(
    listener: socket.socket, connect: tuple[str, int] | str, counts: dict[str, int] | None = None
) -> None:
    """Accept on `listener` forever; each connection is piped both ways to a new connection
    to `connect` (a unix socket path or a TCP address), counting the bytes each way."""
    while True:
        client, _ = listener.accept()
        family = socket.AF_UNIX if isinstance(connect, str) else socket.AF_INET
        upstream = socket.socket(family, socket.SOCK_STREAM)
        try:
            upstream.connect(connect)
        except OSError:
            client.close()
            continue
        for a, b, name in ((client, upstream, "pushed"), (upstream, client, "pulled")):
            threading.Thread(target=_pipe, args=(a, b, counts, name), daemon=True).start()


def forward(listen: str, connect: str) -> None:
    """`tcp:HOST:PORT` or `unix:PATH` each; serves until killed."""
    listener = _listener(listen)
    kind, _, where = connect.partition(":")
    if kind == "unix":
        _serve(listener, where)
    host, _, port = where.rpartition(":")
    _serve(listener, (host, int(port)))


def _listener(spec: str) -> socket.socket:
    kind, _, where = spec.partition(":")
    if kind == "unix":
        Path(where).unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(where)
    else:
        host, _, port = where.rpartition(":")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, int(port)))
    listener.listen(64)
    return listener


def _host_side(path: Path, counts: dict[str, int]) -> None:
    """The host's forwarder, a thread of this process: unix socket → the registry."""
    listener = _listener(f"unix:{path}")
    threading.Thread(target=_serve, args=(listener, REGISTRY, counts), daemon=True).start()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _outside(netns: str, number: int) -> list[list[str]]:
    """Give `netns` a way out: a veth to the host (10.213.<number>.0/30), a default route and
    NAT on the host; returns the iptables rules to delete afterwards."""
    host, inner, net = f"gr{number}h", f"gr{number}n", f"10.213.{number}"
    _ip("link", "add", host, "type", "veth", "peer", "name", inner)
    _ip("link", "set", inner, "netns", netns)
    _ip("addr", "add", f"{net}.1/30", "dev", host)
    _ip("link", "set", host, "up")
    _ip("-n", netns, "addr", "add", f"{net}.2/30", "dev", inner)
    _ip("-n", netns, "link", "set", inner, "up")
    _ip("-n", netns, "route", "add", "default", "via", f"{net}.1")
    rules = [
        ["-t", "nat", "POSTROUTING", "-s", f"{net}.0/30", "-j", "MASQUERADE"],
        ["DOCKER-USER", "-i", host, "-j", "ACCEPT"],  # docker's FORWARD policy is DROP
        ["DOCKER-USER", "-o", host, "-j", "ACCEPT"],
    ]
    for rule in rules:
        table = rule[:2] if rule[0] == "-t" else []
        subprocess.run(["iptables", *table, "-I", *rule[len(table) :]], check=True)
    return rules


def _remove_rules(rules: list[list[str]]) -> None:
    for rule in rules:
        table = rule[:2] if rule[0] == "-t" else []
        subprocess.run(["iptables", *table, "-D", *rule[len(table) :]], check=False)


@contextlib.contextmanager
def runner(name: str, root: Path, wait: float = 60, network: int | None = None) -> Iterator[Runner]:
    """A runner daemon `name` (a network namespace `galley-<name>`) with its state in `root`,
    started empty and stopped (its state removed) at the end. With `network` (a small number,
    unique per runner), its namespace gets a veth and NAT to the outside, and the daemon a
    bridge of its own there and iptables rules in it: containers (builder builds: apt) reach
    the Debian mirror. Without, it has no bridge and builds only with --network=none."""
    netns = f"galley-{name}"
    rules: list[list[str]] = []
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    found = Runner(name, root)
    subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
    _ip("netns", "add", netns)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        _ip("-n", netns, "link", "set", "lo", "up")
        if network is not None:
            rules = _outside(netns, network)
        _host_side(root / "registry.sock", found.counts)
        # nsenter, not `ip netns exec`: that remounts /sys, and dockerd then finds no cgroups
        enter = ["nsenter", f"--net=/run/netns/{netns}"]
        inside = [sys.executable, "-m", "benchmarks.runners", "forward",
                  f"tcp:{REGISTRY[0]}:{REGISTRY[1]}", f"unix:{root / 'registry.sock'}"]  # fmt: skip
        repo = Path(__file__).resolve().parent.parent
        with (root / "forward.log").open("wb") as log:
            processes.append(subprocess.Popen(
                [*enter, *inside], cwd=repo, stdout=log, stderr=log,
            ))  # fmt: skip
        daemon = [
            *enter, "dockerd", "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"), "-H", f"unix://{found.socket}",
            "--pidfile", str(root / "docker.pid"), "--cgroup-parent", f"galley-{name}",
        ]  # fmt: skip
        if network is None:
            daemon += ["--bridge=none", "--iptables=false", "--ip-masq=false"]
        with (root / "dockerd.log").open("wb") as log:
            processes.append(subprocess.Popen(daemon, stdout=log, stderr=log))
        deadline = time.monotonic() + wait
        while found.docker("info", check=False).returncode != 0:
            if time.monotonic() > deadline or processes[-1].poll() is not None:
                tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"runner {name}: dockerd did not start: {tail}")
            time.sleep(0.5)
        yield found
    finally:
        for process in reversed(processes):
            _stop(process)
        _remove_rules(rules)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", netns)  # and the veth in it
        shutil.rmtree(root, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (dockerd then stops its containerd), SIGKILL after 60 s."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "forward":
        forward(sys.argv[2], sys.argv[3])
    sys.exit("usage: python -m benchmarks.runners forward LISTEN CONNECT")
