"""Audio to segments: what is said (transcript spans) and what is heard (sound events).

Transcript spans are plain text: the indexer embeds them with the text
encoder and BM25 like any chunk, so a spoken phrase is found by its words.
Sound-event spans carry a ConSE vector (YAMNet's label probabilities mapped
into the text space), so "dog barking" or "beeping" finds the moment too.
Video extraction calls `audio_segments` on a clip's soundtrack.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from encoders.speech import Transcript, Word
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.media import SAMPLE_RATE, decode_audio_within, probe_audio
from omnidex.schema import Modality, Segment

# Where a transcript span may end, strongest first: a sentence end, a clause end.
SENTENCE_ENDS = (".", "?", "!", "…", "。", "？", "！")
CLAUSE_ENDS = (",", ";", ":", "、", "，")
PAUSE_S = 0.6  # a silence this long between words reads as a sentence break

# Sound events: labels are averaged over windows of up to this many 0.48 s
# patches (about 5 s, short enough to place an event, long enough to be
# stable), and neighbouring windows with the same leading label merge into one segment.
WINDOW_PATCHES = 10
MERGE_GAP_PATCHES = 4  # pauses up to ~2 s (between sentences, between beeps) do not split a segment
SOUND_TAGS = 3  # leading labels named in a sound segment's text and tags
MIN_TAG_PROBABILITY = 0.1
SILENCE_DBFS = -60.0  # quieter patches are skipped as silence
SILENCE_LABEL = "Silence"


def extract_audio(path: Path, ctx: ExtractContext) -> Extraction:
    """An audio file: transcribed up front, so the detected language is part of the asset's info."""
    info = probe_audio(path)
    audio = decode_audio_within(path, ctx.settings.max_duration_s)
    info.setdefault("duration", round(len(audio) / SAMPLE_RATE, 3))
    transcript = ctx.models.transcriber.transcribe(audio)
    if transcript.language:
        info["language"] = transcript.language
    return Extraction(info=info, segments=_not_silent(_segments(audio, transcript, ctx, "")))


def audio_segments(audio: np.ndarray, ctx: ExtractContext, locator_prefix: str = "") -> Iterator[Segment]:
    """Transcript spans, then sound-event spans, of 16 kHz mono audio (e.g. a video's soundtrack)."""
    yield from _segments(audio, ctx.models.transcriber.transcribe(audio), ctx, locator_prefix)


def _segments(audio: np.ndarray, transcript: Transcript, ctx: ExtractContext, prefix: str) -> Iterator[Segment]:
    s = ctx.settings
    yield from transcript_segments(transcript, s.transcript_span_s, s.transcript_overlap_s, prefix)
    yield from sound_segments(audio, ctx, prefix)


def _not_silent(segments: Iterator[Segment]) -> Iterator[Segment]:
    """A file with neither speech nor sound fails with that reason rather than an empty index entry."""
    empty = True
    for segment in segments:
        empty = False
        yield segment
    if empty:
        raise ExtractionError("nothing to index: the audio is silent")


def transcript_segments(transcript: Transcript, span_s: float, overlap_s: float, prefix: str = ""
                        ) -> Iterator[Segment]:
    """Spans of about span_s seconds of speech, overlapping by about overlap_s, cut between sentences where possible."""
    extra = {"language": transcript.language} if transcript.language else {}
    for first, stop in word_spans(transcript.words, span_s, overlap_s):
        words = transcript.words[first:stop]
        t0, t1 = round(words[0].start, 3), round(words[-1].end, 3)
        # Word start times let a hit jump to the moment the query's words are spoken, not the span start.
        timed = [[round(w.start, 2), w.text.strip()] for w in words]
        yield Segment(locator=f"{prefix}tr:{round(t0 * 1000)}", modality=Modality.TRANSCRIPT,
                      text="".join(w.text for w in words).strip(), t0=t0, t1=t1,
                      extra={**extra, "words": timed})


def word_spans(words: Sequence[Word], span_s: float, overlap_s: float) -> Iterator[tuple[int, int]]:
    """[first, stop) word ranges covering all words.

    A span grows to span_s and then ends at the strongest break in its second
    half; the next one starts overlap_s before that end, moved forward to a
    sentence start when one lies in the overlap, so spans rarely begin or end
    mid-sentence. The words of a phrase cut by one span are whole in the next.
    """
    first = covered = 0  # words before `covered` are in a span already
    while first < len(words):
        stop = first + 1
        while stop < len(words) and words[stop].end - words[first].start <= span_s:
            stop += 1
        if stop == len(words):
            yield first, stop
            return
        earliest_end = words[first].start + span_s / 2
        cuts = [c for c in range(max(first, covered) + 1, stop + 1) if words[c - 1].end >= earliest_end] or [stop]
        stop = covered = max(cuts, key=lambda c: (_break_strength(words, c), c))
        yield first, stop
        restart = next((k for k in range(first + 1, stop) if words[k].start >= words[stop - 1].end - overlap_s),
                       stop)
        restart = next((k for k in range(restart, stop) if _break_strength(words, k) >= 1.0), restart)
        # After a long silence the overlap would leave no room for new words: start afresh.
        first = restart if words[stop].end - words[restart].start <= span_s else stop


def _break_strength(words: Sequence[Word], index: int) -> float:
    """How good a place the gap before words[index] is to cut: about 1 at a sentence end or pause, more with both."""
    if index >= len(words):
        return 2.0
    previous = words[index - 1].text.strip()
    punctuation = 1.0 if previous.endswith(SENTENCE_ENDS) else 0.5 if previous.endswith(CLAUSE_ENDS) else 0.0
    return punctuation + min((words[index].start - words[index - 1].end) / PAUSE_S, 1.0)


@dataclass
class _SoundRun:
    patches: list[int]  # indices of the audible patches it spans
    lead: str  # the most probable label, which neighbours must share to merge


def sound_segments(audio: np.ndarray, ctx: ExtractContext, prefix: str = "") -> Iterator[Segment]:
    """Stretches of one kind of sound, each as its leading YAMNet labels and their ConSE vector."""
    tagger, conse = ctx.models.sound_tagger, ctx.models.sound_conse
    times, probs = tagger.predict(audio, SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    for run in _sound_runs(audio, times, probs, tagger.labels):
        mean = probs[run.patches].mean(axis=0)
        tags = [label for label, p in conse.top_labels(mean, SOUND_TAGS) if p >= MIN_TAG_PROBABILITY] or [run.lead]
        t0, t1 = round(float(times[run.patches[0], 0]), 3), round(min(float(times[run.patches[-1], 1]), duration), 3)
        yield Segment(locator=f"{prefix}snd:{round(t0 * 1000)}", modality=Modality.SOUND,
                      text="sounds: " + "; ".join(tags), t0=t0, t1=t1, extra={"tags": tags},
                      vector=conse.embed(mean)[0])


def _sound_runs(audio: np.ndarray, times: np.ndarray, probs: np.ndarray, labels: Sequence[str]) -> list[_SoundRun]:
    """Stretches of audible patches cut into windows; nearby windows with the same leading label merge.

    Silence is dropped patch by patch, so a sound's segment starts and ends
    with the sound rather than with the window grid.
    """
    leads = np.argmax(probs, axis=1)
    audible = [labels[lead] != SILENCE_LABEL
               and _dbfs(audio[int(t0 * SAMPLE_RATE) : int(t1 * SAMPLE_RATE)]) >= SILENCE_DBFS
               for lead, (t0, t1) in zip(leads, times)]
    runs: list[_SoundRun] = []
    first = 0
    while first < len(probs):
        if not audible[first]:
            first += 1
            continue
        stop = first + 1
        while stop < min(first + WINDOW_PATCHES, len(probs)) and audible[stop]:
            stop += 1
        lead = labels[int(np.argmax(probs[first:stop].mean(axis=0)))]
        if runs and first - runs[-1].patches[-1] - 1 <= MERGE_GAP_PATCHES and runs[-1].lead == lead:
            runs[-1].patches.extend(range(first, stop))
        else:
            runs.append(_SoundRun(list(range(first, stop)), lead))
        first = stop
    return runs


def _dbfs(samples: np.ndarray) -> float:
    """Loudness as RMS level relative to full scale; -inf for no samples."""
    if samples.size == 0:
        return float("-inf")
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) + 1e-12))
