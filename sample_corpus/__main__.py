"""Command line: ``python -m sample_corpus DEST`` or ``python -m sample_corpus --synthetic DEST --pages N``."""

import argparse
from pathlib import Path

from sample_corpus import build_sample, synthetic_pdfs


def main() -> None:
    """Write the demo corpus (or a synthetic one) into DEST and print the PDF paths."""
    parser = argparse.ArgumentParser(prog="python -m sample_corpus", description=__doc__)
    parser.add_argument("dest", type=Path, metavar="DEST", help="output folder")
    parser.add_argument("--synthetic", action="store_true", help="write a synthetic corpus with needle sentences")
    parser.add_argument("--pages", type=int, default=200, help="synthetic corpus size in pages")
    parser.add_argument("--pages-per-file", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.synthetic:
        needles = synthetic_pdfs(args.dest, pages=args.pages, pages_per_file=args.pages_per_file, seed=args.seed)
        paths = list(dict.fromkeys(needle.path for needle in needles))
    else:
        paths = build_sample(args.dest)
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
