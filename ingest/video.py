"""Video: keyframes at shot changes (with a time floor) as image segments, the audio track as speech and sound."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from core.schema import Modality, Segment
from ingest.audio import file_audio_segments
from ingest.errors import ExtractionError
from ingest.extraction import ExtractContext, Extraction
from ingest.image import image_segments
from ingest.limits import check_duration
from ingest.media import ffmpeg_reason

SAMPLE_EVERY_S = 0.5  # how often a decoded frame is looked at for shot changes
MAX_SPARE = 64  # frames held back for clips too static to yield min_frames shot changes
FRAME_BATCH = 16


@dataclass
class Keyframe:
    t: float
    image: Image.Image


def probe_video(path: Path) -> dict[str, Any]:
    """Duration, size, frame rate and whether there is sound; raises ExtractionError when there is no picture."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ExtractionError("no video stream in the file")
            stream = container.streams.video[0]
            duration = _duration(container, stream)
            return {
                "duration": duration,
                "width": stream.codec_context.width,
                "height": stream.codec_context.height,
                "fps": float(stream.average_rate) if stream.average_rate else None,
                "has_audio": bool(container.streams.audio),
            }
    except av.error.FFmpegError as e:
        raise ExtractionError(f"corrupt or unreadable video: {ffmpeg_reason(e)}") from e


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def iter_keyframes(path: Path, interval_s: float, min_frames: int, threshold: float,
                   max_seconds: float | None = None) -> Iterator[Keyframe]:
    """Frames where the shot changes, at least one every interval_s and at least min_frames in all.

    Streams: frames are yielded as they are decoded, downscaled, and the pool of
    spare frames kept for static clips is thinned so memory stays bounded. A clip
    whose header did not tell its length is refused once a frame passes max_seconds.
    """
    spare: list[Keyframe] = []
    stride = 1  # keep every stride-th spare sample
    seen = chosen = 0
    last_hist: np.ndarray | None = None
    last_t = -np.inf
    next_sample = 0.0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            width, height = _scaled(stream.codec_context.width, stream.codec_context.height)
            for frame in container.decode(stream):
                if frame.time is None or frame.time < next_sample:
                    continue
                next_sample = frame.time + SAMPLE_EVERY_S
                if max_seconds is not None:
                    check_duration(frame.time, max_seconds)
                small = frame.to_ndarray(format="gray", width=64, height=36)
                hist = np.histogram(small, bins=32, range=(0, 255))[0].astype(np.float32)
                hist /= max(hist.sum(), 1.0)
                changed = last_hist is None or 0.5 * np.abs(hist - last_hist).sum() > threshold
                last_hist = hist
                if changed or frame.time - last_t >= interval_s:
                    chosen += 1
                    last_t = frame.time
                    yield Keyframe(frame.time, frame.to_image(width=width, height=height))
                    continue
                seen += 1
                if seen % stride == 0:
                    spare.append(Keyframe(frame.time, frame.to_image(width=width, height=height)))
                    if len(spare) > MAX_SPARE:
                        spare, stride = spare[::2], stride * 2
    except av.error.FFmpegError as e:
        if not chosen:
            raise ExtractionError(f"video frames cannot be decoded: {ffmpeg_reason(e)}") from e
    if chosen < min_frames and spare:
        picks = np.linspace(0, len(spare) - 1, num=min(min_frames - chosen, len(spare))).round().astype(int)
        yield from (spare[i] for i in sorted(set(picks)))


def _scaled(width: int, height: int, max_px: int = 640) -> tuple[int, int]:
    """Frame size for analysis: the classifier sees 260 px and thumbnails 320 px, so 640 px loses nothing."""
    scale = min(1.0, max_px / max(width, height, 1))
    return max(2, round(width * scale)) // 2 * 2, max(2, round(height * scale)) // 2 * 2


def extract_video(path: Path, ctx: ExtractContext) -> Extraction:
    info = probe_video(path)
    check_duration(info["duration"], ctx.settings.max_duration_s)
    return Extraction(info={k: v for k, v in info.items() if v is not None}, segments=_video_segments(path, info, ctx))


def _video_segments(path: Path, info: dict[str, Any], ctx: ExtractContext) -> Iterator[Segment]:
    s = ctx.settings
    keyframes = iter_keyframes(path, s.frame_interval_s, s.min_frames, s.scene_threshold, s.max_duration_s)
    posters: list[tuple[float, bytes]] = []  # (t, JPEG) of every keyframe, for the spans heard meanwhile
    while batch := list(islice(keyframes, FRAME_BATCH)):
        locators = [f"f{round(k.t * 1000)}" for k in batch]
        for keyframe, segment in zip(batch, image_segments([k.image for k in batch], ctx, locators,
                                                           modality=Modality.FRAME)):
            segment.t0 = segment.t1 = round(keyframe.t, 3)
            if segment.thumbnail is not None:
                posters.append((keyframe.t, segment.thumbnail))
            yield segment
    if info["has_audio"]:
        posters.sort(key=lambda p: p[0])
        for segment in file_audio_segments(path, ctx, locator_prefix="a:"):
            # What was on screen when the span starts: the latest keyframe before it.
            shown = [jpeg for t, jpeg in posters if t <= (segment.t0 or 0.0)] or [p[1] for p in posters[:1]]
            segment.thumbnail = shown[-1] if shown else None
            yield segment
