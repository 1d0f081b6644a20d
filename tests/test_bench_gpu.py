"""bench/bench_gpu.py, the device check, runs whole on a CPU as a smoke test: every component measured."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import load_bench_script

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = {"text encoder (documents)", "text encoder (query)", "image classifier", "cross-encoder",
              "index (embedded store)", "search (hybrid)", "search (rerank)"}


def test_quick_cpu_run_measures_every_component(tmp_path: Path) -> None:
    report_path = tmp_path / "bench_gpu.json"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_gpu.py"), "--device", "cpu", "--quick",
                           "--json", str(report_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(report_path.read_text())
    assert report["device"] == "cpu" and report["quick"] is True
    rows = report["rows"]
    assert {row["component"] for row in rows} == COMPONENTS
    assert len(rows) == len(COMPONENTS)  # one precision on CPU, so one row each
    for row in rows:
        assert row["error"] is None, row
        assert row["device"] == "cpu"
        assert math.isfinite(row["items_per_s"]) and row["items_per_s"] > 0, row
        assert row["component"] in done.stdout  # the printed table has the row too
    for row in rows:
        if row["component"].startswith("search"):
            assert row["passes"] >= 2
            assert 0 < row["p50_ms"] <= row["p95_ms"], row
    index = next(row for row in rows if row["component"] == "index (embedded store)")
    assert index["batch"] == report["sizes"]["chunks"]  # every generated chunk became one segment


def test_cuda_asked_for_without_cuda_runs_on_cpu_and_says_so() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    device, said = load_bench_script("bench_gpu").resolve("cuda")
    assert device == "cpu"
    assert "no CUDA" in said and "running on CPU" in said
