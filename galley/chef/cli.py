"""`galley-chef prepare|cook`: the same command line as `cargo chef` 0.1.77.

Also runs as a cargo subcommand (`cargo chef ...` calls `cargo-chef chef ...`) when installed
under the name `cargo-chef`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

from galley import __version__, interrupts
from galley.errors import GalleyError, RecipeError, describe_os_error

if TYPE_CHECKING:
    import argparse

    from galley.chef.cooker import CookOptions


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (errors are one line on stderr)."""
    interrupts.stop_on_sigterm()
    args = _arguments(sys.argv[1:] if argv is None else argv)
    simple_prepare = _simple_prepare_flags(args)
    try:
        if simple_prepare is not None:
            _prepare(**simple_prepare)
        else:
            options = _parser().parse_args(args)
            if options.command == "prepare":
                _prepare(options.recipe_path, options.bin)
            else:
                _cook(options)
    except GalleyError as exc:
        print(f"galley-chef: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"galley-chef: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except interrupts.Terminated:
        return 143
    return 0


def run() -> None:
    """Console-script entry point. After `prepare`, leave without tearing the interpreter's
    objects down one by one (a twentieth of its run time); everything is written and closed."""
    code = main()
    if _simple_prepare_flags(_arguments(sys.argv[1:])) is not None:
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _arguments(argv: list[str]) -> list[str]:
    """The arguments, without the `chef` that cargo passes to a `cargo-chef` subcommand."""
    return argv[1:] if argv[:1] == ["chef"] else list(argv)


def _simple_prepare_flags(args: list[str]) -> dict[str, str | None] | None:
    """`prepare [--recipe-path P] [--bin N]` read without argparse, whose import and parser
    set-up cost a tenth of a prepare; None for anything else (help, errors, cook)."""
    if args[:1] != ["prepare"]:
        return None
    flags: dict[str, str | None] = {"recipe_path": "recipe.json", "bin_name": None}
    rest, given = args[1:], set[str]()
    while rest:
        flag, equals, value = rest.pop(0).partition("=")
        name = "recipe_path" if flag == "--recipe-path" else "bin_name"
        if flag not in ("--recipe-path", "--bin") or not (equals or rest) or name in given:
            return None  # argparse says what is wrong
        given.add(name)
        value = value if equals else rest.pop(0)
        if not value or value.startswith("-"):
            return None
        flags[name] = value
    return flags


def _prepare(recipe_path: str | None, bin_name: str | None) -> None:
    import os

    from galley.chef.planner import prepare

    bins = (bin_name,) if bin_name else ()
    text = prepare(os.getcwd(), bins).to_json()  # before the file is opened
    path = recipe_path or "recipe.json"
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise RecipeError(f"{path}: cannot write the recipe ({exc.strerror})") from None


def _cook(options: argparse.Namespace) -> None:
    from pathlib import Path

    from galley.chef.cooker import cook
    from galley.chef.recipe import Recipe

    try:
        text = Path(options.recipe_path).read_bytes()
    except OSError as exc:
        raise RecipeError(f"{options.recipe_path}: cannot read ({exc.strerror})") from None
    recipe = Recipe.from_json(text)
    cook(recipe, Path.cwd(), cook_options(options))


def cook_options(options: argparse.Namespace) -> CookOptions:
    """Map parsed `cook` flags to CookOptions."""
    from pathlib import Path

    from galley.chef.cooker import CookOptions, split_features

    return CookOptions(
        release=options.release,
        profile=options.profile,
        check=options.check,
        clippy=options.clippy,
        zigbuild=options.zigbuild,
        no_build=options.no_build,
        no_std=options.no_std,
        targets=tuple(options.target or ()),
        target_dir=Path(options.target_dir) if options.target_dir else None,
        no_default_features=options.no_default_features,
        all_features=options.all_features,
        features=split_features(options.features or []),
        unstable_flags=tuple(options.unstable or ()),
        benches=options.benches,
        tests=options.tests,
        examples=options.examples,
        all_targets=options.all_targets,
        manifest_path=options.manifest_path,
        packages=tuple(options.package or ()),
        bins=tuple(options.bin or ()),
        all_bins=options.bins,
        workspace=options.workspace,
        offline=options.offline,
        frozen=options.frozen,
        locked=options.locked,
        verbose=options.verbose,
        timings=options.timings,
        jobs=options.jobs,
    )


def _parser() -> argparse.ArgumentParser:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            """A usage error is one line, as every galley error (`--help` shows the usage)."""
            self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    parser = Parser(prog="galley-chef", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"galley-chef {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="write the recipe of the workspace in the cwd")
    once = _given_once()
    prep.add_argument("--recipe-path", default="recipe.json", action=once)
    prep.add_argument("--bin", help="only the closure of this package or binary", action=once)
    _cook_flags(commands.add_parser("cook", help="build the dependencies of a recipe in the cwd"))
    return parser


def _given_once() -> type[argparse.Action]:
    """An option that takes one value and may be given once (clap's rule, so cargo-chef's):
    `prepare --bin a --bin b` is a usage error, not the last one winning."""
    import argparse

    class GivenOnce(argparse.Action):
        given = False

        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: Any,
            option_string: str | None = None,
        ) -> None:
            if self.given:
                parser.error(f"argument {option_string}: may be given only once")
            self.given = True
            setattr(namespace, self.dest, values)

    return GivenOnce


def _cook_flags(cook_parser: argparse.ArgumentParser) -> None:
    add = cook_parser.add_argument
    add("--recipe-path", default="recipe.json")
    add("--release", action="store_true")
    add("--profile")
    for flag in ("--check", "--clippy", "--zigbuild", "--no-build", "--no-std"):
        add(flag, action="store_true")
    add("--target", action="append", help="target triple (repeatable)")
    add("--target-dir", help="defaults to $CARGO_TARGET_DIR, then ./target")
    add("--no-default-features", action="store_true")
    add("--all-features", action="store_true")
    add("-F", "--features", action="append", help="comma or space separated (repeatable)")
    add("-Z", dest="unstable", action="append", help="unstable cargo flag (repeatable)")
    for flag in ("--benches", "--tests", "--examples", "--all-targets", "--bins", "--workspace"):
        add(flag, action="store_true")
    add("--manifest-path")
    add("-p", "--package", action="append")
    add("--bin", action="append")
    for flag in ("--offline", "--frozen", "--locked", "--timings"):
        add(flag, action="store_true")
    add("-v", "--verbose", action="count", default=0)
    add("-j", "--jobs", type=int)


if __name__ == "__main__":
    run()
