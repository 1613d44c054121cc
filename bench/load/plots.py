"""The PNG figures of docs/benchmarks.md (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PERCENTILES = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))


def _latency(load: dict[str, Any] | None, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    if load:
        names = list(load["variants"])
        width = 0.8 / len(PERCENTILES)
        for i, (key, label) in enumerate(PERCENTILES):
            values = [load["variants"][n]["overall"][key] or 0 for n in names]
            ax.bar([x + i * width for x in range(len(names))], values, width, label=label)
        ax.set_xticks([x + width for x in range(len(names))], names)
        ax.set_yscale("log")
        ax.legend()
    ax.set_ylabel("latency from scheduled send (ms, log)")
    ax.set_title("Latency per variant, whole mix after warming")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _warming(load: dict[str, Any] | None, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    if load:
        for name, v in load["variants"].items():
            first = next(iter(v["phases"].values()))
            curve = [(p["second"], p["hit_rate"]) for p in first.get("curve", [])]
            if curve and any(rate is not None for _, rate in curve):
                ax.plot([s for s, _ in curve], [r or 0 for _, r in curve], label=name)
        ax.legend()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("seconds from a cold cache")
    ax.set_ylabel("hit rate")
    ax.set_title("Cache warming: hit rate per second")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _throughput(result: dict[str, Any], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    load = result.get("load")
    if load:
        names = list(load["variants"])
        peak = [max(v["phases"].values(), key=lambda p: p["rate_per_s"]) for v in
                load["variants"].values()]  # fmt: skip
        left.bar(names, [p["overall"]["throughput_per_s"] for p in peak], label="achieved")
        left.axhline(peak[0]["rate_per_s"], color="grey", linestyle="--", label="offered")
        left.legend()
    left.set_ylabel("requests/s")
    left.set_title("Peak phase: achieved vs offered rate")
    ceiling = result.get("ceiling")
    if ceiling and "bare" in ceiling and "cached" in ceiling:
        values = [ceiling["bare"]["requests_per_s"], ceiling["cached"]["requests_per_s"]]
        right.bar(["bare Redis GET", "cached endpoint"], values, color=["grey", "tab:blue"])
        right.set_title(f"Ceiling (wrk): ratio {ceiling.get('ratio', 0):.0%}")
    else:
        right.set_title("Ceiling: not measured")
    right.set_ylabel("requests/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def draw(result: dict[str, Any], directory: Path) -> dict[str, Path]:
    paths = {name: directory / f"{name}.png" for name in ("latency", "warming", "throughput")}
    _latency(result.get("load"), paths["latency"])
    _warming(result.get("load"), paths["warming"])
    _throughput(result, paths["throughput"])
    return paths
