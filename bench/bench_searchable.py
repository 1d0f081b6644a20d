"""Time to first searchable and to all searchable, and total ingest time, on ~100 text PDFs of real prose.
Run from a checkout's root (this one, or an older one to compare: there a file counts as searchable when
it is indexed): python bench/bench_searchable.py CORPUS DATA_DIR; CORPUS is made from /usr/share/doc/git/RelNotes
(the 100 longest release notes, their first 9,000 characters as 3 pages) when it does not exist."""
import json, sys, time, shutil
from pathlib import Path
sys.path.insert(0, ".")
import pymupdf
from core.config import Settings
from omnidex.service import Omnidex
from ingest.report import Progress

def make_corpus(target: Path, n: int = 100) -> None:
    sources = sorted(Path("/usr/share/doc/git/RelNotes").glob("*.txt"), key=lambda p: -p.stat().st_size)[:n]
    target.mkdir(parents=True, exist_ok=True)
    for src in sources:
        text = src.read_text(errors="replace")[:9000]
        doc = pymupdf.open()
        for start in range(0, len(text), 3000):
            page = doc.new_page()
            page.insert_textbox(pymupdf.Rect(40, 40, 555, 800), text[start:start + 3000], fontsize=8)
        doc.save(target / (src.stem + ".pdf")); doc.close()

class Clock(Progress):
    def __init__(self): self.t0 = time.monotonic(); self.words = []; self.fully = []; self.hooked = False
    def searchable(self, path, fully):
        self.hooked = True
        (self.fully if fully else self.words).append(time.monotonic() - self.t0)
    def file_finished(self, outcome):
        if not hasattr(Progress, "searchable") and outcome.status == "indexed":  # before: indexed = searchable
            self.fully.append(time.monotonic() - self.t0)

corpus, data = Path(sys.argv[1]), Path(sys.argv[2])
if not corpus.exists(): make_corpus(corpus)
shutil.rmtree(data, ignore_errors=True)
app = Omnidex(Settings(data_dir=data, rerank_model=""))
app.store; app.text_encoder.encode_document(["warm up"])
clock = Clock(); started = time.monotonic()
report = app.ingest([corpus], clock)
total = time.monotonic() - started
first_any = min(clock.words + clock.fully)
print(json.dumps({"files": len(report.outcomes), "segments": report.points_written,
                  "first_by_words_s": round(first_any, 2), "all_by_words_s": round(max(clock.words or clock.fully), 2),
                  "first_fully_s": round(min(clock.fully), 2), "all_fully_s": round(max(clock.fully), 2),
                  "total_s": round(total, 2)}))
app.close()
