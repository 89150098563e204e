"""How the app serves a request: errors a user can cause become a message in the page, uploads
are read only from the app's own temporary space, outputs go to a fresh folder (old ones are
swept), and audio streams to the page as it is made (when ffmpeg is there to encode it)."""
from __future__ import annotations

import functools
import inspect
import io
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
import soundfile

from synth.errors import InputError, SynthError

log = logging.getLogger("synth.app")

APP_SPACE = Path(os.environ["GRADIO_TEMP_DIR"]).resolve()
#: Outputs older than this are deleted (seconds).
KEEP_OUTPUTS_SECONDS = 3600
STREAM_CHUNK_SECONDS = 0.25


def user_errors(fn):
    """Errors a user can cause become a message in the page (gr.Error); anything else is logged
    and reported without a traceback. Either way the server keeps answering."""
    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, SynthError):
            return gr.Error(str(exc), print_exception=False)
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"internal error ({type(exc).__name__}); the request was not completed", print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except GeneratorExit:
                raise
            except Exception as exc:
                raise translate(exc) from None
        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from None
    return function


def request_dir() -> Path:
    """A fresh folder for one request's outputs; old ones are swept."""
    outputs = APP_SPACE / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in outputs.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_OUTPUTS_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(dir=outputs))


def uploaded(path: str | None, what: str, required: bool = True) -> Path | None:
    """An uploaded file's path, refused unless it lies in the app's own temporary space (where
    Gradio puts uploads and examples); the bytes are only ever parsed as audio or MIDI."""
    if not path:
        if required:
            raise InputError(f"no {what} was given; upload one")
        return None
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(APP_SPACE):
        raise InputError(f"the {what} must be uploaded; files elsewhere on the server cannot be read")
    return resolved


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(samples, -1, 1), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


#: Gradio encodes streamed audio with ffmpeg (Debian package ffmpeg); without it the app still
#: works, showing each result when it is complete instead of as it is made.
STREAMING = shutil.which("ffmpeg") is not None


def live_chunk(samples: np.ndarray, sample_rate: int):
    return wav_bytes(samples, sample_rate) if STREAMING else gr.skip()


def live_label(label: str) -> str:
    return label if STREAMING else f"{label}: off, ffmpeg is not installed; the WAV below comes when it is done"


def save_wav(samples: np.ndarray, sample_rate: int, folder: Path, name: str) -> str:
    path = folder / name
    soundfile.write(str(path), np.clip(np.asarray(samples, np.float32), -1, 1), sample_rate, subtype="PCM_16")
    return str(path)


def save_png(picture, folder: Path, name: str) -> str:
    path = folder / name
    path.write_bytes(picture) if isinstance(picture, bytes) else picture.save(path)
    return str(path)


def stream(audio, progress, what: str, outputs):
    """Yields ``outputs(chunk)`` for each chunk of an ``AudioStream`` as it is made, reporting
    progress; returns the whole waveform at the end (``waveform = yield from stream(...)``)."""
    progress(0.0, desc=what)
    for chunk in audio:
        progress(audio.fraction, desc=f"{what}: {audio.samples_done:,} / {audio.total_samples:,} samples")
        yield outputs(chunk, audio.sample_rate)
    return audio.audio()
