"""The archive teaches the picture projection (`omnidex adapt`).

A user's own files pair pictures with words: a figure and its caption (or the text beside it on its PDF
page), a slide's picture and the slide's title, a video frame and the words spoken while it is on screen.
Those pairs fine-tune the committed projection (encoders/binding.py) for this archive. A share of the
pairs is held out; the adapted projection is kept only if it finds those pictures by their words better
than the one in use. Keeping it remakes every picture's vector from what ingestion kept beside it (its
features, ConSE vector and read words: core/schema.py), so no file is read again.

Crash-safe like ingestion: the new projection is written beside the index and the catalog notes that
vectors are being remade before the first one changes; a killed run is finished by the next command
that opens the index. Reversible: `omnidex adapt --revert` goes back to the committed projection.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.schema import CONSE_VECTOR, OCR_VECTOR, PICTURE_FEATURES, Modality
from encoders.binding import (Binding, Training, adapted_path, bind_features, binding_in_use, binding_path, fit,
                              load_binding)
from ingest.image import blend_words
from store.base import Filter, MatchAny, MatchValue, PointRecord, ScoredPoint, Store, pages

if TYPE_CHECKING:
    from omnidex.service import Omnidex

# While picture vectors are being remade the library notes (omnidex/library.py, `adapting`): {"binding": path of
# the projection to bind with, "adopt": its final place, or null to go back to the committed one}.
HELD_OUT_SHARE = 0.2
# Fine-tuning: a tenth of the from-scratch learning rate, pulled back towards the committed weights.
FINE_TUNING = Training(epochs=30, batch=256, learning_rate=1e-4, weight_decay=0.0, dropout=0.1, anchor=1e-3)
CAPTION = re.compile(r"\b(?:fig(?:ure)?|image|photo(?:graph)?|picture|plate|illustration)\.?\s*[\dIVX]*\s*[.:—–-]\s*"
                     r"(?P<caption>[^\n]+?)(?=\n|$|(?<=[.!?])\s)", re.IGNORECASE)
CAPTION_WORDS = 48  # words of the page text (or of a caption) a picture is paired with
SPOKEN_BEFORE_S, SPOKEN_AFTER_S = 2.0, 8.0  # a frame's words: those spoken from just before it to its next seconds
PICTURES = (Modality.IMAGE.value, Modality.FRAME.value)
PICTURES_ONLY = Filter(must=(MatchAny("modality", PICTURES),))
PAGE = 256


@dataclass
class Pair:
    point_id: str
    words: str


@dataclass
class Recall:
    r_at_1: float
    r_at_10: float
    mrr: float


@dataclass
class AdaptReport:
    pairs: int = 0
    held_out: int = 0
    before: Recall | None = None
    after: Recall | None = None
    kept: bool = False
    rebound: int = 0
    train_seconds: float = 0.0
    message: str = ""
    examples: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def adapt(app: Omnidex) -> AdaptReport:
    """Fine-tune the picture projection on the archive's pairs; keep it only if the held-out pairs gain."""
    settings, models = app.settings, app.models
    report = AdaptReport()
    # The projection to start from, weighed in or not: the adapted one gets its own weight.
    start = load_binding(settings.image_model, settings.text_model,
                         binding_in_use(settings.data_dir, settings.image_model, settings.text_model))
    if start is None or settings.adapted_binding_weight <= 0:
        report.message = ("no picture projection ships for these models, or OMNIDEX_ADAPTED_BINDING_WEIGHT "
                          "is 0: nothing to adapt")
        return report
    pairs = mine_pairs(app.store, settings.adapt_max_pairs)
    report.pairs = len(pairs)
    report.examples = [(p.point_id, p.words) for p in pairs[:5]]
    if len(pairs) < settings.adapt_min_pairs:
        report.message = (f"the archive holds {len(pairs)} pictures with words beside them (captions, slide titles, "
                          f"narration); adapting needs at least {settings.adapt_min_pairs}")
        return report
    kept = _kept_vectors(app.store, [p.point_id for p in pairs])
    pairs = [p for p in pairs if p.point_id in kept]
    held = [p for p in pairs if _held_out(p.point_id)]
    trained = [p for p in pairs if not _held_out(p.point_id)]
    report.held_out = len(held)
    if not held or not trained:
        report.message = "too few pairs to hold some out"
        return report
    encode = models.text.encode_query
    features = np.stack([kept[p.point_id][PICTURE_FEATURES] for p in trained])
    started = time.monotonic()
    candidate = fit(features, encode([p.words for p in trained]), FINE_TUNING, start,
                    deadline=started + settings.adapt_max_seconds)
    if start.familiarity is not None:  # the archive's own pictures are what the adapted projection knows best
        candidate = candidate.gated(start.familiarity.including(start.standardise(features)))
    report.train_seconds = round(time.monotonic() - started, 2)
    queries = encode([p.words for p in held])
    report.before = _recall(queries, _vectors([kept[p.point_id] for p in held], start, models.image_weight))
    report.after = _recall(queries, _vectors([kept[p.point_id] for p in held], candidate,
                                             settings.adapted_binding_weight))
    if not (report.after.mrr > report.before.mrr and report.after.r_at_10 >= report.before.r_at_10):
        report.message = (f"the adapted projection did not find the {len(held)} held-out pictures better "
                          f"(MRR {report.before.mrr:.3f} -> {report.after.mrr:.3f}): the one in use is kept")
        return report
    target = adapted_path(settings.data_dir, settings.image_model, settings.text_model)
    pending = target.with_name(target.stem + ".pending.npz")
    candidate.save(pending)
    app.library.set_adapting({"binding": str(pending), "adopt": str(target)})
    report.rebound = finish(app)
    report.kept = True
    report.message = (f"adapted on {len(trained)} pairs: held-out MRR {report.before.mrr:.3f} -> "
                      f"{report.after.mrr:.3f}, R@10 {report.before.r_at_10:.3f} -> {report.after.r_at_10:.3f}; "
                      f"{report.rebound} picture vectors remade")
    return report


def revert(app: Omnidex) -> AdaptReport:
    """Back to the committed projection: every picture's vector is remade with it."""
    settings = app.settings
    target = adapted_path(settings.data_dir, settings.image_model, settings.text_model)
    if not target.is_file() and not app.library.adapting:
        return AdaptReport(message="this library uses the projection that ships with Omnidex: nothing to revert")
    app.library.set_adapting({"binding": str(binding_path(settings.image_model, settings.text_model)),
                              "adopt": None, "adapted": str(target)})
    rebound = finish(app)
    return AdaptReport(rebound=rebound, message=f"back to the projection that ships with Omnidex; {rebound} "
                                                f"picture vectors remade")


def finish(app: Omnidex) -> int:
    """Remake every picture's vector with the projection the catalog names, then put that projection in use
    and record it as the one the vectors came from. Idempotent: a killed run is finished by running it again."""
    from encoders.versions import model_versions
    from omnidex.service import BINDING_ROLE

    state = app.library.adapting
    if state is None:
        return 0
    settings = app.settings
    binding_file, adopt = Path(state["binding"]), state.get("adopt")
    if not binding_file.is_file() and adopt and Path(adopt).is_file():
        binding_file = Path(adopt)  # killed after the projection was put in place
    binding = load_binding(settings.image_model, settings.text_model, binding_file)
    rebound = rebind(app.store, binding, settings.adapted_binding_weight if adopt else settings.image_binding_weight)
    if adopt:
        if binding_file != Path(adopt):
            binding_file.replace(adopt)
    else:
        Path(state["adapted"]).unlink(missing_ok=True)
    app.models.forget_bindings()
    # Only the picture projection's line changes: a model changed meanwhile must still be noticed.
    app.library.record_role(BINDING_ROLE, model_versions(settings)[BINDING_ROLE])
    app.library.set_adapting(None)
    return rebound


def rebind(store: Store, binding: Binding | None, weight: float) -> int:
    """Every picture's searched vector, made again from what was kept beside it."""
    done = 0
    for page in pages(store, PICTURES_ONLY, PAGE, with_vectors=True):
        points = [p for p in page if _has_kept(p)]
        if points:
            vectors = _vectors([_kept(p) for p in points], binding, weight)
            store.upsert([PointRecord(p.id, {**p.vectors, "text": v.tolist()}, p.payload)
                          for p, v in zip(points, vectors)])
            done += len(points)
    return done


def mine_pairs(store: Store, limit: int) -> list[Pair]:
    """Pictures the archive puts words beside, at most `limit`: a PDF figure and its caption (else its page's
    first words), a slide picture and the slide's title, a video frame and the words spoken over it."""
    pictures_by_asset: dict[str, list[ScoredPoint]] = defaultdict(list)
    for point in _points(store, PICTURES_ONLY):
        pictures_by_asset[point.payload["asset_id"]].append(point)
    pairs: list[Pair] = []
    for asset_id, pictures in pictures_by_asset.items():
        words = list(_points(store, Filter(must=(MatchValue("asset_id", asset_id),),
                                           must_not=(MatchAny("modality", PICTURES),))))
        for pair in _asset_pairs(pictures, words):
            pairs.append(pair)
            if len(pairs) >= limit:
                return pairs
    return pairs


def _asset_pairs(pictures: list[ScoredPoint], words: list[ScoredPoint]) -> Iterator[Pair]:
    by_page: dict[int, list[str]] = defaultdict(list)
    titles: dict[int, str] = {}
    spoken: list[tuple[float, str]] = []
    for point in sorted(words, key=lambda p: p.payload.get("locator", "")):
        payload = point.payload
        if payload.get("modality") == Modality.TRANSCRIPT.value:
            spoken += [(float(t), w) for t, w in payload.get("words", [])]
        elif payload.get("slide") is not None:
            titles.setdefault(payload["slide"], payload.get("slide_title") or _head(payload.get("text", "")))
        elif payload.get("page") is not None and payload.get("modality") == Modality.TEXT.value:
            by_page[payload["page"]].append(payload.get("text", ""))
    figures_on_page: dict[int, list[ScoredPoint]] = defaultdict(list)
    for picture in sorted(pictures, key=lambda p: p.payload.get("locator", "")):
        payload = picture.payload
        if payload.get("modality") == Modality.FRAME.value and payload.get("t0") is not None:
            t = float(payload["t0"])
            said = " ".join(w for s, w in spoken if t - SPOKEN_BEFORE_S <= s <= t + SPOKEN_AFTER_S)
            if said.strip():
                yield Pair(picture.id, _head(said))
        elif payload.get("slide") is not None and titles.get(payload["slide"]):
            yield Pair(picture.id, titles[payload["slide"]])
        elif payload.get("page") is not None and by_page.get(payload["page"]):
            figures_on_page[payload["page"]].append(picture)
    for page, figures in figures_on_page.items():
        text = "\n".join(by_page[page])
        captions = [m.group("caption").strip() for m in CAPTION.finditer(text)]
        for n, figure in enumerate(figures):
            # One caption per figure, in reading order, when the page has as many; else the page's first words.
            words = captions[n] if len(captions) == len(figures) else (captions[0] if len(captions) == 1
                                                                      else text)
            yield Pair(figure.id, _head(words))


def _head(text: str) -> str:
    return " ".join(text.split()[:CAPTION_WORDS])


def _held_out(point_id: str) -> bool:
    """The same pairs are held out on every run (a rerun after a crash judges the same way)."""
    return hashlib.blake2b(point_id.encode(), digest_size=2).digest()[0] < 256 * HELD_OUT_SHARE


def _points(store: Store, flt: Filter) -> Iterator[ScoredPoint]:
    for page in pages(store, flt, PAGE):
        yield from page


def _has_kept(point: ScoredPoint) -> bool:
    """Whether ingestion kept what the picture's vector is made from (pictures indexed before it did not)."""
    return bool(point.vectors) and PICTURE_FEATURES in point.vectors and CONSE_VECTOR in point.vectors


def _kept_vectors(store: Store, ids: list[str]) -> dict[str, dict[str, np.ndarray | float]]:
    out = {}
    for first in range(0, len(ids), PAGE):
        for point in store.retrieve(ids[first:first + PAGE], with_vectors=True):
            if _has_kept(point):
                out[point.id] = _kept(point)
    return out


def _kept(point: ScoredPoint) -> dict[str, np.ndarray | float]:
    vectors = point.vectors or {}
    kept = {PICTURE_FEATURES: np.asarray(vectors[PICTURE_FEATURES], np.float32),
            CONSE_VECTOR: np.asarray(vectors[CONSE_VECTOR], np.float32),
            "ocr_weight": float(point.payload.get("ocr_weight", 0.0))}
    kept[OCR_VECTOR] = (np.asarray(vectors[OCR_VECTOR], np.float32) if OCR_VECTOR in vectors
                        else np.zeros_like(kept[CONSE_VECTOR]))
    return kept


def _vectors(kept: list[dict[str, np.ndarray | float]], binding: Binding | None, weight: float) -> np.ndarray:
    """What ingestion makes of a picture (ingest/image.py), from its kept parts and this projection."""
    conse = np.stack([k[CONSE_VECTOR] for k in kept])
    bound = bind_features(conse, np.stack([k[PICTURE_FEATURES] for k in kept]), binding, weight)
    return blend_words(bound, np.stack([k[OCR_VECTOR] for k in kept]), np.array([k["ocr_weight"] for k in kept]))


def _recall(queries: np.ndarray, pictures: np.ndarray) -> Recall:
    """Each held-out pair's words as a query among the held-out pictures: where its own picture ranks."""
    scores = queries @ pictures.T
    ranks = (scores > np.diag(scores)[:, None]).sum(axis=1)  # pictures scored above the pair's own
    return Recall(round(float(np.mean(ranks < 1)), 4), round(float(np.mean(ranks < 10)), 4),
                  round(float(np.mean(1.0 / (ranks + 1))), 4))
