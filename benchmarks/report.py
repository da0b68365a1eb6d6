"""compare.json -> compare.md (tables, ratios against the issues' targets) and compare.png.

.venv/bin/python benchmarks/report.py [benchmarks/results/compare.json]

Writes <name>.md and <name>.png beside the JSON file (compare.partial.json -> compare.partial.md).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCENARIOS = ("cold", "no-op", "edit", "pulled", "bump")
SYSTEMS = ("naive", "cachemount", "galley-local", "galley-docker", "floor", "floor-builder")
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")  # one per system
LABELS = {
    "naive": "naive Dockerfile",
    "cachemount": "Dockerfile + BuildKit cache mount",
    "galley-local": "galley, local backend",
    "galley-docker": "galley, docker backend",
    "floor": "floor: host cargo, workspace crates only",
    "floor-builder": "floor: builder cargo (docker run), workspace crates only",
}


def machine() -> str:
    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    docker = subprocess.run(["/usr/bin/docker", "version", "-f", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return (
        f"{platform.machine()}, {cpus} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, docker {docker or '?'}, Python {platform.python_version()}"
    )


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def median(document: dict[str, Any], arch: str, system: str, scenario: str) -> float | None:
    values = document["arches"].get(arch, {}).get("seconds", {}).get(system, {}).get(scenario)
    return statistics.median(values) if values else None


def run_count(document: dict[str, Any], arch: str) -> int:
    """How many runs measured this arch (a partial document may hold fewer than asked)."""
    lengths = [len(values) for figures in document["arches"][arch]["seconds"].values()
               for values in figures.values()]  # fmt: skip
    return max(lengths, default=0)


class Run:
    """One run's figures for one arch: the seconds and galley's cook seconds of that run."""

    def __init__(self, document: dict[str, Any], arch: str, index: int) -> None:
        self.data, self.index = document["arches"][arch], index

    def seconds(self, system: str, scenario: str) -> float | None:
        values = self.data.get("seconds", {}).get(system, {}).get(scenario, [])
        return values[self.index] if self.index < len(values) else None

    def cook(self, system: str, scenario: str) -> float | None:
        runs = self.data.get("details", {}).get(system, {}).get(scenario, [])
        run = runs[self.index] if self.index < len(runs) else {}
        value = run.get("cook_seconds")
        return float(value) if value is not None else None


def div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


#: (what, target, the ratio in one run, the best any caching tool could reach in that run)
RatioRule = tuple[str, str, Callable[[Run], float | None], Callable[[Run], float | None]]


def fastest_edit(run: Run) -> float | None:
    """The fastest edit measured in the builder image in this run: the floor (cargo compiling
    only the workspace crates in `docker run`) or the cache-mount Dockerfile, whose BuildKit
    step can start sooner than `docker run`. A caching tool's edit cannot be faster."""
    edits = [run.seconds(system, "edit") for system in ("floor-builder", "cachemount")]
    return min((edit for edit in edits if edit is not None), default=None)


def _no_bound(run: Run) -> float | None:
    return None


def _one(run: Run) -> float | None:
    return 1.0


RULES: list[RatioRule] = [
    ("galley-docker edit / cold", "≤ 0.05 (#4)",
     lambda r: div(r.seconds("galley-docker", "edit"), r.seconds("galley-docker", "cold")),
     lambda r: div(fastest_edit(r), r.seconds("galley-docker", "cold"))),
    ("galley-docker pulled / cold", "≤ 0.15 (#4)",
     lambda r: div(r.seconds("galley-docker", "pulled"), r.seconds("galley-docker", "cold")),
     lambda r: div(fastest_edit(r), r.seconds("galley-docker", "cold"))),
    ("naive edit / galley-docker edit", "≥ 20 (#4, #6)",
     lambda r: div(r.seconds("naive", "edit"), r.seconds("galley-docker", "edit")),
     lambda r: div(r.seconds("naive", "edit"), fastest_edit(r))),
    ("cachemount edit / galley-docker edit", "—",
     lambda r: div(r.seconds("cachemount", "edit"), r.seconds("galley-docker", "edit")),
     _no_bound),
    ("galley-docker edit / floor-builder edit", "≤ 1.2 (#6)",
     lambda r: div(r.seconds("galley-docker", "edit"), r.seconds("floor-builder", "edit")),
     _one),
    ("galley-local edit / floor edit", "≤ 1.2 (#6)",
     lambda r: div(r.seconds("galley-local", "edit"), r.seconds("floor", "edit")), _one),
    ("galley-local bump cook / cold cook", "≤ 0.3 (#6)",
     lambda r: div(r.cook("galley-local", "bump"), r.cook("galley-local", "cold")), _no_bound),
    ("galley-docker bump cook / cold cook", "≤ 0.3 (#6)",
     lambda r: div(r.cook("galley-docker", "bump"), r.cook("galley-docker", "cold")), _no_bound),
]  # fmt: skip


@dataclass
class Ratio:
    """A ratio computed within each run: its per-run values and the per-run best reachable."""

    what: str
    target: str
    values: list[float]
    bounds: list[float]

    @property
    def value(self) -> float:
        """The median of the per-run ratios: what is compared with the target."""
        return statistics.median(self.values)


def ratios(document: dict[str, Any], arch: str) -> list[Ratio]:
    """The targets of issues #4 and #6, each ratio computed within each run (numerator and
    denominator measured in the same minutes), then its median over the runs."""
    runs = [Run(document, arch, i) for i in range(run_count(document, arch))]
    rows = []
    for what, target, ratio, bound in RULES:
        values = [v for v in map(ratio, runs) if v is not None]
        bounds = [b for b in map(bound, runs) if b is not None]
        if values:
            rows.append(Ratio(what, target, values, bounds))
    return rows


def ratio_text(ratio: float) -> str:
    """A ratio to three significant digits, so that met/not met can be read from it (0.0505)."""
    return f"{ratio:#.3g}"


def met(value: float, target: str) -> str:
    if target.startswith("≤"):
        return "met" if value <= float(target.split()[1]) else "**not met**"
    if target.startswith("≥"):
        return "met" if value >= float(target.split()[1]) else "**not met**"
    return ""


def spread(values: list[float]) -> str:
    """The median of per-run values, with their range where they differ."""
    s = stats(values)
    text = ratio_text(s["median"])
    if s["min"] != s["max"]:
        text += f" ({ratio_text(s['min'])}-{ratio_text(s['max'])})"
    return text


def ratio_table(rows: list[Ratio]) -> list[str]:
    lines = ["", "| ratio, within each run | median of the runs (min-max) | target | "
             "| best any tool can reach here |", "|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        best = "—"
        if row.bounds:
            bound = statistics.median(row.bounds)
            best = f"{spread(row.bounds)} ({met(bound, row.target) or 'no target'})"
        verdict = met(row.value, row.target)
        lines.append(f"| {row.what} | {spread(row.values)} | {row.target} | {verdict} | {best} |")
    return lines


def markdown(document: dict[str, Any]) -> str:
    runs = f"{document['runs']} run" + ("" if document["runs"] == 1 else "s")
    lines = [
        f"Machine: {document['machine']}. Command: `{document['command']}` "
        f"({runs}, {document['minutes']} min). Seconds, median (min-max).",
        "",
    ]
    for arch, data in document["arches"].items():
        lines += [f"**{arch}**", "", "| system | " + " | ".join(SCENARIOS) + " |",
                  "|---|" + "---|" * len(SCENARIOS)]  # fmt: skip
        for system in SYSTEMS:
            figures = data["seconds"].get(system)
            if not figures:
                continue
            cells = []
            for scenario in SCENARIOS:
                if scenario in figures:
                    s = stats(figures[scenario])
                    cells.append(f"{s['median']:.1f} ({s['min']:.1f}-{s['max']:.1f})")
                else:
                    cells.append("n/a")
            lines.append(f"| {LABELS[system]} | " + " | ".join(cells) + " |")
        lines += ratio_table(ratios(document, arch))
        lines.append("")
    lines += overheads(document)
    return "\n".join(lines) + "\n"


def overheads(document: dict[str, Any]) -> list[str]:
    """galley's own time: process start-up, then each phase of a no-op and an edit build."""
    lines = ["**galley's own overhead** (amd64, local backend, median per phase, seconds)", ""]
    lines += ["| part | seconds |", "|---|---|"]
    # Fastest first: the JSON file sorts its keys, so their order would differ on a re-render.
    startup = sorted(document.get("startup", {}).items(), key=lambda part: part[1])
    lines += [f"| {name} | {value:.3f} |" for name, value in startup]
    details = document["arches"].get("amd64", {}).get("details", {}).get("galley-local", {})
    for scenario in ("no-op", "edit"):
        runs = details.get(scenario, [])
        names = sorted({name for run in runs for name in run.get("phases", {})})
        for name in names:
            value = statistics.median(run.get("phases", {}).get(name, 0.0) for run in runs)
            lines.append(f"| {scenario} build: {name} | {value:.3f} |")
        wall = median(document, "amd64", "galley-local", scenario)
        if wall is not None:
            lines.append(f"| {scenario} build: whole process | {wall:.3f} |")
    return [*lines, ""]


def chart(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arches = list(document["arches"])
    colours = dict(zip(SYSTEMS, COLOURS, strict=True))
    figure, axes = plt.subplots(1, len(arches), figsize=(7 * len(arches), 5.2), squeeze=False)
    for axis, arch in zip(axes[0], arches, strict=True):
        data = document["arches"][arch]["seconds"]
        shown = [s for s in SYSTEMS if s in data]
        width = 0.8 / max(len(shown), 1)
        for i, system in enumerate(shown):
            xs, heights, low, high = [], [], [], []
            for x, scenario in enumerate(SCENARIOS):
                if scenario in data[system]:
                    s = stats(data[system][scenario])
                    xs.append(x + (i - (len(shown) - 1) / 2) * width)
                    heights.append(s["median"])
                    low.append(s["median"] - s["min"])
                    high.append(s["max"] - s["median"])
            axis.bar(xs, heights, width, yerr=[low, high], capsize=2, label=LABELS[system],
                     color=colours[system])  # fmt: skip
        axis.set_yscale("log")
        axis.set_xticks(range(len(SCENARIOS)), SCENARIOS)
        axis.set_ylabel("seconds (log scale; median, min-max)")
        axis.set_title(f"{arch}: example workspace, release build")
        axis.grid(axis="y", which="both", alpha=0.3)
    handles: dict[str, Any] = {}
    for axis in axes[0]:
        handles.update(zip(*reversed(axis.get_legend_handles_labels()), strict=True))
    figure.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=8)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    figure.savefig(path, dpi=110)


def write(document: dict[str, Any], out: Path, name: str = "compare") -> None:
    """`<name>.md` and `<name>.png` in `out`."""
    text = markdown(document)
    (out / f"{name}.md").write_text(text)
    try:
        chart(document, out / f"{name}.png")
    except ModuleNotFoundError:  # run outside `nox -s bench`, which installs it
        print(
            "bench: chart skipped: matplotlib is not installed (`nox -s bench` installs it)",
            file=sys.stderr,
        )
    print(text)


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/compare.json")
    write(json.loads(source.read_text()), source.parent, source.name.removesuffix(".json"))
