"""What the benchmarks share: percentiles, the CPU a number came from, and a busy machine on demand."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_name() -> str:
    """Speeds are quoted with the CPU they came from: int8 models run 3-4x apart between hosts."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@contextmanager
def spinning(processes: int) -> Iterator[None]:
    """`processes` processes burning a core each for the block's length: wall against CPU time on a busy machine."""
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(processes)]
    for process in spinners:
        process.start()
    try:
        yield
    finally:
        stop.set()
        for process in spinners:
            process.join(timeout=5)
