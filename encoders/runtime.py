"""Device and thread choices shared by every model runtime (torch, ONNX Runtime, CTranslate2), and the
model cache's files: written atomically, with their size and hash recorded, and re-checked before use."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy  # noqa: F401 (its BLAS must be loaded for the limit below to reach it)
from threadpoolctl import threadpool_limits

# Several inference sessions in one process on few cores slow each other
# 2-3x when their idle threads spin; passive waiting must be set before the
# runtimes start their pools.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# numpy's own products here are small (a query against a few hundred vectors), where OpenBLAS's threads
# spin on the other cores after each call: they were half of a search's CPU (79 -> 43 ms per query with
# all-MiniLM-L6-v2 on 2 cores). Training runs in torch, which has its own threads.
threadpool_limits(1, user_api="blas")


@lru_cache(maxsize=None)
def resolve_device(requested: str = "auto") -> str:
    """CUDA when asked for or available, else CPU. Without an NVIDIA driver there is no CUDA to find, and
    torch (seconds to import) is not loaded to say so: `omnidex search` on a CPU runs ONNX models only."""
    if requested != "auto":
        return requested
    if sys.platform == "linux" and not Path("/proc/driver/nvidia/version").exists() and "torch" not in sys.modules:
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


# A query is one short text: a second intra-op thread bought it nothing on 2 cores and doubled its CPU
# (all-MiniLM-L6-v2 in torch: 16 ms wall either way, 17 against 33 ms of CPU; bge-small-en int8: 8 ms either
# way), and a query on one thread does not wait for a second one the OS has given to other work.
QUERY_THREADS = 1


def cpu_threads(requested: int = 0) -> int:
    return requested if requested > 0 else (os.cpu_count() or 1)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Torch's intra-op threads for this thread alone during the block (OpenMP keeps the count per thread)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def background_priority(niceness: int) -> Iterator[None]:
    """Run the block in this thread at `niceness` more than now, where the OS allows it per thread (Linux):
    indexing is background work, and a search in the same process (or anything else on the machine) then
    gets the cores first. Threads started meanwhile (a runtime's pool made now, the prefetch thread) keep
    the lower priority for good. The old priority comes back where the OS lets a thread raise its own
    (root, or a nice limit that allows it); elsewhere this thread stays lowered, as `nice` would leave it."""
    native = getattr(threading, "get_native_id", None)
    if niceness <= 0 or sys.platform != "linux" or native is None:
        yield
        return
    tid = native()
    try:
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(before + niceness, 19))
    except OSError:
        yield
        return
    try:
        yield
    finally:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, before)
        except OSError:
            pass


def onnx_session(model_path: str, device: str = "auto", threads: int = 0):  # -> ort.InferenceSession
    """An ONNX Runtime session with non-spinning thread pools, on CUDA when available."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads(threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if resolve_device(device) == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(model_path, options, providers=providers)


class LazyOnnxSession:
    """An ONNX model opened on first use (start-up stays fast), once, even with concurrent callers."""

    def __init__(self, model_path: Path, device: str = "auto", threads: int = 0) -> None:
        self.model_path = model_path
        self.device = device
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:  # ort.InferenceSession
        with self._lock:
            if self._session is None:
                self._session = onnx_session(str(self.model_path), self.device, self.threads)
        return self._session


@contextmanager
def written_atomically(target: Path, record: bool = True) -> Iterator[Path]:
    """A temporary path beside `target` to write; renamed onto it only when the block succeeds,
    so a crash or a second process never sees a half-written model file in the cache. With `record`,
    its size and hash are kept beside it (`<name>.check`) for `cache_file_intact`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix)
    os.close(fd)
    try:
        yield Path(temp)
        os.chmod(temp, 0o644)  # a cache other users (a container's, a service's) may read
        fingerprint = json.dumps(_fingerprint(Path(temp))) if record else None
        os.replace(temp, target)
        if fingerprint is not None:
            with written_atomically(_check_path(target), record=False) as check_temp:
                check_temp.write_text(fingerprint)
    finally:
        Path(temp).unlink(missing_ok=True)


def cache_file_intact(target: Path) -> bool:
    """True when a cache file is there with the size and hash recorded when it was written. A damaged one
    (a disk error, a cut copy, an edit) is removed, and so is one without a record, so the caller writes
    it again instead of handing a runtime bytes it would reject ("InvalidProtobuf") on every file."""
    check = _check_path(target)
    try:
        recorded = json.loads(check.read_text())
        if target.stat().st_size == recorded["size"] and _fingerprint(target) == recorded:
            return True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    target.unlink(missing_ok=True)
    check.unlink(missing_ok=True)
    return False


def _check_path(target: Path) -> Path:
    return target.with_name(target.name + ".check")


def _fingerprint(path: Path) -> dict[str, int | str]:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return {"size": path.stat().st_size, "blake2b": digest.hexdigest()}
