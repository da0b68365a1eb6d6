"""The option table and galley.toml + flags → Settings, in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from galley import config
from galley.errors import ConfigError
from galley.options import TASKS, ArchOverride, Settings, markdown_table

ROOT = Path("/srv/repo")


def from_toml(text: str) -> Settings:
    import tomllib

    return config.from_table(tomllib.loads(text), ROOT, "galley.toml")


def test_every_option_is_documented_and_its_flags_are_unique_per_task() -> None:
    for option in Settings.options():
        assert option.help and option.name
        assert option.key or option.flag, f"{option.name} can be set nowhere"
        assert set(option.tasks) <= set(TASKS)
    for task in TASKS:
        flags = [o.kwarg for o in Settings.options() if task in o.tasks]
        assert len(flags) == len(set(flags)), task


def test_the_docs_table_is_the_option_table() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert markdown_table() in docs.read_text(encoding="utf-8")


def test_defaults_without_a_file() -> None:
    settings = config.from_table({}, ROOT, "galley.toml")
    assert settings.workspace == ROOT and settings.dist_dir == ROOT / "dist"
    assert settings.arches == ("amd64",) and settings.profile == "release"
    assert settings.backend == "auto" and settings.registry is None and not settings.push


def test_a_file_sets_each_section() -> None:
    settings = from_toml(
        'workspace = "src/agent"\narches = ["aarch64", "s390x"]\nfeatures = ["seccomp"]\n'
        'cache_dir = "~/cache"\n[arch.arm64]\nlibc = "musl"\n'
        '[docker]\nregistry = "127.0.0.1:5000"\nmode = "emulate"\npush = true\n'
    )
    assert settings.workspace == ROOT / "src" / "agent"
    assert settings.arches == ("aarch64", "s390x")
    assert [arch.name for arch in settings.arch_list()] == ["arm64", "s390x"]
    assert settings.cache_dir == Path("~/cache").expanduser()
    assert settings.arch_overrides == {"arm64": ArchOverride(libc="musl")}  # type: ignore[arg-type]
    assert (settings.registry, settings.mode, settings.push) == ("127.0.0.1:5000", "emulate", True)
    assert settings.triple(settings.arch_list()[0]) == "aarch64-unknown-linux-musl"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('arches = ["amd64"]\ncolour = "blue"\n', "galley.toml: unknown key 'colour'"),
        ('[docker]\ncolour = "blue"\n', "galley.toml: [docker]: unknown key 'colour'"),
        ('docker = "yes"\n', "[docker] must be a table"),
        ('arches = "amd64"\n', "arches must be a list of strings"),
        ('arches = ["sparc"]\n', "unknown arch 'sparc'"),
        ("profile = 3\n", "profile must be a string"),
        ('profile = "../x"\n', "profile '../x' is not a cargo profile name"),
        ('[arch.arm64]\nlibc = "uclibc"\n', "libc must be one of gnu, musl"),
        ('[arch.arm64]\ncolour = "blue"\n', "unknown key 'colour'"),
        ('[docker]\nmode = "magic"\n', "docker.mode must be one of"),
        ('[docker]\nregistry = "https://r.example"\n', "docker.registry must be HOST"),
        ("arches = []\n", "arches must name at least one arch"),
        ('glibc_floor = "banana"\n', "glibc_floor must look like"),
        ("source_date_epoch = -1\n", "source_date_epoch must be between"),
        ('[docker]\npackages = ["zlib1g-dev:s390x"]\n', "packages must hold Debian package names"),
    ],
)
def test_bad_files_are_one_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        from_toml(text)


def test_flags_override_the_file() -> None:
    settings = from_toml('profile = "dev"\nfeatures = ["a"]\n')
    flagged = config.with_flags(settings, "build", {"profile": "release", "features": ["b"]})
    assert (flagged.profile, flagged.features) == ("release", ("b",))
    unchanged = config.with_flags(settings, "build", {"profile": None, "features": []})
    assert (unchanged.profile, unchanged.features) == ("dev", ("a",))


def test_a_flag_of_another_task_is_not_read() -> None:
    settings = config.with_flags(from_toml(""), "prepare", {"profile": "dev"})
    assert settings.profile == "release"


def test_a_docker_flag_chooses_docker_unless_local_was_asked() -> None:
    settings = config.with_flags(from_toml(""), "cook", {"registry": "127.0.0.1:5000"})
    assert settings.backend == "docker"
    with pytest.raises(ConfigError, match="--mode is for the docker backend"):
        config.with_flags(from_toml(""), "cook", {"backend": "local", "mode": "emulate"})
    with pytest.raises(ConfigError, match="push needs a registry"):
        config.with_flags(from_toml(""), "cook", {"push": True})


def test_an_empty_registry_flag_means_none() -> None:
    settings = from_toml('[docker]\nregistry = "127.0.0.1:5000"\n')
    assert config.with_flags(settings, "build", {"registry": ""}).registry is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"backend": "podman"}, "--backend must be one of auto, local, docker"),
        ({"profile": ""}, "--profile: profile '' is not a cargo profile name"),
        ({"arch": ["sparc"]}, "unknown arch 'sparc'"),
        ({"registry": "http://x"}, "no scheme"),
    ],
)
def test_bad_flags_are_one_config_error(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.with_flags(from_toml(""), "build", flags)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"max_size": "lots"}, "bad size 'lots'"),
        ({"older_than": "1 fortnight"}, "bad duration"),
        ({"keep": "-1"}, "bad count '-1'"),
        ({"keep": "²"}, "bad count '²'"),
    ],
)
def test_bad_prune_flags_are_one_config_error(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.with_flags(from_toml(""), "cache-prune", flags)


def test_source_date_epoch_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert from_toml("").source_date_epoch == 1700000000
    assert from_toml("source_date_epoch = 5\n").source_date_epoch == 5
    for wrong in ("yesterday", "²"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", wrong)
        with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH must be a number of seconds"):
            from_toml("")


def test_the_config_file_is_found_upward(tmp_path: Path) -> None:
    (tmp_path / "galley.toml").write_text('profile = "dev"\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    settings = config.load(start=tmp_path / "a" / "b")
    assert settings.profile == "dev" and settings.root == tmp_path
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "nope.toml")


def test_without_a_file_the_root_is_the_cargo_workspace(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[workspace]\nmembers = ["a"]\n')
    (tmp_path / "a" / "src").mkdir(parents=True)
    (tmp_path / "a" / "Cargo.toml").write_text('[package]\nname = "a"\n')
    settings = config.load(start=tmp_path / "a" / "src")
    assert settings.root == tmp_path and settings.workspace == tmp_path


def test_the_libc_flag_applies_to_every_arch_asked() -> None:
    """`--libc musl` beats `[arch.X] libc` for each arch of the command; without it the table
    (or the arch's gnu) stands."""
    settings = from_toml('[arch.arm64]\nlibc = "gnu"\n[arch.s390x]\nlibc = "musl"\n')
    amd64, arm64, s390x = settings.arch_list(["amd64", "arm64", "s390x"])
    assert [settings.triple(a) for a in (amd64, arm64, s390x)] == [
        "x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "s390x-unknown-linux-musl",
    ]  # fmt: skip
    flagged = config.with_flags(settings, "build", {"libc": "musl"})
    assert [flagged.triple(a) for a in (amd64, arm64)] == [
        "x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl",
    ]  # fmt: skip
    assert config.with_flags(settings, "build", {"libc": "gnu"}).triple(s390x).endswith("-gnu")
    assert config.with_flags(settings, "builder-image", {"libc": "musl"}).libc(amd64) == "musl"
    with pytest.raises(ConfigError, match="--libc must be one of gnu, musl, not 'uclibc'"):
        config.with_flags(settings, "build", {"libc": "uclibc"})
