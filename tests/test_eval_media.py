"""`omnidex eval` on a media set: real files ingested as a library, hits mapped back to file names,
metrics per run, and a cached index reused while nothing it depends on changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from omnidex.cli import main
from omnidex.evaluation import evaluate, ingestion_fingerprint, is_media_set, load_beir
from tests.conftest import make_settings, write_pdf
from sample_corpus.media import speak

skdata = pytest.importorskip("skimage.data")

# query -> (file made for it, its content); names are opaque like the dev sets' ones.
PDFS = {
    "a1.pdf": "The night ferry to the lighthouse island leaves at eleven sharp.",
    "b2.pdf": "Tonight the cafe serves pumpkin soup with roasted chestnuts.",
    "c3.pdf": "The audit of the canal locks found three leaking gates.",
}
QUERIES = {
    "q-coffee": ("a cup of coffee", "d4.jpg"),
    "q-ferry": ("night ferry to the lighthouse island", "a1.pdf"),
    "q-soup": ("pumpkin soup with roasted chestnuts", "b2.pdf"),
    "q-speech": ("water the tomato plants", "e5.wav"),
}
RUNS = ["bm25", "dense", "hybrid", "hybrid+cutoff"]


@pytest.fixture(scope="module")
def media_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mediaset")
    files = root / "files"
    for name, text in PDFS.items():
        write_pdf(files / name, [text])
    Image.fromarray(skdata.coffee()).save(files / "d4.jpg", quality=90)
    Image.fromarray(skdata.chelsea()).save(files / "f6.jpg", quality=90)
    speak("Please water the tomato plants on the balcony every morning.", files / "e5.wav")
    (root / "qrels").mkdir()
    with open(root / "corpus.jsonl", "w") as out:
        out.writelines(json.dumps({"_id": p.name, "text": ""}) + "\n" for p in sorted(files.iterdir()))
    with open(root / "queries.jsonl", "w") as out:
        out.writelines(json.dumps({"_id": qid, "text": text}) + "\n" for qid, (text, _) in QUERIES.items())
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{qid}\t{name}\t1\n" for qid, (_, name) in QUERIES.items()))
    return root


@pytest.fixture(scope="module")
def evaluated(media_set: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    index_dir = tmp_path_factory.mktemp("index")
    settings = make_settings(tmp_path_factory.mktemp("unused"))
    details: dict[str, dict[str, list[str]]] = {}
    results = evaluate(media_set, RUNS, settings, index_dir=index_dir, details=details)
    return results, details, index_dir


def test_a_folder_with_files_is_a_media_set(media_set: Path) -> None:
    assert is_media_set(media_set)
    assert not is_media_set(media_set / "qrels")
    dataset = load_beir(media_set)
    assert dataset.is_media and set(dataset.corpus) == {p.name for p in (media_set / "files").iterdir()}


def test_each_file_is_found_by_what_it_holds(evaluated: tuple[dict, dict, Path]) -> None:
    results, details, _ = evaluated
    assert set(results) == set(RUNS)
    # Hits come back as file names: the photo of coffee is dense retrieval's first answer to its caption,
    # each PDF is BM25's first answer to its own words, and the spoken reminder is found by its words.
    assert details["dense"]["q-coffee"][0] == "d4.jpg"
    assert details["bm25"]["q-ferry"][0] == "a1.pdf"
    assert details["bm25"]["q-soup"][0] == "b2.pdf"
    assert details["hybrid"]["q-speech"][0] == "e5.wav"
    hybrid = results["hybrid"]
    assert hybrid["recall@1"] == 1.0 and hybrid["mrr@10"] == 1.0 and hybrid["empty"] == 0.0
    for run, metrics in results.items():
        assert 0.0 <= metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"] <= 1.0, run
        assert metrics["mrr@10"] >= metrics["recall@1"], run


def test_a_cached_index_is_reused_until_ingestion_changes(evaluated: tuple[dict, dict, Path], media_set: Path
                                                           ) -> None:
    results, _, index_dir = evaluated
    [folder] = list(index_dir.iterdir())
    stamp = folder / "eval-index-complete.json"
    built = stamp.stat().st_mtime_ns
    settings = make_settings(index_dir.parent / "unused-again")
    again = evaluate(media_set, ["hybrid"], settings, index_dir=index_dir)
    assert again["hybrid"] == results["hybrid"]
    assert stamp.stat().st_mtime_ns == built, "the cached index was rebuilt though nothing changed"
    # An index recorded as made by other ingestion code is rebuilt, unless stale indexes are allowed.
    recorded = json.loads(stamp.read_text())
    assert recorded["ingestion code"] == ingestion_fingerprint()
    stamp.write_text(json.dumps({**recorded, "ingestion code": "older"}))
    evaluate(media_set, ["bm25"], settings, index_dir=index_dir, stale_ok=True)
    assert json.loads(stamp.read_text())["ingestion code"] == "older"
    evaluate(media_set, ["bm25"], settings, index_dir=index_dir)
    assert json.loads(stamp.read_text())["ingestion code"] == ingestion_fingerprint()


def test_the_eval_command_detects_a_media_set(evaluated: tuple[dict, dict, Path], media_set: Path,
                                              capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, index_dir = evaluated
    monkeypatch.setenv("OMNIDEX_DATA_DIR", str(tmp_path / "data"))
    assert main(["eval", str(media_set), "--mode", "bm25", "--index-dir", str(index_dir), "--json"]) == 0
    out = capsys.readouterr()
    assert "media set" in out.err
    results = json.loads(out.out.strip().splitlines()[-1])
    assert results["bm25"]["recall@10"] >= 0.5
