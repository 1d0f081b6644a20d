"""Is the default search at least as good as its best part on every collection, and what does the cutoff cost?

    .venv/bin/python bench/bench_quality.py [--sets clipart speech debian-faq ...] [--index-dir bench/out/eval-index]

For every dev set (bench/devsets.py -> bench/out/devsets) and FAQ set (bench/faq_to_beir.py ->
bench/out/beir) it scores BM25 alone, dense alone, and the default search without and with the
relevance cutoff (R@1, R@10, MRR@10; nDCG@10 on text sets) and checks the two promises of
issue 13 on each set's main metric (nDCG@10 for text, R@10 for media):

- the default is at least the better single part minus 0.005;
- the cutoff costs at most 0.02 of R@10.

A set that judges sections too (qrels/sections.tsv: bench/devsets.py's documents) gets a second table: each
run's file-level R@1, R@10 and MRR@10 beside the section-level ones (the judged section's rank among the
ungrouped segments, omnidex/evaluation.py).

On a text set it also scores the reference "whole-document" (one vector per whole document, the
text encoder's own encoding of it truncated at the model's limit: omnidex/evaluation.py). A set of
long answers (its judged documents' median at least LONG_ANSWER_WORDS words: bench/faq_to_beir.py's
python-howto, tool-manuals, debian-reference) has two more promises (issue 23):

- the default is at least dense alone;
- the default is within 0.02 of whole-document.

Prints Markdown tables README can take. With --index-dir each set's index is kept and reused
while the models, the ingestion code and the files stay the same (media ingestion takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest.report import Progress  # noqa: E402
from omnidex.evaluation import evaluate, is_media_set  # noqa: E402

SET_ROOTS = (BENCH_DIR / "out" / "devsets", BENCH_DIR / "out" / "beir")
RUNS = ("bm25", "dense", "default", "default+cutoff")
TEXT_RUNS = (*RUNS, "whole-document")
PARTS = ("bm25", "dense")
FUSION_SLACK = 0.005
CUTOFF_BUDGET = 0.02
WHOLE_DOCUMENT_SLACK = 0.02
LONG_ANSWER_WORDS = 300


class _Notices(Progress):
    """Only what must be heard (failed files, a rebuilt index), on stderr: a table run needs no bars."""

    def notice(self, message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)


def find_sets(names: list[str] | None) -> list[Path]:
    """Named sets (a name under bench/out/{devsets,beir} or a path); all built ones when none are named."""
    if not names:
        return [p for root in SET_ROOTS if root.is_dir() for p in sorted(root.iterdir())
                if (p / "queries.jsonl").is_file()]
    found = []
    for name in names:
        candidates = [Path(name)] + [root / name for root in SET_ROOTS]
        folder = next((c for c in candidates if (c / "queries.jsonl").is_file()), None)
        if folder is None:
            raise SystemExit(f"no set {name!r}: build it with bench/devsets.py or bench/faq_to_beir.py")
        found.append(folder)
    return found


def long_answers(folder: Path) -> bool:
    """Whether a text set's judged documents run to LONG_ANSWER_WORDS words or more (the median)."""
    from statistics import median

    from omnidex.evaluation import load_beir

    dataset = load_beir(folder)
    judged = {doc for rels in dataset.qrels.values() for doc, grade in rels.items() if grade > 0}
    return bool(judged) and median(len(dataset.corpus[d].split()) for d in judged) >= LONG_ANSWER_WORDS


def checks(results: dict[str, dict[str, float]], media: bool, long: bool = False) -> dict[str, float | bool | str]:
    """The promises on one set, with the numbers they rest on."""
    metric = "recall@10" if media else "ndcg@10"
    best_part = max(PARTS, key=lambda part: results[part][metric])
    default = results["default"][metric]
    cost = results["default"]["recall@10"] - results["default+cutoff"]["recall@10"]
    found = {"metric": metric, "best_part": best_part, "best_part_value": results[best_part][metric],
             "default_value": default, "fusion_ok": default >= results[best_part][metric] - FUSION_SLACK,
             "cutoff_cost_r10": round(cost, 4), "cutoff_ok": cost <= CUTOFF_BUDGET, "long": long}
    if long:
        whole = results["whole-document"][metric]
        found |= {"whole_value": whole, "dense_ok": default >= results["dense"][metric],
                  "whole_ok": default >= whole - WHOLE_DOCUMENT_SLACK}
    return found


def passed(entry: dict) -> bool:
    c = entry["checks"]
    return all(c.get(key, True) for key in ("fusion_ok", "cutoff_ok", "dense_ok", "whole_ok"))


def markdown(report: dict[str, dict]) -> str:
    lines = ["| set | kind | run | R@1 | R@10 | MRR@10 | nDCG@10 | empty |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for name, entry in report.items():
        for run in entry["results"]:
            m = entry["results"][run]
            lines.append(f"| {name} | {entry['kind']} | {run} | {m['recall@1']:.3f} | {m['recall@10']:.3f} | "
                         f"{m['mrr@10']:.3f} | {m['ndcg@10']:.3f} | {m['empty']:.3f} |")
    lines += ["", "| set | metric | best part | default | default >= best part - 0.005? | cutoff cost in R@10 "
              "| cutoff cost <= 0.02? |", "|---|---|---|---:|---|---:|---|"]
    for name, entry in report.items():
        c = entry["checks"]
        lines.append(f"| {name} | {c['metric']} | {c['best_part']} {c['best_part_value']:.3f} | "
                     f"{c['default_value']:.3f} | {'yes' if c['fusion_ok'] else 'NO'} | {c['cutoff_cost_r10']:+.3f} | "
                     f"{'yes' if c['cutoff_ok'] else 'NO'} |")
    sectioned = {name: entry for name, entry in report.items()
                 if any("section recall@1" in m for m in entry["results"].values())}
    if sectioned:
        lines += ["", "| set | run | file R@1 | file R@10 | file MRR@10 | section R@1 | section R@10 | section MRR@10 |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, entry in sectioned.items():
            for run, m in entry["results"].items():
                if "section recall@1" in m:
                    lines.append(f"| {name} | {run} | {m['recall@1']:.3f} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | "
                                 f"{m['section recall@1']:.3f} | {m['section recall@10']:.3f} | "
                                 f"{m['section mrr@10']:.3f} |")
    long = {name: entry for name, entry in report.items() if entry["checks"].get("long")}
    if long:
        lines += ["", "| long-answer set | dense | whole-document | default | default >= dense? "
                  "| default >= whole-document - 0.02? |", "|---|---:|---:|---:|---|---|"]
        for name, entry in long.items():
            c = entry["checks"]
            lines.append(f"| {name} | {entry['results']['dense'][c['metric']]:.3f} | {c['whole_value']:.3f} | "
                         f"{c['default_value']:.3f} | {'yes' if c['dense_ok'] else 'NO'} | "
                         f"{'yes' if c['whole_ok'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", help="set names or folders (default: every built set)")
    parser.add_argument("--index-dir", type=Path, help="cache of built indexes, reused while still valid")
    parser.add_argument("--stale-index-ok", action="store_true",
                        help="reuse cached indexes even if the ingestion code changed since they were built")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    report: dict[str, dict] = {}
    for folder in find_sets(args.sets):
        media = is_media_set(folder)
        started = time.perf_counter()
        results = evaluate(folder, list(RUNS if media else TEXT_RUNS), index_dir=args.index_dir,
                           progress=_Notices(), stale_ok=args.stale_index_ok)
        seconds = time.perf_counter() - started
        report[folder.name] = {"kind": "media" if media else "text", "results": results,
                               "checks": checks(results, media, not media and long_answers(folder)),
                               "seconds": round(seconds, 1)}
        # Each set's rows as soon as it is done: a run over every set takes long.
        print(f"{folder.name}: {seconds:.0f} s\n{markdown({folder.name: report[folder.name]})}", file=sys.stderr,
              flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
    print(markdown(report))
    failed = [n for n, e in report.items() if not passed(e)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
