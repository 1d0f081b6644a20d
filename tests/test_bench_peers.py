"""bench/bench_peers.py runs whole where its peers are not installed (the default install): Omnidex against the
embedding-only floor on a small real-text set, each in a process of its own, every number measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOPICS = {
    "tides": "The tides rise and fall twice a day because the moon pulls the oceans towards it. Spring tides "
             "come at full and new moon, when the sun and the moon pull in a line.",
    "bread": "Sourdough bread rises with wild yeast and lactic bacteria kept alive in a starter of flour and "
             "water, fed every day and left to ferment overnight before baking.",
    "glacier": "A glacier is a river of ice that flows downhill under its own weight, carving valleys and "
               "leaving moraines of rock behind when it melts back.",
    "violin": "A violin has four strings tuned in fifths, played with a bow strung with horsehair and rosin; "
              "the sound post inside carries the vibration to the back.",
}
QUESTIONS = {"q1": ("why are there two high tides every day", "tides"),
             "q2": ("how do I keep a sourdough starter alive", "bread"),
             "q3": ("how do glaciers shape valleys", "glacier"),
             "q4": ("how many strings does a violin have", "violin")}


def _tiny_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as f:
        for doc_id, text in TOPICS.items():
            f.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as f:
        for qid, (text, _) in QUESTIONS.items():
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{qid}\t{doc}\t1\n" for qid, (_, doc) in QUESTIONS.items()))
    return folder


@pytest.mark.parametrize("model", ["all-minilm-l6-v2", "bge-small-en"])
def test_omnidex_beside_the_floor_prints_every_number(tmp_path: Path, model: str) -> None:
    """With the peers' model and with the default one (ONNX: its floor is Omnidex's own encoder)."""
    _tiny_beir(tmp_path / "beir" / "tiny")
    report_path = tmp_path / "peers.json"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_peers.py"), "--beir", str(tmp_path / "beir"),
                           "--sets", "tiny", "--systems", "omnidex", "--rounds", "1", "--model", model,
                           "--json", str(report_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| omnidex | 1.000 |" in done.stdout, done.stdout  # four distinct topics: each question finds its own
    assert "omnidex: CPU per query by stage" in done.stdout, done.stdout
    runs = json.loads(report_path.read_text())["tiny"]
    (floor,), (omnidex,) = runs["floor"], runs["omnidex"]
    assert floor["index_cpu_s"] > 0 and "ndcg@10" not in floor  # the floor embeds, it ranks nothing
    assert floor["windows_cpu_s"] >= 0  # four one-chunk answers: no context windows to embed
    assert omnidex["index_cpu_s"] > 0 and omnidex["query_cpu_ms"] > 0
    assert 0 < omnidex["query_wall_p50_ms"] <= omnidex["query_wall_p95_ms"]
    assert omnidex["peak_rss_mb"] > 100  # a process holding a model
    stages = omnidex["stage_cpu_ms"]  # where a query's CPU goes: every stage of a hybrid search ran
    assert {"encode", "bm25 list", "dense list", "calibration", "fusion", "hits", "snippets"} <= set(stages), stages
    assert all(ms >= 0 for ms in stages.values()) and stages["encode"] > 0
    assert sum(stages.values()) <= omnidex["query_cpu_ms"] * 1.05, (stages, omnidex["query_cpu_ms"])
