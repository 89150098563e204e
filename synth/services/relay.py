"""The one streaming relay: a request's policy and conditioning -> the sampling engine -> float32
audio chunks, with how far the generation has got.

Every WaveNet service (speech, resynthesis, the piano, plain generation) returns an
``AudioStream``; a face iterates it to stream the chunks (the app) or to move a progress bar (the
command), and takes the whole waveform from ``audio()`` at the end.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from synth.sampling.policies import make_policy


class AudioStream:
    """One generation's audio as float32 chunks in [-1, 1], shaped (t,) for one stream or (B, t)
    for a batch, made as they are iterated over.

    sample_rate: of the audio; total_samples: how many samples per stream the request will make;
    original: the input waveform a resynthesis started from (else None); cut: whether the request
    was cut to fit its limit (a piece longer than the seconds allowed)."""

    def __init__(self, chunks: Iterable[np.ndarray], *, sample_rate: int, total_samples: int,
                 original: np.ndarray | None = None, cut: bool = False):
        self._chunks = iter(chunks)
        self._made: list[np.ndarray] = []
        self.sample_rate, self.total_samples = int(sample_rate), int(total_samples)
        self.original, self.cut = original, cut
        self.samples_done = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for chunk in self._chunks:
            self._made.append(chunk)
            self.samples_done += chunk.shape[-1]
            yield chunk

    @property
    def fraction(self) -> float:
        """How much of the request is made, from 0 to 1."""
        return min(1.0, self.samples_done / max(1, self.total_samples))

    def audio(self) -> np.ndarray:
        """The whole waveform, (T,) or (B, T): what was streamed, plus whatever was not yet iterated."""
        for _ in self:
            pass
        if not self._made:
            return np.zeros(0, np.float32)
        return np.concatenate(self._made, axis=-1)


def collect(stream: AudioStream, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Run a stream to its end, calling ``progress(samples_done, total_samples)`` after each chunk."""
    for _ in stream:
        if progress is not None:
            progress(stream.samples_done, stream.total_samples)
    return stream.audio()


def model_policy(model, *, temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
                 greedy: bool = False) -> tuple:
    """The sampling policy of a request's settings; ``temperature=None`` (and not greedy) means the
    checkpoint's own temperature, the one its judges chose (metadata ``sampling``; 1 when it names
    none). The settings are checked here."""
    from synth.models.wavenet_generation import default_policy

    policy = make_policy(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
    return default_policy(model) + policy if temperature is None and not greedy else policy


def wavenet_stream(model, *, seconds: float, max_seconds: float, speaker: int | None = None,
                   frames: torch.Tensor | None = None, batch_size: int = 1, temperature: float | None = None,
                   top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
                   seed: int | None = None, chunk_seconds: float = 0.25, original: np.ndarray | None = None,
                   cut: bool = False, options=None) -> AudioStream:
    """``seconds`` of audio from a WaveNet (conditioned on ``speaker`` and on local ``frames``,
    (C, F) shared by the batch or (B, C, F), when given; the audio ends early where the frames
    do), under the sampling policy of the keyword settings (``model_policy``: temperature None =
    the checkpoint's own) and the request's generation
    ``options`` (``GenerationOptions``: path, kernel threads; the machine chooses when None). The
    policy is made, and so checked, now; the audio when the stream is iterated."""
    from synth.models.wavenet_generation import generate_waveform

    policy = model_policy(model, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
    chunks = generate_waveform(model, seconds=seconds, batch_size=batch_size, speaker=speaker, frames=frames,
                               policy=policy, seed=seed, chunk_seconds=chunk_seconds, max_seconds=max_seconds,
                               options=options)
    as_float = (chunk.numpy()[0 if batch_size == 1 else slice(None)] for chunk in chunks)  # float32 (t,) or (B, t)
    return AudioStream(as_float, sample_rate=model.config.sample_rate, total_samples=round(seconds * model.config.sample_rate),
                       original=original, cut=cut)
