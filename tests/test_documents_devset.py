"""The documents dev set's pure logic: which lines are a text manual's headings, which sections are queried and
how, and when a search hit counts as the judged section."""

from __future__ import annotations

import gzip
from pathlib import Path

from omnidex.evaluation import JudgedSection, load_beir, section_metrics, section_rank
from tests.conftest import load_bench_script

devsets = load_bench_script("devsets")
documents = load_bench_script("documents")

# A Sphinx text rendering as debian-policy ships it: bulleted contents, then headings underlined, and a numbered
# list inside a section that must not read as a heading.
POLICY_TEXT = """Debian Policy Manual
********************

* 1. About this manual

  * 1.1. Scope

* 2. Cron jobs

1. About this manual
********************

1.1. Scope
==========

This manual describes the policy requirements.
Steps:

1. Scope the work

2. Cron jobs
************

Packages may not touch crontab files.
"""


def test_text_headings_are_the_numbered_lines_the_contents_list() -> None:
    sections = documents.text_sections(POLICY_TEXT.split("\n"))
    assert [heading for heading, _, _ in sections] == ["1.1. Scope", "2. Cron jobs"]
    lines = POLICY_TEXT.split("\n")
    (_, first, last), (_, cron_first, cron_last) = sections
    assert lines[first - 1] == "1.1. Scope"  # the heading line, not the contents' entry
    assert "This manual describes the policy requirements." in lines[first - 1 : last]
    assert "1. Scope the work" in lines[first - 1 : last]  # the list item stays in its section
    assert lines[cron_first - 1] == "2. Cron jobs" and "Steps:" not in lines[cron_first - 1 : cron_last]
    assert cron_last == len(lines)


def test_queries_name_the_subject_without_section_numbers() -> None:
    assert documents.subject_query("Debian policy", "9.5.1. Cron job file names:") == \
        "Debian policy: Cron job file names"
    assert documents.subject_query("Debian", "Chapter 3. Debian Package Management") == "Debian Package Management"
    assert documents.subject_query("pip", "Appendix A. Caching") == "pip: Caching"


def test_generic_short_and_shared_headings_are_not_queried(tmp_path: Path) -> None:
    def candidate(heading: str, words: int = 200, original: str = "a.md") -> object:
        return documents.Candidate(tmp_path / original, original, "pip", heading, words)

    picked = documents.pick([candidate("Caching"), candidate("Introduction"), candidate("Tiny", 10),
                             candidate("Pinning", original="a.md"), candidate("Pinning", original="b.md")])
    assert [c.heading for c in picked] == ["Caching"]


def test_markdown_sections_round_trip_into_the_set(tmp_path: Path) -> None:
    readme = tmp_path / "README.md.gz"
    body = " ".join(["word"] * 100)
    readme.write_bytes(gzip.compress(f"# Tool\n\n## Caching\n\n{body}\n\n## Notes\n\n{body}\n".encode()))
    candidates = documents.markdown_candidates(readme, "tool", "tool/README.md.gz")
    assert [(c.heading, c.words, c.suffix) for c in candidates] == [("Tool", 0, ".md"), ("Caching", 100, ".md"),
                                                                    ("Notes", 100, ".md")]
    media = devsets.MediaSet("documents")
    name = media.add_file(readme, "tool/README.md.gz", ".md")
    for c in documents.pick(candidates):
        media.judge_section(documents.subject_query(c.subject, c.heading), name, c.heading, c.lines)
    media.judge_section("policy: Cron jobs", name, "2. Cron jobs", (20, 24))
    dataset = load_beir(media.write(tmp_path / "sets"))
    assert sorted(dataset.queries.values()) == ["policy: Cron jobs", "tool: Caching"]  # "Notes" is generic
    assert {j.section: j.lines for judged in dataset.sections.values() for j in judged} == {
        "Caching": None, "2. Cron jobs": (20, 24)}


def test_a_hit_is_in_the_judged_section_by_name_chapter_or_lines() -> None:
    html = JudgedSection("a.html", "6.2. aptitude and apt")
    assert html.holds("a.html", {"section": "6.2.  aptitude and APT"})
    assert not html.holds("b.html", {"section": "6.2. aptitude and apt"})
    assert not html.holds("a.html", {"section": "6.3. Searching"})
    book = JudgedSection("b.epub", "Resources")
    assert book.holds("b.epub", {"chapter": "Resources", "section": "Mailing lists"})
    text = JudgedSection("c.txt", "2. Cron jobs", (20, 24))
    assert text.holds("c.txt", {"line_start": 24, "line_end": 40})
    assert not text.holds("c.txt", {"line_start": 25, "line_end": 40})


def test_section_rank_counts_each_section_once() -> None:
    judged = [JudgedSection("a.md", "Caching")]
    segments = [("a.md", {"section": "Pinning", "locator": "s1:c0"}), ("a.md", {"section": "Pinning",
                "locator": "s1:c1"}), ("b.txt", {"line_start": 1, "locator": "c0"}),
                ("a.md", {"section": "Caching", "locator": "s2:c0"})]
    assert section_rank(segments, judged) == 3
    assert section_rank(segments[:3], judged) is None
    assert section_metrics(3) == {"section recall@1": 0.0, "section recall@10": 1.0, "section mrr@10": 1 / 3}
    assert section_metrics(None)["section recall@10"] == 0.0
