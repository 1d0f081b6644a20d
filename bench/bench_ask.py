"""Does the Ask page's answer cite the section that answers the question? Measured on the Debian FAQ.

    .venv/bin/python bench/bench_ask.py [--dataset bench/out/beir/debian-faq] [--questions N]

Every FAQ question heading is asked through qa.Answerer (the default, extractive answer unless
OMNIDEX_LLM_BASE_URL is set) over a scratch index of the FAQ's answers; a question counts when one of
the answer's citations is its own section (bench/faq_to_beir.py builds the dataset, and is run when
it is missing). Questions about things the FAQ does not cover are asked too: their answers should say
that nothing was found.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from faq_to_beir import DEBIAN_FAQ, DEFAULT_CACHE, DEFAULT_OUT, build_debian_faq

from omnidex.evaluation import load_beir, scratch_index
from qa import Answerer

# Questions the Debian FAQ has no answer to, everyday and close to its topics alike.
OFF_TOPIC = [
    "What is a good recipe for banana bread?",
    "Who won the football world cup in 2018?",
    "How tall is Mount Everest?",
    "How do I train a puppy to sit?",
    "Which vitamins are in spinach?",
    "When did the Roman empire fall?",
    "How much does a flight to Tokyo cost?",
    "What were our third quarter churn numbers?",
    "How do I change a bicycle tyre?",
    "How do I install Microsoft Office on a Mac?",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_OUT / DEBIAN_FAQ)
    parser.add_argument("--questions", type=int, default=0, help="ask only the first N questions (0: all)")
    args = parser.parse_args(argv)
    if not (args.dataset / "corpus.jsonl").is_file():
        build_debian_faq(args.dataset.parent, DEFAULT_CACHE)
    dataset = load_beir(args.dataset)
    questions = list(dataset.qrels.items())[: args.questions or None]

    started = time.perf_counter()
    with scratch_index(dataset) as app:
        print(f"indexed {len(dataset.corpus)} sections in {time.perf_counter() - started:.1f} s")
        answerer = Answerer(app.search, app.settings, lambda: app.models.cross_encoder)
        answerer.answer(OFF_TOPIC[0])  # load the models before timing
        cited, first, found, citations, seconds = 0, 0, 0, [], []
        for query_id, relevant in questions:
            t0 = time.perf_counter()
            answer = answerer.answer(dataset.queries[query_id])
            seconds.append(time.perf_counter() - t0)
            sources = [c.hit.asset_id for c in answer.citations]
            cited += any(s in relevant for s in sources)
            first += bool(sources) and sources[0] in relevant
            found += answer.found
            citations.append(len(sources))
        answered = [(q, a.text) for q in OFF_TOPIC if (a := answerer.answer(q)).found]

    n = len(questions)
    print(f"mode: {'generated' if app.settings.llm_base_url else 'extractive'}, "
          f"{app.settings.answer_passages} passages per question")
    print(f"answer cites the relevant section: {cited}/{n} = {cited / n:.1%} (target >= 80%)")
    print(f"first citation is the relevant section: {first}/{n} = {first / n:.1%}")
    print(f"answered (found): {found}/{n}; citations per answer: mean {statistics.fmean(citations):.2f}")
    print(f"off-topic questions answered 'not found': {len(OFF_TOPIC) - len(answered)}/{len(OFF_TOPIC)}")
    for question, text in answered:
        print(f"  answered anyway: {question} -> {text[:120]!r}")
    seconds.sort()
    print(f"latency per question: median {statistics.median(seconds) * 1000:.0f} ms, "
          f"p95 {seconds[int(0.95 * (n - 1))] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
