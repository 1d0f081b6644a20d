"""Retrieval quality on BEIR-format datasets: text corpora and media sets.

A text set is corpus.jsonl, queries.jsonl and qrels/test.tsv; its corpus is indexed
as plain-text documents. A media set has the same files plus files/, a folder of
media whose file names are the corpus ids: the folder is indexed through the
normal ingestion (as a user's library would be) and each hit is mapped back to its
file name. Each run (a search mode, with or without the relevance cutoff) is
scored by R@1, R@5, R@10, R@100, MRR@10 and nDCG@10 over documents (a document's
rank is its best segment's rank), and by the share of queries that came back empty.

A set may also judge where in a file the answer lies (qrels/sections.tsv: query, file, section, first and
last line): its runs are scored by section R@1, R@10 and MRR@10 too, over the ungrouped segments, each
distinct (file, section) counted once. A segment is in the judged section when its payload's `section` (or an
EPUB's `chapter`) is the judged one, or, for a file without headings, when its lines overlap the judged lines.

A text set also has a reference run, "whole-document": one vector per document (the text
encoder's document encoding of all of it, truncated at the model's limit as it must be),
ranked by cosine with the query's vector. It is what one vector per answer reaches, the mark
the chunked search aims at on sets of long answers (issue 23), not a way Omnidex searches.

Ingesting media is slow and retrieval is what gets tuned, so an index can be kept
in a cache folder keyed by the model versions, the ingestion code and the set's
files: a rerun after a retrieval change reuses it, an ingestion change rebuilds it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import statistics
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Settings
from retrieval.search import SearchMode

if TYPE_CHECKING:
    from ingest.indexer import Progress
    from omnidex.service import Omnidex

MEDIA_FILES = "files"
METRICS = ("recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10", "empty")
SECTION_METRICS = ("section recall@1", "section recall@10", "section mrr@10")
SECTIONS = "sections.tsv"  # beside qrels/test.tsv; bench/devsets.py writes it
# Code whose changes alter what an index holds; a cached index made before such a change is rebuilt.
INGESTION_CODE = ("ingest", "encoders", "store", "core/schema.py")
_COMPLETE = "eval-index-complete.json"


@dataclass(frozen=True)
class JudgedSection:
    """Where in a file a query's answer lies: a section as the payload names it, or a file's lines."""

    file: str  # corpus id (a media set's file name)
    section: str
    lines: tuple[int, int] | None = None  # for a file without headings (plain text)

    def holds(self, file: str, payload: dict) -> bool:
        if file != self.file:
            return False
        wanted = _name(self.section)
        if any(_name(payload.get(key)) == wanted for key in ("section", "chapter") if payload.get(key)):
            return True
        if self.lines is not None and "line_start" in payload and not payload.get("section"):
            return payload["line_start"] <= self.lines[1] and payload.get("line_end", payload["line_start"]) >= \
                self.lines[0]
        return False


def _name(value: object) -> str:
    return " ".join(str(value).split()).casefold()


@dataclass
class BeirDataset:
    corpus: dict[str, str]  # doc id -> title + text ("" for a media file: ingestion reads the file)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> graded relevance
    files: Path | None = None  # a media set's folder of files, named by their corpus ids
    sections: dict[str, list[JudgedSection]] = field(default_factory=dict)  # query id -> where its answer lies

    @property
    def is_media(self) -> bool:
        return self.files is not None


@dataclass(frozen=True)
class Run:
    """One way of searching as a user gets it: a mode (None: the configured default) with or without the cutoff."""

    name: str
    mode: SearchMode | None
    cutoff: bool
    reference: bool = False  # not a search: one vector per whole document (text sets only)


RUNS = {
    **{mode.value: Run(mode.value, mode, False) for mode in SearchMode},
    "hybrid+cutoff": Run("hybrid+cutoff", SearchMode.HYBRID, True),
    "default": Run("default", None, False),
    "default+cutoff": Run("default+cutoff", None, True),
    "whole-document": Run("whole-document", None, False, reference=True),
}
WHOLE_DOCUMENT_VECTORS = "whole-document-vectors.npz"


def is_media_set(root: Path) -> bool:
    return (root / MEDIA_FILES).is_dir()


def load_beir(root: Path, split: str = "test") -> BeirDataset:
    """A text or media set; for a media set the corpus ids are the names of the files in files/."""
    files = root / MEDIA_FILES if is_media_set(root) else None
    corpus = {}
    for row in _jsonl(root / "corpus.jsonl"):
        title = row.get("title") or ""
        text = row.get("text") or ""
        corpus[str(row["_id"])] = f"{title}\n\n{text}" if title else text
    if files is not None:
        missing = [name for name in corpus if not (files / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{len(missing)} corpus files missing from {files}, e.g. {missing[0]}")
    queries = {str(row["_id"]): row["text"] for row in _jsonl(root / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with (root / "qrels" / f"{split}.tsv").open(newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        for row in reader:
            if not row or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    qrels = {q: rels for q, rels in qrels.items() if q in queries and any(v > 0 for v in rels.values())}
    return BeirDataset(corpus, queries, qrels, files, load_sections(root / "qrels" / SECTIONS, qrels))


def load_sections(path: Path, qrels: dict[str, dict[str, int]]) -> dict[str, list[JudgedSection]]:
    """qrels/sections.tsv, if the set has one: query id -> the sections that answer it."""
    sections: dict[str, list[JudgedSection]] = {}
    if not path.is_file():
        return sections
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not row or row[0] == "query-id" or row[0] not in qrels:
                continue
            first, last = (row[3], row[4]) if len(row) >= 5 else ("", "")
            lines = (int(first), int(last)) if first and last else None
            sections.setdefault(row[0], []).append(JudgedSection(row[1], row[2], lines))
    return sections


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, r in relevant.items() if r > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked[:k]) if relevant.get(d, 0) > 0), 0.0)


def query_metrics(ranked: list[str], relevant: dict[str, int]) -> dict[str, float]:
    return {
        "recall@1": recall_at(ranked, relevant, 1),
        "recall@5": recall_at(ranked, relevant, 5),
        "recall@10": recall_at(ranked, relevant, 10),
        "recall@100": recall_at(ranked, relevant, 100),
        "mrr@10": mrr_at(ranked, relevant),
        "ndcg@10": ndcg_at(ranked, relevant),
        "empty": float(not ranked),
    }


def section_rank(segments: list[tuple[str, dict]], judged: list[JudgedSection]) -> int | None:
    """1-based rank of the first segment in a judged section, each distinct (file, section) ranked once (a file
    without headings: each distinct first line); None when none of the segments is in one."""
    seen: set[tuple] = set()
    for file, payload in segments:
        if any(j.holds(file, payload) for j in judged):
            return len(seen) + 1
        place = payload.get("section") or payload.get("chapter") or payload.get("line_start") or payload.get(
            "locator")
        seen.add((file, place))
    return None


def section_metrics(rank: int | None) -> dict[str, float]:
    return {"section recall@1": float(rank == 1), "section recall@10": float(rank is not None and rank <= 10),
            "section mrr@10": 1.0 / rank if rank is not None and rank <= 10 else 0.0}


def section_ranks(app: Omnidex, dataset: BeirDataset, run: Run, limit: int = 100) -> dict[str, int | None]:
    """Query id -> the judged section's rank among the run's ungrouped segments (section_rank)."""
    from retrieval.query import QuerySyntaxError

    ranks = {}
    for qid, judged in dataset.sections.items():
        try:
            hits = app.search(dataset.queries[qid], limit=limit, mode=run.mode, group=False, cutoff=run.cutoff)
        except QuerySyntaxError:
            hits = []
        segments = [(Path(h.path).name if dataset.is_media else h.asset_id, h.payload) for h in hits]
        ranks[qid] = section_rank(segments, judged)
    return ranks


def resolve_runs(modes: Iterable[SearchMode | Run | str]) -> list[Run]:
    """Runs from run names ("hybrid+cutoff"), Run objects or search modes (a mode alone: no cutoff)."""
    runs = []
    for mode in modes:
        if isinstance(mode, Run):
            runs.append(mode)
        elif isinstance(mode, SearchMode):
            runs.append(RUNS[mode.value])
        else:
            runs.append(RUNS[mode])
    return runs


def rankings(app: Omnidex, dataset: BeirDataset, run: Run, limit: int = 100) -> dict[str, list[str]]:
    """Query id -> corpus ids in the order `run` returns them (one per document)."""
    from retrieval.query import QuerySyntaxError

    ranked = {}
    for qid in dataset.qrels:
        try:
            hits = app.search(dataset.queries[qid], limit=limit, mode=run.mode, group=True, cutoff=run.cutoff)
        except QuerySyntaxError:  # a query that reads as broken syntax finds nothing, as it would for a user
            hits = []
        ranked[qid] = [Path(h.path).name if dataset.is_media else h.asset_id for h in hits]
    return ranked


def whole_document_rankings(app: Omnidex, dataset: BeirDataset, limit: int = 100) -> dict[str, list[str]]:
    """Query id -> corpus ids by the cosine of the query with one vector per whole document.

    The vectors are kept beside the index (its folder is keyed by the models and the documents).
    """
    import numpy as np

    if dataset.is_media:
        raise ValueError("the whole-document reference is for text sets")
    encoder = app.text_encoder
    ids = sorted(dataset.corpus)
    cached = app.settings.data_dir / WHOLE_DOCUMENT_VECTORS
    vectors = None
    if cached.is_file():
        with np.load(cached) as kept:
            if list(kept["ids"]) == ids:
                vectors = kept["vectors"]
    if vectors is None:
        vectors = np.asarray(encoder.encode_document([dataset.corpus[i] for i in ids]), dtype=np.float32)
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, ids=np.array(ids), vectors=vectors)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    wanted = list(dataset.qrels)
    queries = np.asarray(encoder.encode_query([dataset.queries[q] for q in wanted]), dtype=np.float32)
    cosines = queries @ vectors.T
    return {qid: [ids[j] for j in np.argsort(-row, kind="stable")[:limit]] for qid, row in zip(wanted, cosines)}


def score(dataset: BeirDataset, ranked: dict[str, list[str]]) -> dict[str, float]:
    per_query = [query_metrics(ranked[qid], relevant) for qid, relevant in dataset.qrels.items()]
    return {m: round(statistics.fmean(q[m] for q in per_query), 4) if per_query else 0.0 for m in METRICS}


def evaluate(dataset_dir: Path, modes: Iterable[SearchMode | Run | str], settings: Settings | None = None,
             index_dir: Path | None = None, progress: Progress | None = None,
             details: dict[str, dict[str, list[str]]] | None = None, stale_ok: bool = False
             ) -> dict[str, dict[str, float]]:
    """{run name: {metric: value}} for each run on an index of the set (cached under `index_dir` if given,
    see `indexed` for `stale_ok`).

    `details`, if given, is filled with {run name: {query id: ranked corpus ids}} for looking at failures.
    """
    dataset = load_beir(dataset_dir)
    results = {}
    with indexed(dataset_dir, dataset, settings, index_dir, progress, stale_ok) as app:
        for run in resolve_runs(modes):
            ranked = whole_document_rankings(app, dataset) if run.reference else rankings(app, dataset, run)
            if details is not None:
                details[run.name] = {qid: ids[:10] for qid, ids in ranked.items()}
            results[run.name] = score(dataset, ranked)
            if dataset.sections and not run.reference:
                ranks = section_ranks(app, dataset, run)
                per_query = [section_metrics(rank) for rank in ranks.values()]
                results[run.name] |= {m: round(statistics.fmean(q[m] for q in per_query), 4)
                                      for m in SECTION_METRICS}
    return results


# --------------------------------------------------------------------------- indexes


@contextmanager
def indexed(dataset_dir: Path, dataset: BeirDataset, settings: Settings | None = None,
            index_dir: Path | None = None, progress: Progress | None = None,
            stale_ok: bool = False) -> Iterator[Omnidex]:
    """An Omnidex over an index of the set: a scratch one, or the cached one under `index_dir` when it was
    built by the same models from the same files and ingestion code (else it is rebuilt there).

    `stale_ok` keeps a cached index made by other ingestion code: for tuning retrieval while someone
    else edits ingestion in the same tree.
    """
    if index_dir is None:
        with scratch_index(dataset, settings, progress) as app:
            yield app
        return
    base = settings or Settings()
    folder = index_dir / f"{dataset_dir.resolve().name}-{index_key(dataset, base)}"
    code = ingestion_fingerprint()
    stamp = folder / _COMPLETE
    built_by = json.loads(stamp.read_text()).get("ingestion code") if stamp.is_file() else None
    reuse = built_by is not None and (built_by == code or stale_ok)
    if built_by is not None and built_by != code and progress is not None:
        progress.notice(f"{folder} was built by other ingestion code: "
                        + ("kept (stale_ok)" if stale_ok else "rebuilding"))
    if not reuse:
        shutil.rmtree(folder, ignore_errors=True)
    with _opened(folder, dataset, base, progress, reuse) as app:
        yield app


@contextmanager
def _opened(data_dir: Path, dataset: BeirDataset, settings: Settings | None, progress: Progress | None,
            reuse: bool) -> Iterator[Omnidex]:
    from omnidex.service import Omnidex

    base = settings or Settings()
    app = Omnidex(base.model_copy(update={"data_dir": data_dir}))
    try:
        if not reuse:
            _index(app, dataset, progress)
            (data_dir / _COMPLETE).write_text(json.dumps({"segments": app.status()["points"],
                                                          "ingestion code": ingestion_fingerprint()}))
        yield app
    finally:
        app.close()


def _index(app: Omnidex, dataset: BeirDataset, progress: Progress | None) -> None:
    if dataset.files is None:
        app.indexer.index_texts(dataset.corpus.items())
        return
    report = app.ingest([dataset.files.resolve()], progress)
    failed = [o for o in report.outcomes if o.status == "failed"]
    if failed and progress is not None:
        progress.notice(f"{len(failed)} of {len(report.outcomes)} files failed, e.g. {failed[0].path}: "
                        f"{failed[0].error}")


def index_key(dataset: BeirDataset, settings: Settings) -> str:
    """What an index is of: the model versions and the set's documents or files."""
    from encoders.versions import model_versions

    digest = hashlib.blake2b(digest_size=6)
    digest.update(json.dumps(model_versions(settings), sort_keys=True).encode())
    if dataset.files is None:
        for doc_id, text in sorted(dataset.corpus.items()):
            digest.update(f"{doc_id}\0{text}\0".encode())
    else:
        for name in sorted(dataset.corpus):
            digest.update(f"{name}:{(dataset.files / name).stat().st_size}\0".encode())
    return digest.hexdigest()


def ingestion_fingerprint() -> str:
    """A hash of the code that decides what an index holds (INGESTION_CODE)."""
    digest = hashlib.blake2b(digest_size=6)
    root = Path(__file__).resolve().parent.parent
    for entry in INGESTION_CODE:
        path = root / entry
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(root).as_posix().encode() + source.read_bytes())
    return digest.hexdigest()


@contextmanager
def scratch_index(dataset: BeirDataset, settings: Settings | None = None, progress: Progress | None = None
                  ) -> Iterator[Omnidex]:
    """An Omnidex over a temporary index of the dataset's corpus or files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="omnidex-eval-") as scratch:
        with _opened(Path(scratch), dataset, settings, progress, reuse=False) as app:
            yield app
