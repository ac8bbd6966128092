"""What a benchmark ran on: Python, CPU and package versions (shared by the benchmarks)."""

from __future__ import annotations

import platform
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
