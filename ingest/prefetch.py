"""Overlap decoding with inference: a producer thread fills a bounded queue.

Extraction (PDF rendering, OCR, audio and video decoding) and embedding
(ONNX Runtime, torch, CTranslate2) all release the GIL, so running the
extractor one step ahead keeps both cores busy; the bound keeps memory flat.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import TypeVar

from core.errors import OverBudget

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class DeadlinePassed(OverBudget):
    """The producer had nothing ready by the deadline (time.monotonic()); it is told to stop."""


def prefetch(items: Iterator[T], depth: int = 64, deadline: float | None = None) -> Iterator[T]:
    """Yield from `items`, produced in a background thread at most `depth` ahead; errors re-raise here.

    deadline: stop waiting then, however long the producer's current step still runs (a decoder in C
    cannot be interrupted; it stops at its next item)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as e:  # handed to the consumer, which decides
            buffer.put(_Failure(e))

    worker = threading.Thread(target=produce, name="omnidex-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = buffer.get(timeout=None if deadline is None else max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise DeadlinePassed from None
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
