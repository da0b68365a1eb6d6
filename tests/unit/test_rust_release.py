"""What Rust a workspace asks for (rust-version, toolchain file) and the `rust` option."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from galley import config
from galley.chef.recipe import Manifest, Recipe
from galley.errors import ConfigError
from galley.toolchain_file import Requirement, meets, required_release

KATA = Path(__file__).resolve().parents[1] / "corpus" / "kata-containers+kata-containers.tar.gz"
TOP = "kata-containers+kata-containers/"


def kata_manifests(*paths: str) -> tuple[Manifest, ...]:
    """Kata's real manifests at `paths` (relative to its repository) from the corpus."""
    with tarfile.open(KATA) as archive:
        return tuple(
            Manifest(path, archive.extractfile(TOP + path).read().decode())  # type: ignore[union-attr]
            for path in paths
        )


def test_kata_asks_for_its_workspace_rust_version() -> None:
    """Kata's root manifest declares `[workspace.package] rust-version = "1.95"`; kata-deploy
    inherits it (`rust-version.workspace = true`), as cargo reads it."""
    root, deploy = kata_manifests("Cargo.toml", "tools/packaging/kata-deploy/binary/Cargo.toml")
    assert 'rust-version = "1.95"' in root.contents
    found = required_release(Recipe((root, deploy)))
    assert found == Requirement("1.95", "rust-version of package kata-deploy")
    # a package that does not inherit it asks nothing, as cargo does
    assert required_release(Recipe((root, Manifest("a/Cargo.toml", PLAIN)))) is None


PLAIN = '[package]\nname = "a"\nversion = "0.1.0"\n'


def test_the_newest_of_packages_and_toolchain_file_wins() -> None:
    own = Manifest("b/Cargo.toml", PLAIN.replace('"a"', '"b"') + 'rust-version = "1.99"\n')
    older = Manifest("c/Cargo.toml", PLAIN.replace('"a"', '"c"') + 'rust-version = "1.70.1"\n')
    assert required_release(Recipe((older, own))) == Requirement(
        "1.99", "rust-version of package b"
    )
    pinned = Recipe((older,), rust_toolchain_file=("Toml", '[toolchain]\nchannel = "1.80.0"\n'))
    assert required_release(pinned) == Requirement("1.80.0", "the toolchain file")
    channel = Recipe((older,), rust_toolchain_file=("Bare", "stable\n"))
    assert required_release(channel) == Requirement("1.70.1", "rust-version of package c")


def test_a_release_meets_what_is_asked_as_cargo_compares() -> None:
    assert meets("1.96.0", "1.95") and meets("1.95.0", "1.95") and meets("1.95.1", "1.95.1")
    assert not meets("1.85.0", "1.95") and not meets("1.95.0", "1.95.1")
    assert not meets("1.96.0", "1.100")


def test_the_rust_option() -> None:
    import tomllib

    table = tomllib.loads('rust = "1.96"\n')
    assert config.from_table(table, Path("/srv"), "galley.toml").rust == "1.96"
    assert config.from_table({}, Path("/srv"), "galley.toml").rust is None
    with pytest.raises(ConfigError, match=r'must be a Rust release like "1\.96"'):
        config.from_table({"rust": "stable"}, Path("/srv"), "galley.toml")


def fake_mirror(monkeypatch: pytest.MonkeyPatch, indexes: dict[str, bytes]) -> None:
    """A mirror in memory: `dists/<suite>/main/binary-<arch>/Packages` texts; each suite's
    Release file lists their sha256 and size (the ppc64el one of bookworm-security wrong, as
    this machine's mirror had it mid-sync)."""
    import hashlib
    import lzma

    from galley.backends.docker import releases

    files: dict[str, bytes] = {}
    listed: dict[str, list[str]] = {}
    for path, text in indexes.items():
        suite, name = path.split("/", 1)
        data = lzma.compress(text)
        files[f"http://m/dists/{suite}/{name}.xz"] = data
        size = len(data) + (1 if suite.endswith("-security") and "ppc64el" in name else 0)
        digest = hashlib.sha256(data).hexdigest()
        listed.setdefault(suite, []).append(f" {digest} {size} {name}.xz")
    for suite, lines in listed.items():
        files[f"http://m/dists/{suite}/Release"] = ("SHA256:\n" + "\n".join(lines) + "\n").encode()
    monkeypatch.setattr(releases, "_fetch", lambda url: files[url])
    releases._index_versions.cache_clear()
    releases._release_checksums.cache_clear()


def packages(*entries: tuple[str, str]) -> bytes:
    return "".join(f"Package: {p}\nVersion: {v}\nArchitecture: x\n\n" for p, v in entries).encode()


def test_the_releases_debian_has_per_arch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """rustc-web for the image's arch and, cross, the same version of the arch's std, from the
    suites whose indexes for both arches match their Release file (apt drops the others)."""
    from galley.backends.docker import releases

    old, new = "1.85.0+dfsg3-1~deb12u3", "1.96.0+dfsg1-1~deb12u2"
    std = releases.STD
    fake_mirror(monkeypatch, {
        "bookworm/main/binary-amd64/Packages": packages(("rustc-web", old), (std, old)),
        "bookworm/main/binary-s390x/Packages": packages((std, old)),
        "bookworm/main/binary-ppc64el/Packages": packages((std, old)),
        "bookworm-updates/main/binary-amd64/Packages": b"",
        "bookworm-updates/main/binary-s390x/Packages": b"",
        "bookworm-updates/main/binary-ppc64el/Packages": b"",
        "bookworm-security/main/binary-amd64/Packages": packages(("rustc-web", new), (std, new)),
        "bookworm-security/main/binary-ppc64el/Packages": packages((std, new)),
    })  # fmt: skip
    monkeypatch.setattr(releases, "debian_mirrors", lambda mirror: ("http://m", "http://m"))
    assert releases.available(tmp_path, None, "amd64", None) == ["1.96", "1.85"]
    assert releases.available(tmp_path, None, "amd64", "s390x") == ["1.85"]  # no s390x index
    assert releases.available(tmp_path, None, "amd64", "ppc64el") == ["1.85"]  # a bad one
    remembered = (tmp_path / "docker" / releases.CACHE_FILE).read_text()
    assert '"amd64>s390x"' in remembered
    # past MAX_AGE, with the mirror out of reach: the last answer, not an error
    import json

    from galley.errors import DockerError

    cache = tmp_path / "docker" / releases.CACHE_FILE
    cache.write_text(json.dumps({**json.loads(cache.read_text()), "at": 0}))

    def unreachable(url: str) -> bytes:
        raise DockerError("cannot read which Rust releases Debian has")

    monkeypatch.setattr(releases, "_fetch", unreachable)
    releases._index_versions.cache_clear()
    releases._release_checksums.cache_clear()
    assert releases.available(tmp_path, None, "amd64", "s390x") == ["1.85"]
    with pytest.raises(DockerError):
        releases.available(tmp_path, None, "arm64", None)  # never answered
