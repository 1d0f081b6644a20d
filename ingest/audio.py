"""Audio to segments: what is said (transcript spans) and what is heard (sound events).

Transcript spans are plain text: the indexer embeds them with the text
encoder and BM25 like any chunk, so a spoken phrase is found by its words.
Sound-event spans carry a ConSE vector (YAMNet's label probabilities mapped
into the text space), so "dog barking" or "beeping" finds the moment too.
Video extraction calls `file_audio_segments` for a clip's soundtrack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.schema import Modality, Segment
from encoders.sound_events import SILENCE_LABEL, Heard, classes_under
from encoders.speech import Transcript, Word
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.limits import check_duration
from ingest.media import SAMPLE_RATE, audio_blocks, probe_audio

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

# Speech gating: Whisper hears only the stretches where YAMNet hears someone
# speak. Whisper writes words for any sound it is given (a beep train became
# "...and now the game is over!"), so sound effects, music and silence never
# reach it. YAMNet's speech classes reach 0.8-1.0 on speech, 8 kHz phone speech
# included, and stay under 0.2 on beeps, tones, noise, chimes and music.
SPEECH_ROOTS = ("Speech", "Whispering")
SPOKEN_WORDS = 3  # transcribed words within a sound stretch that make it speech rather than a sound  # with the classes below them in the AudioSet ontology
SPEECH_PROBABILITY = 0.3
SPEECH_PAD_S = 0.5  # heard before and after a stretch, so first and last words are whole
SPEECH_JOIN_S = 2.0  # stretches closer than this are one: Whisper keeps its context over short pauses
# The longest stretch given to Whisper at once: memory stays bounded in a long talk.
WHISPER_WINDOW_S = 300.0

AudioSource = Callable[[], Iterable[np.ndarray]]  # yields the 16 kHz samples afresh on each call


def extract_audio(path: Path, ctx: ExtractContext) -> Extraction:
    """An audio file: heard and transcribed up front, so its length and language are part of the asset's info."""
    info = probe_audio(path)
    heard, transcript = _hear_file(path, info.get("duration"), ctx)
    info.setdefault("duration", round(heard.samples / SAMPLE_RATE, 3))
    if transcript.language:
        info["language"] = transcript.language
    return Extraction(info=info, segments=_not_silent(_segments(heard, transcript, ctx, "")))


def file_audio_segments(path: Path, ctx: ExtractContext, locator_prefix: str = "") -> Iterator[Segment]:
    """audio_segments of a file's first audio stream (a video's soundtrack), streamed from the file."""
    heard, transcript = _hear_file(path, None, ctx)
    yield from _segments(heard, transcript, ctx, locator_prefix)


def _hear_file(path: Path, header_duration: float | None, ctx: ExtractContext) -> tuple[Heard, Transcript]:
    """The file streamed twice: once for the sound tagger, once for Whisper on the speech it heard.

    The whole recording is never in memory, so two hours take as little as two
    minutes; its length is held to the limit on what is actually decoded.
    """
    limit = ctx.settings.max_duration_s
    check_duration(header_duration, limit)

    def source() -> Iterator[np.ndarray]:
        return audio_blocks(path, SAMPLE_RATE, max_seconds=limit + 1.0)

    heard = ctx.models.sound_tagger.listen(source(), quiet_dbfs=SILENCE_DBFS)
    check_duration(heard.samples / SAMPLE_RATE, limit)
    return heard, transcribe_speech(source, heard, ctx)


def _segments(heard: Heard, transcript: Transcript, ctx: ExtractContext, prefix: str) -> Iterator[Segment]:
    s = ctx.settings
    yield from transcript_segments(transcript, s.transcript_span_s, s.transcript_overlap_s, prefix)
    yield from heard_segments(heard, ctx, prefix, [w.start for w in transcript.words])


def transcribe_speech(source: AudioSource, heard: Heard, ctx: ExtractContext) -> Transcript:
    """Whisper over the stretches where speech was heard; no stretch, no transcript."""
    stretches = speech_stretches(heard, speech_classes(ctx.models.sound_tagger.labels))
    if not stretches:
        return Transcript(None, 0.0, [], [])
    return ctx.models.transcriber.transcribe_pieces(cut_out(source(), stretches))


def speech_classes(labels: Sequence[str]) -> list[int]:
    """YAMNet's classes of people speaking (speech, conversation, narration, whispering...)."""
    return sorted({i for root in SPEECH_ROOTS for i in classes_under(list(labels), root)})


def speech_stretches(heard: Heard, speech_classes: Sequence[int], max_s: float = WHISPER_WINDOW_S
                     ) -> list[tuple[float, float]]:
    """[start, end) seconds of the recording where some patch's speech probability reaches
    SPEECH_PROBABILITY, padded, joined across short pauses, and cut into pieces of at most max_s."""
    duration = heard.samples / SAMPLE_RATE
    speaking = heard.probs[:, list(speech_classes)].max(axis=1) >= SPEECH_PROBABILITY
    joined: list[list[float]] = []
    for (t0, t1), spoken in zip(heard.times, speaking):
        if not spoken:
            continue
        t0, t1 = max(float(t0) - SPEECH_PAD_S, 0.0), min(float(t1) + SPEECH_PAD_S, duration)
        if joined and t0 - joined[-1][1] <= SPEECH_JOIN_S:
            joined[-1][1] = max(joined[-1][1], t1)
        else:
            joined.append([t0, t1])
    pieces = []
    for t0, t1 in joined:
        count = int(np.ceil((t1 - t0) / max_s))
        edges = np.linspace(t0, t1, count + 1)
        pieces += [(float(a), float(b)) for a, b in zip(edges, edges[1:])]
    return pieces


def cut_out(blocks: Iterable[np.ndarray], stretches: Sequence[tuple[float, float]]
            ) -> Iterator[tuple[float, np.ndarray]]:
    """(start second, samples) of each stretch, in order, out of audio that arrives in pieces;
    only the stretch being gathered is held."""
    bounds = [(round(t0 * SAMPLE_RATE), round(t1 * SAMPLE_RATE)) for t0, t1 in stretches]
    position = 0  # samples of the recording passed so far
    current: list[np.ndarray] = []
    index = 0
    for block in blocks:
        end = position + len(block)
        while index < len(bounds):
            first, stop = bounds[index]
            if first < end and stop > position:
                current.append(block[max(first - position, 0) : stop - position])
            if stop > end:
                break
            yield first / SAMPLE_RATE, np.concatenate(current) if current else np.zeros(0, np.float32)
            current = []
            index += 1
        position = end
        if index == len(bounds):
            return
    if index < len(bounds) and current:  # the recording ended inside the last stretch
        yield bounds[index][0] / SAMPLE_RATE, np.concatenate(current)


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
    """Stretches of one kind of sound in 16 kHz audio, each as its leading YAMNet labels and their ConSE vector."""
    yield from heard_segments(ctx.models.sound_tagger.listen([audio], quiet_dbfs=SILENCE_DBFS), ctx, prefix)


def heard_segments(heard: Heard, ctx: ExtractContext, prefix: str = "", spoken: Sequence[float] = ()
                   ) -> Iterator[Segment]:
    """Sound segments of what the tagger heard: named by their most specific likely classes
    (a croak rather than "Animal"), with their ancestors' names in the text for BM25, and placed in the
    text space by ConSE bound with the projection of YAMNet's mean embedding over the segment.

    `spoken`: start times of the words transcribed. A stretch in which words were heard is found by them;
    its sound vector stays ConSE's ("speech"), since the projection, which cannot hear words, put every
    recording of speech near any short phrase (spoken-prompt R@10 0.775 -> 0.733). A shout or a grunt with
    no words stays bound."""
    conse = ctx.models.sound_conse
    probs, times = heard.probs, heard.times
    duration = heard.samples / SAMPLE_RATE
    starts = np.sort(np.asarray(spoken, dtype=np.float64))
    for run in _sound_runs(heard, conse.weighted(probs), conse.labels):
        mean = probs[run.patches].mean(axis=0)
        features = heard.features[run.patches].mean(axis=0)
        seen = ctx.models.embed_sounds(mean[None], features[None])  # ConSE bound with the learned projection
        tags = [label for label, p in conse.top_labels(mean, SOUND_TAGS) if p >= MIN_TAG_PROBABILITY] or [run.lead]
        t0, t1 = round(float(times[run.patches[0], 0]), 3), round(min(float(times[run.patches[-1], 1]), duration), 3)
        words = int(np.searchsorted(starts, t1) - np.searchsorted(starts, t0))
        # The labels alone: a "sounds:" heading in every sound's text matched the "sound" of any query alike, and
        # BM25's cut of that tie at its depth decided which sounds fusion favoured (the modality says "Sound").
        yield Segment(locator=f"{prefix}snd:{round(t0 * 1000)}", modality=Modality.SOUND,
                      text="; ".join(_described(tags, conse)), t0=t0, t1=t1, extra={"tags": tags},
                      vector=seen.conse[0] if words >= SPOKEN_WORDS else seen.vectors[0], features=features,
                      conse=seen.conse[0])


def _described(tags: Sequence[str], conse) -> list[str]:
    """Each tag as the ConSE description says it ("Croak (Frog, Wild animals)")."""
    description = dict(zip(conse.labels, conse.descriptions))
    return [description.get(tag, tag) for tag in tags]


def _sound_runs(heard: Heard, ranked: np.ndarray, labels: Sequence[str]) -> list[_SoundRun]:
    """Stretches of audible patches cut into windows; nearby windows with the same leading label merge.

    Silence is dropped patch by patch, so a sound's segment starts and ends
    with the sound rather than with the window grid. `ranked` is what labels
    lead by (probabilities weighted towards specific classes).
    """
    # Silence is what YAMNet hears most, before any weighting: a chime it calls "Music" is not silent.
    leads = np.argmax(heard.probs, axis=1)
    audible = [labels[lead] != SILENCE_LABEL and level >= SILENCE_DBFS for lead, level in zip(leads, heard.dbfs)]
    runs: list[_SoundRun] = []
    first = 0
    while first < len(ranked):
        if not audible[first]:
            first += 1
            continue
        stop = first + 1
        while stop < min(first + WINDOW_PATCHES, len(ranked)) and audible[stop]:
            stop += 1
        lead = labels[int(np.argmax(ranked[first:stop].mean(axis=0)))]
        if runs and first - runs[-1].patches[-1] - 1 <= MERGE_GAP_PATCHES and runs[-1].lead == lead:
            runs[-1].patches.extend(range(first, stop))
        else:
            runs.append(_SoundRun(list(range(first, stop)), lead))
        first = stop
    return runs
