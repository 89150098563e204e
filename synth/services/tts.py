"""Text to speech as a service for the app and the command: ``say`` reads text aloud with the
text-to-mel network and plays it through the WaveNet vocoder, streamed (or through Griffin-Lim,
as a check of the acoustic model apart from the vocoder), and gives the WAV, the mel spectrogram
and the attention picture.

  stream = say_stream("Dr. Smith paid $5 at 3 pm.", seed=1)
  for chunk in stream:          # float32 audio chunks as they are made
      play(chunk)
  speech = stream.result()      # Speech: audio, mel, sentences; write_wav / write_mel_png / write_attention_png

Every request is checked at the boundary (InputError / UnreadableTextError naming what was wrong
and what is allowed); the models are shared read-only between concurrent requests.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from synth.errors import InputError
from synth.sampling.policies import make_policy
from synth.services import bounds
from synth.services.bounds import COMMAND, Limits
from synth.services.models import load_model
from synth.services.relay import AudioStream, model_policy
from synth.tts.normalise import normalise

USES = ("wavenet", "griffin-lim")
MIN_CHUNK_SECONDS, MAX_CHUNK_SECONDS = 0.01, 5.0

__all__ = ["Speech", "SpeechStream", "say", "say_stream"]


@dataclasses.dataclass
class Speech:
    audio: np.ndarray  # (T,) float32 in [-1, 1]
    sample_rate: int
    mel: np.ndarray  # (n_mels, F) log-mel frames as synth.audio.MelFeatures makes them (pauses included)
    sentences: list  # synth.tts.reader.SpokenSentence, one per sentence read
    vocoder: str  # "wavenet" or "griffin-lim"
    seconds: float  # wall time of the whole request
    first_audio_seconds: float  # wall time until the first chunk of audio
    hop_length: int = 256  # audio samples per mel frame

    @property
    def retries(self) -> int:
        return sum(s.attempts - 1 for s in self.sentences)

    @property
    def failed_sentences(self) -> list[str]:
        return [s.text for s in self.sentences if s.failure is not None]

    def write_wav(self, path: str | Path) -> Path:
        from synth.audio import write_audio

        return write_audio(path, self.audio, self.sample_rate)

    def write_mel_png(self, path: str | Path) -> Path:
        from synth.tts.pictures import mel_figure

        return mel_figure(path, self.mel, frames_per_second=self.sample_rate / self.hop_length,
                          title=" ".join(s.text for s in self.sentences)[:120])

    def write_attention_png(self, path: str | Path) -> Path:
        """The window of every sentence, one after another (block diagonal): characters downwards,
        decoder steps to the right."""
        from synth.tts.pictures import attention_figure

        read = [s for s in self.sentences if s.phi is not None]
        if not read:
            raise InputError("no attention was recorded for this speech")
        text = " ".join(s.read for s in read)
        picture = np.zeros((sum(s.phi.shape[0] for s in read), len(text) + 1), dtype=np.float32)  # (steps, U + 1)
        t = u = 0
        for s in read:
            picture[t:t + s.phi.shape[0], u:u + len(s.read)] = s.phi[:, :len(s.read)]
            t, u = t + s.phi.shape[0], u + len(s.read) + 1
        picture[t - read[-1].phi.shape[0]:, -1] = read[-1].phi[:, -1]  # the last sentence's "end" column
        return attention_figure(path, picture, text)


class SpeechStream(AudioStream):
    """A request being read aloud (the relay's AudioStream): iterate for float32 audio chunks (t,)
    as they are made; ``result()`` then gives the whole Speech (audio, mel, sentences, pictures)."""

    def __init__(self, chunks: Iterator[np.ndarray], *, sample_rate: int, total_samples: int, started: float,
                 finish: Callable[[np.ndarray, float], Speech]):
        super().__init__(chunks, sample_rate=sample_rate, total_samples=total_samples)
        self._finish, self._started = finish, started  # perf_counter() when the request came
        self.first_audio_seconds: float | None = None
        self._result: Speech | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        for chunk in super().__iter__():
            if self.first_audio_seconds is None:
                self.first_audio_seconds = time.perf_counter() - self._started
            yield chunk

    def result(self) -> Speech:
        if self._result is None:
            self._result = self._finish(self.audio(), self.first_audio_seconds or 0.0)
        return self._result


def _check(text, limits: Limits, max_retries, chunk_seconds, use) -> None:
    from synth.tts.reader import check_retries

    if isinstance(text, str) and len(text) > limits.tts_chars:
        raise InputError(f"the text is {len(text)} characters long; {limits.face} reads at most "
                         f"{limits.tts_chars} aloud{limits.longer_elsewhere}")
    check_retries(max_retries)
    if isinstance(chunk_seconds, bool) or not isinstance(chunk_seconds, (int, float)) \
            or not MIN_CHUNK_SECONDS <= chunk_seconds <= MAX_CHUNK_SECONDS:
        raise InputError(f"chunk_seconds must be from {MIN_CHUNK_SECONDS} to {MAX_CHUNK_SECONDS}, got {chunk_seconds!r}")
    if use not in USES:
        raise InputError(f"unknown way to play the speech {use!r}; allowed: {', '.join(USES)}")


def say_stream(text: str, *, seed: int | None = None, use: str = "wavenet", speaker: str | int | None = None,
               temperature: float | None = None, max_retries: int = 3, chunk_seconds: float = 0.25, limits: Limits = COMMAND,
               checkpoint: str | Path | None = None, vocoder_checkpoint: str | Path | None = None,
               device: str = "auto", model=None, vocoder=None) -> SpeechStream:
    """Read ``text`` aloud (split into sentences and joined; at most ``limits.tts_chars``).

    use: "wavenet" (the mel vocoder, fed the frames as they are made, so audio starts before the
    text is read) or "griffin-lim" (phase recovery from the mel, a sentence at a time: the acoustic
    model judged apart from the vocoder). speaker: the vocoder's (name or id), for a vocoder with
    speakers. temperature: the vocoder's sampling temperature, None = the vocoder's own (chosen by
    its judges; the mel frames are not sampled:
    their only randomness is the prenet's dropout). seed: the same seed gives the same audio;
    None picks one. model / vocoder: loaded
    networks, else the roles' ("tts", "vocoder") from ``checkpoint`` / ``vocoder_checkpoint`` or
    the bundled ones.
    """
    import torch

    from synth.tts.reader import budget_steps, griffin_lim, pause_frames, sentences_of, speech_frames, stream_speech

    started = time.perf_counter()

    _check(text, limits, max_retries, chunk_seconds, use)
    make_policy(temperature=temperature)  # checks the temperature's bound before anything is loaded
    seed = bounds.check_seed(seed)
    seed = seed if seed is not None else int(torch.randint(0, bounds.MAX_SEED, ()).item())
    normalise(text)  # refuse bad text before loading anything
    model = model if model is not None else load_model("tts", checkpoint, device)
    sentences = sentences_of(model, text)
    spoken: list = []
    mel_features = model.config.mel_features
    if use == "wavenet":
        from synth.services.speech import speaker_id

        vocoder = vocoder if vocoder is not None else load_model("vocoder", vocoder_checkpoint, device)
        rate = vocoder.config.sample_rate
        policy = model_policy(vocoder, temperature=temperature)
        chunks = stream_speech(model, vocoder, text, seed=seed, speaker=speaker_id(vocoder, speaker),
                               max_retries=max_retries, chunk_seconds=chunk_seconds, record=True,
                               on_sentence=spoken.append, policy=policy)
    else:
        rate = mel_features.sample_rate

        def by_griffin_lim() -> Iterator[np.ndarray]:
            pause = np.zeros(pause_frames(model).shape[1] * mel_features.hop_length, np.float32)
            for i, frames in enumerate(speech_frames(model, text, seed=seed, max_retries=max_retries, record=True,
                                                     pause_seconds=0, on_sentence=spoken.append)):
                if i:
                    yield pause
                yield griffin_lim(frames, model, seed=seed)  # the request's seed: the same seed, the same audio
        chunks = by_griffin_lim()

    def finish(audio: np.ndarray, first_audio_seconds: float) -> Speech:
        pieces = []
        for i, sentence in enumerate(spoken):
            if i:
                pieces.append(pause_frames(model))
            pieces.append(sentence.mel)
        mel = torch.cat(pieces, -1).numpy() if pieces else np.zeros((mel_features.n_mels, 0), np.float32)
        return Speech(audio, rate, mel, spoken, use, time.perf_counter() - started, first_audio_seconds,
                      mel_features.hop_length)

    # For progress only: the corpus's mean speed (a third of the step budget) and the pauses.
    expected_frames = sum(budget_steps(model, s) for s in sentences) * model.config.reduction // 3 \
        + (len(sentences) - 1) * pause_frames(model).shape[1]
    return SpeechStream(chunks, sample_rate=rate, total_samples=expected_frames * mel_features.hop_length,
                        started=started, finish=finish)


def say(text: str, **kwargs) -> Speech:
    """``say_stream`` to the end: the whole Speech at once."""
    return say_stream(text, **kwargs).result()
