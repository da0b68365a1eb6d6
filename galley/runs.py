"""What a `cargo test`, `check` or `clippy` run said: the crates it compiled and the tests'
results, read from its streamed output as it goes (both backends stream it: the local one from
cargo, the docker one from BuildKit's plain progress, whose step prefix is dropped here)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from galley.errors import CommandFailed, TestsFailed
from galley.results import ArchResult

_STEP = re.compile(r"^#\d+ \d+(\.\d+)? ")  # BuildKit's `#11 0.188 ` before a step's output
_COMPILING = re.compile(r"^\s*(?:Compiling|Checking) (\S+) v\S+")
_RESULT = re.compile(
    r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured"
)
_FAILED = re.compile(r"^test (\S+) \.\.\. FAILED$")


@dataclass
class RunReport:
    """The compiled crates and the tests' counts, summed over every test binary."""

    compiled: set[str] = field(default_factory=set)
    passed: int = 0
    failed: int = 0
    ignored: int = 0
    failures: list[str] = field(default_factory=list)
    test_binaries: int = 0

    def watch(self, line: str) -> None:
        """Take what matters from one line of the run's output."""
        text = _STEP.sub("", line).rstrip("\n")
        if match := _COMPILING.match(text):
            self.compiled.add(match.group(1))
        elif match := _RESULT.match(text):
            passed, failed, ignored, _ = map(int, match.groups())
            self.passed, self.failed, self.ignored = (
                self.passed + passed, self.failed + failed, self.ignored + ignored,
            )  # fmt: skip
            self.test_binaries += 1
        elif match := _FAILED.match(text):
            self.failures.append(match.group(1))

    def details(self, work: str) -> dict[str, Any]:
        """The `--json` fields of the run."""
        found: dict[str, Any] = {"compiled": sorted(self.compiled)}
        if work == "test":
            found.update(passed=self.passed, failed=self.failed, ignored=self.ignored)
            found["failures"] = self.failures
        return found


def check_failed(error: CommandFailed, report: RunReport) -> None:
    """A failed run whose tests failed is a result (the tests ran); any other failure (a
    compile error, a clippy lint denied) is cargo's error, raised again."""
    if not report.failed:
        raise error


def tests_failed(results: list[ArchResult]) -> TestsFailed | None:
    """The error a test run ends in, after its results are reported: the arches whose tests
    failed, and the first few of their names."""
    failing = [r for r in results if r.details.get("failed")]
    if not failing:
        return None
    parts = []
    for result in failing:
        names = result.details.get("failures") or []
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        parts.append(f"{result.arch}: {result.details['failed']} failed ({shown})")
    return TestsFailed("tests failed: " + "; ".join(parts))
