"""Overlap decoding with inference: a producer thread fills a bounded queue.

Extraction (PDF rendering, OCR, audio and video decoding) and embedding
(ONNX Runtime, torch, CTranslate2) all release the GIL, so running the
extractor one step ahead keeps both cores busy; the bound keeps memory flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterator[T], depth: int = 64) -> Iterator[T]:
    """Yield from `items`, produced in a background thread at most `depth` ahead; errors re-raise here."""
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
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
