"""Speech: speaking with the (speaker-conditioned) speech WaveNet, and resynthesising a recorded
clip through the mel vocoder. Each request is checked against the face's ``Limits`` and answered
with an ``AudioStream`` (``synth.services.relay``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synth.audio import mel_features_of, read_audio, spectrogram_image  # noqa: F401  (the faces draw with it)
from synth.errors import AudioError, InputError
from synth.services import bounds
from synth.services.bounds import COMMAND, Limits
from synth.services.models import load_model
from synth.services.relay import AudioStream, wavenet_stream


def speaker_names(model) -> list[str]:
    """Names of the model's speakers (index = speaker id), from its metadata when it has them."""
    n = model.config.n_speakers
    names = list(getattr(model, "metadata", {}).get("speakers") or [])
    if len(names) != n:
        names = [f"speaker {i}" for i in range(n)]
    return [str(name) for name in names]


def speaker_id(model, speaker: str | int | None) -> int | None:
    """A speaker id from a name or an id (an int, or a string of digits); None for a model without
    speakers. A speaker model takes speaker 0 when none is named."""
    names = speaker_names(model)
    if not names:
        if speaker not in (None, "", 0, "0"):
            raise InputError(f"this model has no speakers, so speaker {speaker!r} cannot be chosen")
        return None
    if speaker is None or speaker == "":
        return 0
    if isinstance(speaker, str) and speaker in names:
        return names.index(speaker)
    try:
        index = int(speaker) if not isinstance(speaker, bool) else None
    except (TypeError, ValueError):
        index = None
    if index is None:
        raise InputError(f"unknown speaker {speaker!r}; this model's speakers: {', '.join(names)}")
    if not 0 <= index < len(names):
        raise InputError(f"speaker id {index} is out of range; ids are 0 to {len(names) - 1} ({', '.join(names)})")
    return index


def speakers(role: str = "speech", checkpoint: str | Path | None = None, device: str = "auto") -> list[str]:
    """The speakers of a role's model ("speech" or "vocoder"); [] for a model with one voice."""
    return speaker_names(load_model(role, checkpoint, device))


def speak(*, seconds: float, speaker: str | int | None = None, temperature: float | None = None, seed: int | None = None,
          limits: Limits = COMMAND, checkpoint: str | Path | None = None, device: str = "auto",
          chunk_seconds: float = 0.25) -> AudioStream:
    """Free (or speaker-conditioned) speech from the speech WaveNet (temperature None: the
    checkpoint's own, ``synth.services.relay.model_policy``)."""
    model = load_model("speech", checkpoint, device)
    if model.config.cond_channels:
        raise InputError("this WaveNet needs conditioning frames (it is a vocoder or a piano model), "
                         "not free speech; use resynthesis instead")
    seconds = bounds.check_seconds(seconds, limits.speech_seconds)
    return wavenet_stream(model, seconds=seconds, max_seconds=limits.speech_seconds, speaker=speaker_id(model, speaker),
                          temperature=temperature, seed=bounds.check_seed(seed), chunk_seconds=chunk_seconds)


def read_clip(path: str | Path | None, sample_rate: int, limits: Limits = COMMAND) -> np.ndarray:
    """A recorded or uploaded clip as mono float32 at ``sample_rate``. Refuses (AudioError) a file
    that is missing, too large, not audio, damaged, too short or too long; the bytes are only ever
    decoded as audio (libsndfile), never executed or unpickled."""
    path = Path(path) if path else None
    if path is None or not path.is_file():
        raise AudioError("no audio clip was given; upload or record one (WAV, FLAC or OGG)")
    size = path.stat().st_size
    if size > limits.clip_bytes:
        raise AudioError(f"the clip is {size / 1024 ** 2:.1f} MB; at most {limits.clip_bytes / 1024 ** 2:.0f} MB is accepted")
    try:
        waveform, _ = read_audio(path, sample_rate, max_seconds=limits.clip_seconds)
    except AudioError as exc:  # name it "the clip", not by the server's temporary path
        raise AudioError(str(exc).replace(str(path), "the clip")) from None
    if len(waveform) < bounds.MIN_CLIP_SECONDS * sample_rate:
        raise AudioError(f"the clip is {len(waveform) / sample_rate:.3f} s long; at least {bounds.MIN_CLIP_SECONDS} s is needed")
    peak = float(np.abs(waveform).max())
    if peak > 1.0:
        waveform = waveform / peak
    return waveform


def resynthesise(clip: str | Path | None, *, speaker: str | int | None = None, temperature: float | None = None,
                 seed: int | None = 0, limits: Limits = COMMAND, checkpoint: str | Path | None = None,
                 device: str = "auto", chunk_seconds: float = 0.25) -> AudioStream:
    """The clip's log-mel frames (the vocoder's own stored features) played back through the
    vocoder WaveNet, one hop per frame; the stream's ``original`` is the clip as read. temperature
    None: the vocoder's own, chosen by its judges (``synth.services.relay.model_policy``)."""
    vocoder = load_model("vocoder", checkpoint, device)
    mel = mel_features_of(vocoder)
    original = read_clip(clip, vocoder.config.sample_rate, limits)
    frames = mel(torch.from_numpy(np.ascontiguousarray(original, dtype=np.float32)))  # (n_mels, F)
    if frames.shape[-1] < 1:
        raise AudioError(f"the clip is shorter than one frame ({mel.hop_length} samples)")
    seconds = mel.seconds(frames.shape[-1])
    return wavenet_stream(vocoder, seconds=seconds, max_seconds=max(seconds, 1.0), frames=frames,
                          speaker=speaker_id(vocoder, speaker), temperature=temperature, seed=bounds.check_seed(seed),
                          chunk_seconds=chunk_seconds, original=original)
