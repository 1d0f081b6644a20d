"""Where a query's time goes, stage by stage, for the benchmarks that ask (bench/bench_peers.py).

Off by default: a search then pays one attribute read per stage. On, each stage's thread CPU time is added
up (queries run on one thread: encoders/runtime.py QUERY_THREADS), so the figures sum to a query's CPU.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class StageClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.queries = 0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.thread_time()
        try:
            yield
        finally:
            self.seconds[name] += time.thread_time() - start

    def query(self) -> None:
        self.queries += 1

    def reset(self) -> None:
        self.seconds.clear()
        self.queries = 0

    def per_query_ms(self) -> dict[str, float]:
        """Each stage's mean CPU milliseconds per query, in the order the stages first ran."""
        return {name: 1000 * s / max(self.queries, 1) for name, s in self.seconds.items()}


class NoClock:
    def query(self) -> None:
        pass

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield


OFF = NoClock()
