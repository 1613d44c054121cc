"""Renders a results file of `bench.run` as docs/benchmarks.md and docs/bench/*.png.

Usage: `uv run python -m bench.report [bench/results/bench-<stamp>.json] [--out DIR]`
(default: the newest bench-*.json; DIR defaults to docs/, figures go to DIR/bench/).
`summary(result)` is also what `bench.run` prints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.load import cpu, plots
from bench.load.page import limits_section, method_section
from bench.load.targets import collect

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# The focused benchmarks (`bench.<name>`, each with `main` and `report`), in the order they run.
FOCUSED = (
    "cache_latency",
    "invalidation_lag",
    "write_latency",
    "ceiling",
    "request_cpu",
    "memory",
    "memory_100k",
    "history",
)
CPU_NOTE = (
    "CPU seconds each process used in the phase (bench/load/cpu.py; the outbox relay runs in "
    "the API, so its CPU is the API's; PostgreSQL's backends serving the bench database are the "
    "variant's and the oracle's alike). Cores busy: their sum over the phase's wall time, of 2. "
    "Cores stolen: the CPU time the host gave to others while this machine had work (the "
    "kernel's steal time) over the same wall time; a phase with some is a busy machine's."
)


def _cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and unit == "%":
        return f"{value:.1%}"
    return f"{value}{unit}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f} MiB"


def targets_table(result: dict[str, Any]) -> str:
    lines = ["| target | goal | measured | |", "|---|---|---|---|"]
    for t in result.get("targets", []):
        met = {True: "met", False: "**not met**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['name']} | {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines)


def variants_table(load: dict[str, Any]) -> str:
    lines = [
        "| variant | requests | p50 | p95 | p99 | p99 of hits | req/s | errors | hit rate "
        "| DB reads / request | stale reads (checked) | Redis used_memory |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in load["variants"].items():
        o, s = v["overall"], v["stale_reads"]
        lines.append(
            f"| {name} | {o['requests']} | {_cell(o['p50_ms'], ' ms')} | "
            f"{_cell(o['p95_ms'], ' ms')} | {_cell(o['p99_ms'], ' ms')} | "
            f"{_cell(o['hit_p99_ms'], ' ms')} | {o['throughput_per_s']} | {o['errors']} | "
            f"{_cell(o['hit_rate'], '%')} | {v['reads_per_request']} | "
            f"{s['stale']} ({s['checked']}) | {_mib(v['redis_used_memory_bytes'])} |"
        )
    return "\n".join(lines)


def phases_table(load: dict[str, Any]) -> str:
    lines = [
        "| variant | phase | rate | p50 | p95 | p99 | req/s | errors | hit rate | BYPASS "
        "| DB reads / req |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in load["variants"].items():
        for phase, p in v["phases"].items():
            o = p["overall"]
            lines.append(
                f"| {name} | {phase} | {p['rate_per_s']:g}/s x {p['seconds']:g} s | "
                f"{_cell(o['p50_ms'], ' ms')} | {_cell(o['p95_ms'], ' ms')} | "
                f"{_cell(o['p99_ms'], ' ms')} | {o['throughput_per_s']} | {o['errors']} | "
                f"{_cell(o['hit_rate'], '%')} | {_cell(o.get('bypass_share'), '%')} | "
                f"{o['reads_per_request']} |"
            )
    return "\n".join(lines)


def endpoints_table(load: dict[str, Any]) -> str:
    names = list(load["variants"])
    endpoints = sorted({e for v in load["variants"].values() for e in v["endpoints"]})
    head = " | ".join(f"{n} p50 / p99 · hit · queries" for n in names)
    lines = [f"| endpoint | {head} |", "|---|" + "---|" * len(names)]
    for endpoint in endpoints:
        cells = []
        for name in names:
            e = load["variants"][name]["endpoints"].get(endpoint)
            cells.append(
                "-"
                if e is None
                else f"{_cell(e['p50_ms'])} / {_cell(e['p99_ms'])} ms · "
                f"{_cell(e['hit_rate'], '%')} · {_cell(e['queries_per_request'])}"
            )
        lines.append(f"| {endpoint} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stale_table(load: dict[str, Any]) -> str:
    lines = [
        "| variant | reads checked | differed | a write in flight | analytics within bound "
        "| stale | stale by endpoint |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in load["variants"].items():
        s = v["stale_reads"]
        by = ", ".join(f"{e}: {n}" for e, n in s["stale_by_endpoint"].items()) or "-"
        lines.append(
            f"| {name} | {s['checked']} | {s['differs']} | {s['during_writes']} | "
            f"{s['within_bound']} | **{s['stale']}** | {by} |"
        )
    return "\n".join(lines)


def _focused(result: dict[str, Any]) -> list[str]:
    import importlib

    parts = []
    for name in FOCUSED:
        part = result.get(name)
        if not part:
            continue
        try:
            module = importlib.import_module(f"bench.{name}")
            parts += [f"### bench.{name}", "", module.report(part), ""]
        except Exception as exc:  # a renderer of another shape: show the error
            parts += [f"### bench.{name}", "", f"(not rendered: {exc!r})", ""]
    return parts


def headline(result: dict[str, Any]) -> str:
    """A few lines for the README: every target's measured figure and verdict."""
    lines = [f"Benchmarks ({result['profile']} run, {result['started_utc']}; details in "
             "[docs/benchmarks.md](docs/benchmarks.md)):", ""]  # fmt: skip
    for t in result.get("targets", []):
        met = {True: "met", False: "not met", None: "not measured"}[t["met"]]
        lines.append(f"- {t['name']}: {t['measured']} (goal {t['target']}, {met})")
    load = result.get("load")
    if load:
        stale = ", ".join(
            f"{name} {v['stale_reads']['stale']}" for name, v in load["variants"].items()
        )
        lines.append(f"- stale reads per variant: {stale}")
    return "\n".join(lines)


def summary(result: dict[str, Any]) -> str:
    lines = [f"# bench {result['profile']} ({result.get('duration_s', '?')} s)", ""]
    load = result.get("load")
    if load:
        lines += ["## Load, after warming", "", variants_table(load), ""]
        lines += ["## Phases", "", phases_table(load), ""]
        lines += ["## Who ate the cores", "", cpu.table(load), ""]
        lines += ["## Stale reads", "", stale_table(load), ""]
    lines += ["## Targets", "", targets_table(result)]
    lines += [f"\nnote: {n}" for n in result.get("notes", [])]
    return "\n".join(lines)


def page(result: dict[str, Any], figures: dict[str, str]) -> str:
    load = result.get("load")
    lines = [
        "# Benchmarks",
        "",
        f"Run: profile **{result['profile']}**, {result['started_utc']}, "
        f"{result['host']['cpus']} CPUs, {result.get('duration_s', '?')} s in all. "
        "Regenerate with `make bench` (quick) or `make bench-full`, then "
        "`make bench-report`.",
        "",
        "## Targets",
        "",
        targets_table(result),
        "",
        *limits_section(result),
        *method_section(load),
    ]
    if load:
        lines += ["## Variants, after warming", "", variants_table(load), ""]
        lines += [f"![latency percentiles per variant]({figures['latency']})", ""]
        lines += ["## Per phase", "", phases_table(load), ""]
        lines += ["## Who ate the cores", "", CPU_NOTE, "", cpu.table(load), ""]
        lines += ["### What limits each phase (collabcache)", ""]
        lines += [*cpu.limits(load, result["host"]["cpus"] or 2), ""]
        lines += ["## Per endpoint (after warming)", "", endpoints_table(load), ""]
        lines += ["## Stale reads", "", stale_table(load), ""]
        lines += ["## Cache warming", "", f"![hit rate per second]({figures['warming']})", ""]
    lines += ["## Throughput", "", f"![throughput]({figures['throughput']})", ""]
    lines += ["## Focused benchmarks", "", *_focused(result)]
    if result.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in result["notes"]], ""]
    return "\n".join(lines)


def render(result: dict[str, Any], out: Path) -> Path:
    result = {**result, "targets": collect(result)}  # the current verdicts on the stored parts
    figures_dir = out / "bench"
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures = plots.draw(result, figures_dir)
    relative = {k: f"bench/{v.name}" for k, v in figures.items()}
    target = out / "benchmarks.md"
    target.write_text(page(result, relative) + "\n")
    return target


def newest() -> Path:
    found = sorted(RESULTS.glob("bench-*.json"))
    if not found:
        raise SystemExit("no bench/results/bench-*.json: run `make bench` first")
    return found[-1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="?", type=Path, help="a bench-<stamp>.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--headline", action="store_true", help="also print README lines")
    args = parser.parse_args()
    source = args.results or newest()
    if args.headline:
        print(headline(json.loads(source.read_text())) + "\n")
    print(f"rendered {render(json.loads(source.read_text()), args.out)} from {source}")
