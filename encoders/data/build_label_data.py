"""Builds the label text data the classifiers' ConSE vectors are made from. Run again only to change it.

    python encoders/data/build_label_data.py --wordnet /usr/share/wordnet \
        --imagenet-synsets imagenet_synsets.txt --ontology ontology.json

- imagenet_wordnet.tsv: for each ImageNet-1k class, in class-index order, its
  WordNet 3.0 synset id, the synset's other names and a few of its hypernyms
  (bolete -> fungus, tench -> cyprinid, fish, animal). ImageNet classes are
  WordNet noun synsets, so this is a lookup in Debian's `wordnet-base`
  (/usr/share/wordnet). The synset list is the standard one, 1,000 lines such
  as n01440764, sorted (timm ships it as data/_info/imagenet_synsets.txt).
- audioset_ontology.tsv: every AudioSet class with its parents, from the
  AudioSet ontology's ontology.json (github.com/audioset/ontology, CC BY-SA 4.0).
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
# Hypernyms this close to WordNet's root say nothing a searcher would type
# (entity, physical entity, object, whole, living thing, abstraction...); the
# immediate hypernym is kept whatever its depth.
ROOT_LEVELS = 5
MAX_HYPERNYMS = 3
# Words that abstract lie a little lower in some branches.
TOO_ABSTRACT = frozenset({"organism", "living thing", "instrumentality", "artifact", "whole", "object", "matter",
                          "substance", "solid", "abstraction", "communication", "causal agent", "part", "thing"})
# Beyond the immediate one, a hypernym is kept only if people use the word:
# its senses were tagged this often in WordNet's sense-tagged corpus (fish 12,
# fungus 7; cyprinid, teleost, placental 0).
MIN_TAG_COUNT = 3
_BINOMIAL = re.compile(r"[A-Z][a-z]+ [a-z]+")  # "Tinca tinca": Latin names help no searcher


@dataclass
class Synset:
    lemmas: list[str]
    hypernyms: list[str]  # offsets
    tag_count: int = 0


def read_wordnet_nouns(wordnet_dir: Path) -> dict[str, Synset]:
    """data.noun (see wndb(5WN)) as synsets by offset, with tag counts from cntlist.rev."""
    counts: dict[str, int] = {}
    for line in (wordnet_dir / "cntlist.rev").read_text(encoding="latin-1").splitlines():
        key, _, count = line.split()
        counts[key] = int(count)
    synsets: dict[str, Synset] = {}
    for line in (wordnet_dir / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the licence header
            continue
        fields = line.partition(" | ")[0].split()
        offset, lex_file, n_words = fields[0], int(fields[1]), int(fields[3], 16)
        words = [(fields[4 + 2 * i], int(fields[5 + 2 * i], 16)) for i in range(n_words)]
        at = 4 + 2 * n_words
        pointers = [fields[at + 1 + 4 * i : at + 5 + 4 * i] for i in range(int(fields[at]))]
        tags = sum(counts.get(f"{word.lower()}%1:{lex_file:02d}:{lex_id:02d}::", 0) for word, lex_id in words)
        synsets[offset] = Synset([word.replace("_", " ") for word, _ in words],
                                 [p[1] for p in pointers if p[0] in ("@", "@i") and p[2] == "n"], tags)
    return synsets


def hypernym_chain(synsets: dict[str, Synset], offset: str) -> list[str]:
    """Offsets from the synset's parent up to the root, along the first hypernym."""
    chain = []
    while synsets[offset].hypernyms:
        offset = synsets[offset].hypernyms[0]
        chain.append(offset)
    return chain


def imagenet_rows(synsets: dict[str, Synset], wnids: list[str], labels: list[str]) -> list[str]:
    rows = []
    for wnid, label in zip(wnids, labels, strict=True):
        synset = synsets[wnid[1:]]
        said = label.lower()
        others = []
        for lemma in synset.lemmas:
            if lemma.lower() not in said and not _BINOMIAL.fullmatch(lemma) and lemma not in others:
                others.append(lemma)
        chain = hypernym_chain(synsets, wnid[1:])
        meaningful = chain[: max(len(chain) - ROOT_LEVELS, 1)]
        kept = meaningful[:1] + [o for o in meaningful[1:] if synsets[o].tag_count >= MIN_TAG_COUNT]
        names = []
        for offset in kept:
            name = synsets[offset].lemmas[0]
            if name.lower() not in said and name not in names and name not in TOO_ABSTRACT:
                names.append(name)
        rows.append("\t".join([wnid, label, "; ".join(others), "; ".join(names[:MAX_HYPERNYMS])]))
    return rows


def ontology_rows(ontology: list[dict]) -> list[str]:
    names = {node["id"]: node["name"] for node in ontology}
    parents: dict[str, list[str]] = {node["id"]: [] for node in ontology}
    for node in ontology:
        for child in node["child_ids"]:
            parents[child].append(node["name"])
    return ["\t".join([node["id"], names[node["id"]], "; ".join(parents[node["id"]])]) for node in ontology]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--imagenet-synsets", type=Path, required=True)
    parser.add_argument("--ontology", type=Path, required=True)
    args = parser.parse_args()
    wnids = args.imagenet_synsets.read_text().split()
    labels = [line.strip() for line in (HERE / "imagenet_labels.txt").read_text().splitlines() if line.strip()]
    header = "# wnid\tlabel\tother names\thypernyms (nearest first)   from WordNet 3.0 by build_label_data.py\n"
    (HERE / "imagenet_wordnet.tsv").write_text(
        header + "\n".join(imagenet_rows(read_wordnet_nouns(args.wordnet), wnids, labels)) + "\n")
    header = "# mid\tname\tparents   AudioSet ontology (CC BY-SA 4.0) by build_label_data.py\n"
    (HERE / "audioset_ontology.tsv").write_text(
        header + "\n".join(ontology_rows(json.loads(args.ontology.read_text()))) + "\n")


if __name__ == "__main__":
    main()
