"""What a benchmark ran on (Python, CPU, package versions) and where its results go."""

from __future__ import annotations

import json
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path


def versions(packages: tuple[str, ...]) -> dict:
    """Python, machine, CPU model and the installed version of each of ``packages``."""
    out = {"python": platform.python_version(), "machine": platform.machine(),
           "processor": cpu_name()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_result(result: dict, path: Path) -> None:
    """Write a benchmark's result as JSON (folders made as needed) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  results: {path}")


def run_line(r: dict) -> str:
    """One line on how a single-thread, interleaved benchmark ran (CPU, repeats, load)."""
    return (f"  CPU: {r['versions']['processor']}; both on 1 thread of {r['cores']} cores; "
            f"1 warm-up, then {r['repeats']} interleaved repeats; 1-min load average "
            f"{r['load_average_1min'][0]:.1f} -> {r['load_average_1min'][1]:.1f}")


def timed(runs: dict, repeats: int, warmup: bool = True) -> tuple[dict, dict]:
    """Seconds per call of each of ``runs`` (name: callable) and its last result. After one
    warm-up call each, the runs take turns ``repeats`` times, so that a change in the
    machine's load falls on all of them alike; best and median of the repeats."""
    results = {name: run() for name, run in runs.items()} if warmup else {}
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - t0)
    return {name: {"best_s": min(t), "median_s": statistics.median(t), "times_s": t}
            for name, t in times.items()}, results
