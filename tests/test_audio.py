"""Audio the whole way with the real models: decoding, Whisper, YAMNet, ConSE, transcript spans.

The speech is espeak-ng reading a passage with one odd sentence in the
middle, so we know what was said and when.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from core.schema import Modality
from encoders.hub import ModelHub
from encoders.speech import Transcript, Word, materialise_whisper_base, plausible_segment
from ingest.audio import (
    SILENCE_DBFS,
    WHISPER_WINDOW_S,
    cut_out,
    extract_audio,
    heard_segments,
    sound_segments,
    speech_classes,
    speech_stretches,
    transcript_segments,
    word_spans,
)
from ingest.chunking import TextChunker
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext
from ingest.media import decode_audio, media_duration, probe_audio
from tests.conftest import make_settings
from sample_corpus.media import _run, beeps, convert, silence, silent_video, speak, speak_passage, speech_video

SENTENCES = [
    "Welcome to the weekly engineering meeting of the platform team.",
    "Today we will review the deployment schedule and the open incidents.",
    "The database migration finished on Monday without any data loss.",
    "Several customers reported slow search results during the afternoon.",
    "We traced the problem to a missing index on the orders table.",
    "The fix was deployed on Wednesday and the delays dropped by half.",
    "Remember that the purple submarine arrives at midnight.",
    "Next week we plan to upgrade the message queue to the latest version.",
    "The security team asked everyone to rotate their access keys.",
    "Please update the runbook after each incident so the next person knows what to do.",
    "Our budget for cloud spending is still within the quarterly target.",
    "Thank you all for joining, and see you next week.",
]
NEEDLE = 6  # the sentence index with the phrase nobody would say twice


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("audio")
    starts = speak_passage(SENTENCES, root / "meeting.wav")
    return {
        "root": root,
        "speech": root / "meeting.wav",
        "speech_flac": convert(root / "meeting.wav", root / "meeting.flac", sr=44100, channels=2),
        "needle_at": starts[NEEDLE],
        "beeps": beeps(root / "alarm.wav", seconds=8),
        "silence": silence(root / "quiet.wav", seconds=3),
    }


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> ExtractContext:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    models = ModelHub(settings)
    text = models.text
    return ExtractContext(settings, models,
                          TextChunker(text.count_tokens, settings.chunk_tokens, settings.chunk_overlap_tokens))


@pytest.fixture(scope="module")
def speech(media: dict, ctx: ExtractContext) -> tuple[dict, list]:
    extraction = extract_audio(media["speech_flac"], ctx)
    return extraction.info, list(extraction.segments)


@pytest.fixture(scope="module")
def alarm(media: dict, ctx: ExtractContext) -> tuple[dict, list]:
    extraction = extract_audio(media["beeps"], ctx)
    return extraction.info, list(extraction.segments)


def _transcript(segments: list) -> list:
    return [s for s in segments if s.modality == Modality.TRANSCRIPT]


def _sounds(segments: list) -> list:
    return [s for s in segments if s.modality == Modality.SOUND]


# --- Decoding --------------------------------------------------------------------------------

def test_decoding_resamples_to_16k_mono(media: dict) -> None:
    wav, flac = decode_audio(media["speech"]), decode_audio(media["speech_flac"])
    assert wav.dtype == np.float32 and flac.dtype == np.float32
    assert abs(len(flac) - len(wav)) < 160  # within 10 ms after 44.1 kHz stereo -> 16 kHz mono
    n = min(len(wav), len(flac))
    assert np.corrcoef(wav[:n], flac[:n])[0, 1] > 0.99
    assert probe_audio(media["speech_flac"]) == pytest.approx(
        {"duration": len(wav) / 16000, "sample_rate": 44100, "channels": 2}, abs=0.01)
    assert len(decode_audio(media["speech_flac"], max_seconds=5)) == 5 * 16000


def test_files_without_usable_audio_fail_with_a_reason(media: dict) -> None:
    root: Path = media["root"]
    video = silent_video(root / "mute.mp4", seconds=1)
    assert media_duration(video) == pytest.approx(1.0, abs=0.2)
    with pytest.raises(ExtractionError, match="no audio stream"):
        decode_audio(video)
    garbage = root / "notes.mp3"
    garbage.write_text("this is not an mp3 file " * 20)
    with pytest.raises(ExtractionError, match="unreadable"):
        decode_audio(garbage)


def test_a_truncated_file_gives_what_it_holds(media: dict) -> None:
    whole = media["speech_flac"].read_bytes()
    cut = media["root"] / "cut.flac"
    cut.write_bytes(whole[: len(whole) // 3])
    audio = decode_audio(cut)
    assert 5 * 16000 < len(audio) < len(decode_audio(media["speech_flac"]))


# --- Speech ----------------------------------------------------------------------------------

def test_packaged_whisper_is_materialised_once(ctx: ExtractContext) -> None:
    nothing = ctx.models.transcriber.transcribe(np.zeros(16000, dtype=np.float32))  # loads the model
    assert nothing.language is None and not nothing.words
    model_bin = materialise_whisper_base(ctx.settings.model_cache_dir) / "model.bin"
    written = model_bin.stat().st_mtime_ns
    assert materialise_whisper_base(ctx.settings.model_cache_dir) / "model.bin" == model_bin
    assert model_bin.stat().st_mtime_ns == written


def test_a_damaged_materialised_model_is_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "whisper-base"
    target.mkdir()
    (target / "model.bin").write_bytes(b"half a model")
    model_dir = materialise_whisper_base(tmp_path)
    assert (model_dir / "model.bin").stat().st_size > 100_000_000
    # the model's files, each beside the size-and-hash record the cache keeps of it
    assert sorted(p.name for p in model_dir.iterdir() if p.suffix != ".check") == [
        "config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]


def test_the_phrase_is_found_where_it_is_spoken(media: dict, speech: tuple[dict, list]) -> None:
    info, segments = speech
    assert info["language"] == "en"
    assert info["duration"] == pytest.approx(len(decode_audio(media["speech"])) / 16000, abs=0.05)
    assert (info["sample_rate"], info["channels"]) == (44100, 2)
    spans = _transcript(segments)
    holding = [s for s in spans if "purple submarine" in s.text.lower()]
    assert holding, [s.text for s in spans]
    assert any(s.t0 - 0.5 <= media["needle_at"] <= s.t1 for s in holding)
    assert all(s.extra["language"] == "en" and s.vector is None for s in spans)
    # every word of a span with its start time, so a hit can jump to the moment
    assert all([w for _, w in s.extra["words"]] == s.text.split() for s in spans)
    assert all(s.t0 <= s.extra["words"][0][0] and s.extra["words"][-1][0] <= s.t1 for s in spans)
    assert "deployment schedule" in spans[0].text and "next week" in spans[-1].text.lower()


def test_word_times_match_the_recording(media: dict, ctx: ExtractContext) -> None:
    transcript = ctx.models.transcriber.transcribe(decode_audio(media["speech"]))
    assert transcript.language == "en" and transcript.language_probability > 0.5
    purple = next(w for w in transcript.words if w.text.strip().lower().startswith("purple"))
    assert abs(purple.start - media["needle_at"]) < 3.0
    assert [w.start for w in transcript.words] == sorted(w.start for w in transcript.words)


def test_transcript_spans_have_the_configured_length_and_overlap(speech: tuple[dict, list], ctx: ExtractContext
                                                                 ) -> None:
    spans = _transcript(speech[1])
    s = ctx.settings
    assert len(spans) >= 2
    for span in spans:
        assert span.t1 - span.t0 <= s.transcript_span_s
        assert span.locator == f"tr:{round(span.t0 * 1000)}"
    for before, after in zip(spans, spans[1:]):
        assert before.t0 < after.t0 < before.t1  # they overlap
        assert before.t1 - after.t0 <= s.transcript_overlap_s + 2.0
        assert before.text.endswith((".", "?", "!"))  # cut between sentences


# --- Sound events ----------------------------------------------------------------------------

def test_yamnet_hears_speech_and_beeps(media: dict, ctx: ExtractContext) -> None:
    tagger = ctx.models.sound_tagger
    assert len(tagger.labels) == 521
    for name, expected in (("speech", "Speech"), ("beeps", "Beep, bleep"), ("silence", "Silence")):
        audio = decode_audio(media[name])
        times, probs = tagger.predict(audio)
        assert probs.shape == (len(times), 521) and times.shape == (len(times), 2)
        assert times[-1, 1] >= len(audio) / 16000
        top = [tagger.labels[i] for i in np.argsort(-probs.mean(axis=0))[:3]]
        assert expected in top, (name, top)


def test_yamnet_resamples_other_rates(media: dict, ctx: ExtractContext) -> None:
    tagger = ctx.models.sound_tagger
    audio = decode_audio(media["beeps"])
    native = tagger.predict(audio)[1].mean(axis=0)
    resampled = tagger.predict(decode_audio(media["beeps"], sr=44100), sr=44100)[1].mean(axis=0)
    assert int(np.argmax(resampled)) == int(np.argmax(native))


def test_beeping_finds_the_alarm_not_the_meeting(speech: tuple[dict, list], alarm: tuple[dict, list],
                                                 ctx: ExtractContext) -> None:
    info, segments = alarm
    assert "language" not in info and not _transcript(segments)  # nobody speaks
    (beep,) = _sounds(segments)
    assert beep.t0 == 0.0 and beep.t1 == pytest.approx(info["duration"], abs=0.01)
    assert beep.extra["tags"][0] == "Beep, bleep" and beep.text.startswith("Beep, bleep")
    speech_sounds = _sounds(speech[1])
    assert speech_sounds and speech_sounds[0].extra["tags"][0] == "Speech"
    # Compared as search compares them: cosines calibrated per segment (a bound vector and a plain ConSE
    # mixture sit at different distances from everything, retrieval/calibration.py).
    from retrieval.calibration import SegmentCalibration

    query = ctx.models.text.encode_query(["beeping"])[0]
    vectors = np.array([beep.vector, *(s.vector for s in speech_sounds)])
    z = SegmentCalibration(ctx.models.text, ctx.settings.model_cache_dir).z(vectors @ query, vectors,
                                                                             ["sound"] * len(vectors))
    assert z[0] > z[1:].max()
    assert np.linalg.norm(beep.vector) == pytest.approx(1.0, abs=1e-4)


def test_sound_segments_of_a_soundtrack_keep_their_prefix_and_skip_silence(media: dict, ctx: ExtractContext
                                                                          ) -> None:
    quiet, alarm = decode_audio(media["silence"]), decode_audio(media["beeps"])
    segments = list(sound_segments(np.concatenate([quiet, alarm, quiet]), ctx, prefix="a:"))
    assert [s.extra["tags"][0] for s in segments] == ["Beep, bleep"]
    assert segments[0].locator.startswith("a:snd:")
    assert 1.5 <= segments[0].t0 <= 3.5 and 10.0 <= segments[0].t1 <= 12.5


def test_a_chime_heard_as_music_is_not_taken_for_silence(ctx: ExtractContext) -> None:
    """Generic classes weigh less when tags are chosen, but not when telling sound from silence."""
    from encoders.sound_events import Heard

    labels = ctx.models.sound_tagger.labels
    probs = np.zeros((2, len(labels)), dtype=np.float32)
    probs[:, labels.index("Music")], probs[:, labels.index("Silence")] = 0.68, 0.3
    probs[:, labels.index("Glockenspiel")] = 0.15
    heard = Heard(np.array([[0.0, 0.96], [0.48, 1.44]]), probs, np.full(2, -30.0, dtype=np.float32), 24000)
    (chime,) = heard_segments(heard, ctx)
    assert chime.extra["tags"][0] == "Glockenspiel" and "Music" in chime.extra["tags"]


def test_a_silent_file_fails_with_a_reason(media: dict, ctx: ExtractContext) -> None:
    extraction = extract_audio(media["silence"], ctx)
    with pytest.raises(ExtractionError, match="silent"):
        list(extraction.segments)


# --- Speech only where there is speech ------------------------------------------------------

def _speech_classes(ctx: ExtractContext) -> list[int]:
    return speech_classes(ctx.models.sound_tagger.labels)


def test_speech_sounds_keep_conse_and_other_sounds_are_bound(speech: tuple[dict, list], alarm: tuple[dict, list],
                                                            ctx: ExtractContext) -> None:
    """A stretch where words were transcribed is found by them; its sound vector stays ConSE's ("speech"): the learned
    projection cannot hear words. Beeps are bound with their projection."""
    assert ctx.models.sound_binding is not None
    spoken = [s for s in _sounds(speech[1]) if set(s.extra["tags"]) & {"Speech", "Male speech, man speaking",
                                                                        "Female speech, woman speaking"}]
    beeps = _sounds(alarm[1])
    assert spoken and beeps
    assert all(np.allclose(s.vector, s.conse) for s in spoken)
    assert all(not np.allclose(s.vector, s.conse, atol=1e-3) and s.features.shape == (1024,) for s in beeps)


def test_whisper_hears_only_the_stretches_where_someone_speaks(media: dict, ctx: ExtractContext) -> None:
    tagger = ctx.models.sound_tagger
    quiet, alarm = decode_audio(media["silence"]), decode_audio(media["beeps"])
    spoken = speak("the harbour crane will be inspected on friday", media["root"] / "crane.wav")
    crane = decode_audio(spoken)
    track = np.concatenate([alarm, quiet, crane, quiet])
    heard = tagger.listen([track], quiet_dbfs=SILENCE_DBFS)
    (stretch,) = speech_stretches(heard, _speech_classes(ctx))
    crane_at = (len(alarm) + len(quiet)) / 16000
    assert crane_at - 1.5 <= stretch[0] <= crane_at + 0.5 and stretch[1] >= crane_at + len(crane) / 16000 - 0.5
    assert speech_stretches(tagger.listen([alarm], quiet_dbfs=SILENCE_DBFS), _speech_classes(ctx)) == []
    # the stretch is cut out of audio arriving in small pieces exactly as out of the whole
    ((start, samples),) = cut_out(np.array_split(track, 997), [stretch])
    assert start == pytest.approx(stretch[0], abs=1e-3)
    assert np.array_equal(samples, track[round(stretch[0] * 16000) : round(stretch[1] * 16000)])


def test_long_speech_is_given_to_whisper_in_bounded_windows(ctx: ExtractContext) -> None:
    tagger = ctx.models.sound_tagger
    speech_class = tagger.labels.index("Speech")
    patches = int(2 * WHISPER_WINDOW_S / 0.48) + 10
    starts = np.arange(patches) * 0.48
    probs = np.zeros((patches, len(tagger.labels)), dtype=np.float32)
    probs[:, speech_class] = 0.9
    from encoders.sound_events import Heard

    heard = Heard(np.stack([starts, starts + 0.96], axis=1), probs, np.zeros(patches), int(starts[-1] * 16000))
    pieces = speech_stretches(heard, [speech_class])
    assert len(pieces) == 3 and all(t1 - t0 <= WHISPER_WINDOW_S for t0, t1 in pieces)
    assert pieces[0][0] == 0.0 and all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))


def test_segments_whisper_doubts_are_dropped() -> None:
    # (avg_logprob, compression_ratio, no_speech_prob) measured here with faster-whisper base
    assert plausible_segment(-0.50, 0.85, 0.05)  # espeak: "The harbour crane will be inspected on Friday."
    assert plausible_segment(-0.84, 0.60, 0.04)  # a spoken "Rear Center." from sound-theme-freedesktop
    assert plausible_segment(-1.18, 1.05, 0.32)  # an 8 kHz phone prompt, hard to hear but spoken
    assert not plausible_segment(-1.79, 2.15, 0.58)  # a beep train heard as "...and now the game is over!"
    assert not plausible_segment(-0.30, 3.10, 0.01)  # a loop: "the the the the ..."
    assert not plausible_segment(-0.80, 1.00, 0.85)  # Whisper itself thinks nobody speaks


def test_a_speechless_clip_gets_no_transcript_and_is_found_by_its_sound(media: dict, tmp_path: Path) -> None:
    """The sound effect gets only a sound segment, and "an alarm beeping" finds it, not the memo."""
    from omnidex.service import Omnidex

    folder = tmp_path / "library"
    folder.mkdir()
    chirps = folder / "chirps.wav"
    _run("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(chirps), "synth", "0.15", "sine", "2000-3500",
         "vol", "0.6", "pad", "0", "0.25", "repeat", "9")
    (folder / "alarm.wav").write_bytes(media["beeps"].read_bytes())
    speak("the harbour crane will be inspected on friday", folder / "memo.wav")
    app = Omnidex(make_settings(tmp_path / "data"))
    try:
        app.ingest([folder])
        by_file = {}
        for hit in app.search("harbour crane inspected", cutoff=False, group=False, limit=20):
            by_file.setdefault(Path(hit.path).name, set()).add(hit.modality)
        assert "transcript" in by_file["memo.wav"]
        for name in ("alarm.wav", "chirps.wav"):
            assert "transcript" not in by_file.get(name, set()), name
        hits = app.search("an alarm beeping", cutoff=False)
        assert Path(hits[0].path).name in {"alarm.wav", "chirps.wav"} and hits[0].modality == "sound"
    finally:
        app.close()


def test_a_video_soundtrack_is_heard_from_the_file(media: dict, ctx: ExtractContext) -> None:
    from ingest.video import extract_video

    clip = speech_video(media["root"] / "talk.mp4", speak("the harbour crane will be inspected on friday",
                                                          media["root"] / "talk.wav"), seconds=5)
    heard = [s for s in extract_video(clip, ctx).segments if s.modality in (Modality.TRANSCRIPT, Modality.SOUND)]
    (spoken,) = _transcript(heard)
    assert spoken.locator.startswith("a:tr:") and "harbour crane" in spoken.text.lower()
    assert spoken.thumbnail is not None  # the frame on screen meanwhile
    assert _sounds(heard) and all(s.locator.startswith("a:snd:") for s in _sounds(heard))


def test_a_long_quiet_recording_is_streamed_in_bounded_memory(tmp_path: Path, ctx: ExtractContext) -> None:
    """30 minutes of near-silence with one beep: no transcript, quick, and never the whole file in memory
    (as 16 kHz float32 it alone would take 115 MB)."""
    import time
    import tracemalloc

    hiss = tmp_path / "hiss.wav"  # about -66 dBFS: a quiet room through a cheap microphone
    _run("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(hiss), "synth", "900", "whitenoise", "vol", "0.0005")
    long = tmp_path / "long.wav"
    _run("sox", str(hiss), str(beeps(tmp_path / "beep.wav", seconds=3)), str(hiss), str(long))
    ctx.models.sound_conse, ctx.models.sound_tagger.listen([np.zeros(16000, np.float32)])  # models loaded first
    tracemalloc.start()
    started = time.perf_counter()
    try:
        extraction = extract_audio(long, ctx)
        segments = list(extraction.segments)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert extraction.info["duration"] == pytest.approx(1803, abs=1)
    assert not _transcript(segments) and "language" not in extraction.info
    (beep,) = _sounds(segments)
    assert 899 <= beep.t0 <= 901 and beep.extra["tags"][0] == "Beep, bleep"
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"
    assert elapsed < 120, f"{elapsed:.0f} s"


# --- Span grouping (no model needed) ---------------------------------------------------------

def _words(text: str, start: float = 0.0, rate: float = 0.4, pause_after: dict[int, float] | None = None
           ) -> list[Word]:
    words, t = [], start
    for n, token in enumerate(text.split()):
        words.append(Word(t, t + rate * 0.8, " " + token))
        t += rate + (pause_after or {}).get(n, 0.0)
    return words


def test_spans_cover_every_word_cut_at_sentences_and_overlap() -> None:
    sentence = "one two three four five six seven eight nine ten."
    words = _words(" ".join([sentence] * 12))  # 120 words, 48 s
    spans = list(word_spans(words, span_s=25.0, overlap_s=5.0))
    covered = sorted({i for first, stop in spans for i in range(first, stop)})
    assert covered == list(range(len(words)))
    for (first, stop), (next_first, _) in zip(spans, spans[1:]):
        assert words[stop - 1].end - words[first].start <= 25.0
        assert words[stop - 1].text.endswith(".") and words[next_first - 1].text.endswith(".")
        assert next_first < stop  # overlap


def test_a_long_silence_starts_a_fresh_span() -> None:
    words = _words("a b c d e f g h i j", pause_after={4: 60.0})
    assert list(word_spans(words, span_s=25.0, overlap_s=5.0)) == [(0, 5), (5, 10)]


def test_transcript_segments_carry_language_and_locator() -> None:
    words = _words("hello there. general kenobi.")
    transcript = Transcript("en", 0.99, [], words)
    (segment,) = transcript_segments(transcript, 25.0, 5.0, prefix="a:")
    assert segment.text == "hello there. general kenobi."
    assert segment.locator == "a:tr:0" and segment.extra["language"] == "en"
    assert [w for _, w in segment.extra["words"]] == ["hello", "there.", "general", "kenobi."]
