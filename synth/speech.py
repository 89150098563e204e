"""Speech as a service for the app and the command: speaking with a (speaker-conditioned)
WaveNet, resynthesising a recorded clip through the mel vocoder, and spectrogram pictures.

Every function checks its request at the boundary (InputError / AudioError saying what is wrong
and what is allowed) and yields audio as it is generated, so callers can stream it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from synth.audio import MelFeatures, read_audio
from synth.errors import AudioError, InputError

#: Largest uploaded clip accepted for resynthesis (bytes) and its longest duration (seconds).
MAX_CLIP_BYTES = 50 * 1024 ** 2
MAX_CLIP_SECONDS = 20.0
#: Shortest clip worth resynthesising (seconds).
MIN_CLIP_SECONDS = 0.1


def speaker_names(model) -> list[str]:
    """Names of the model's speakers (index = speaker id), from its metadata when it has them."""
    n = model.config.n_speakers
    names = list(getattr(model, "metadata", {}).get("speakers") or [])
    if len(names) != n:
        names = [f"speaker {i}" for i in range(n)]
    return [str(name) for name in names]


def speaker_id(model, speaker: str | int | None) -> int | None:
    """A speaker id from a name or an id; None for a model without speakers. Speaker models take
    speaker 0 when none is named."""
    names = speaker_names(model)
    if not names:
        if speaker not in (None, "", 0):
            raise InputError(f"this model has no speakers, so speaker {speaker!r} cannot be chosen")
        return None
    if speaker is None or speaker == "":
        return 0
    if isinstance(speaker, str) and speaker in names:
        return names.index(speaker)
    try:
        index = int(speaker)
    except (TypeError, ValueError):
        raise InputError(f"unknown speaker {speaker!r}; this model's speakers: {', '.join(names)}") from None
    if not 0 <= index < len(names):
        raise InputError(f"speaker id {index} is out of range; ids are 0 to {len(names) - 1} ({', '.join(names)})")
    return index


def speak(model, *, seconds: float, speaker: str | int | None = None, temperature: float = 1.0,
          seed: int | None = None, max_seconds: float = 600.0, chunk_seconds: float = 0.25,
          progress: Callable[[int, int], None] | None = None) -> Iterator[np.ndarray]:
    """Unconditioned (or speaker-conditioned) speech: float32 chunks (t,) in [-1, 1] as they are made."""
    from synth.models.wavenet import generate_waveform
    from synth.sampling.policies import make_policy

    if model.config.cond_channels:
        raise InputError("this WaveNet needs conditioning frames (it is a vocoder or a piano model), "
                         "not free speech; use resynthesis instead")
    check_seconds(seconds, max_seconds)
    check_temperature(temperature)
    sid = speaker_id(model, speaker)
    for chunk in generate_waveform(model, seconds=float(seconds), speaker=sid, policy=make_policy(temperature=temperature),
                                   seed=seed, max_seconds=max_seconds, chunk_seconds=chunk_seconds, progress=progress):
        yield chunk[0].numpy().astype(np.float32)


def check_seconds(seconds, max_seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not np.isfinite(seconds) \
            or not 0 < seconds <= max_seconds:
        raise InputError(f"seconds must be more than 0 and at most {max_seconds:g}, got {seconds!r}")
    return float(seconds)


def check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 5:
        raise InputError(f"temperature must be from 0 (greedy) to 5, got {temperature!r}")
    return float(temperature)


def read_clip(path: str | Path, sample_rate: int, *, max_seconds: float = MAX_CLIP_SECONDS,
              max_bytes: int = MAX_CLIP_BYTES) -> np.ndarray:
    """A recorded or uploaded clip as mono float32 at ``sample_rate``. Refuses (AudioError) a file
    that is too large, not audio, damaged, silent-empty, too short or too long; the bytes are only
    ever decoded as audio (libsndfile), never executed or unpickled."""
    path = Path(path)
    if not path.is_file():
        raise AudioError("no audio clip was given; upload or record one (WAV, FLAC or OGG)")
    size = path.stat().st_size
    if size > max_bytes:
        raise AudioError(f"the clip is {size / 1024 ** 2:.1f} MB; at most {max_bytes / 1024 ** 2:.0f} MB is accepted")
    try:
        waveform, _ = read_audio(path, sample_rate, max_seconds=max_seconds)
    except AudioError as exc:  # name it "the clip", not by the server's temporary path
        raise AudioError(str(exc).replace(str(path), "the clip")) from None
    if len(waveform) < MIN_CLIP_SECONDS * sample_rate:
        raise AudioError(f"the clip is {len(waveform) / sample_rate:.3f} s long; at least {MIN_CLIP_SECONDS} s is needed")
    peak = float(np.abs(waveform).max())
    if peak > 1.0:
        waveform = waveform / peak
    return waveform


def vocode(vocoder, waveform: np.ndarray, *, speaker: str | int | None = None, seed: int | None = 0,
           temperature: float = 1.0, chunk_seconds: float = 0.25,
           progress: Callable[[int, int], None] | None = None) -> Iterator[np.ndarray]:
    """Resynthesis: the clip's log-mel frames (the vocoder's own stored features) played back
    through the vocoder WaveNet; float32 chunks (t,) as they are made, one hop per frame."""
    from synth.models.wavenet import generate_waveform
    from synth.sampling.policies import make_policy
    from synth.solvers.wavenet import mel_features_of

    mel = mel_features_of(vocoder)
    check_temperature(temperature)
    frames = mel(torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32)))  # (n_mels, F)
    if frames.shape[-1] < 1:
        raise AudioError(f"the clip is shorter than one frame ({mel.hop_length} samples)")
    seconds = mel.seconds(frames.shape[-1])
    sid = speaker_id(vocoder, speaker)
    for chunk in generate_waveform(vocoder, seconds=seconds, frames=frames.unsqueeze(0), speaker=sid,
                                   policy=make_policy(temperature=temperature), seed=seed, chunk_seconds=chunk_seconds,
                                   max_seconds=max(seconds, 1.0), progress=progress):
        yield chunk[0].numpy().astype(np.float32)


#: A dark-to-bright colour ramp (close to matplotlib's "magma") as (position, RGB) anchors.
_RAMP = np.array([[0.0, 0, 0, 4], [0.25, 81, 18, 124], [0.5, 183, 55, 121], [0.75, 252, 137, 97], [1.0, 252, 253, 191]])


def spectrogram_image(waveform: np.ndarray, sample_rate: int, *, height_per_band: int = 2, max_width: int = 800,
                      dynamic_range_db: float = 80.0):
    """A log-mel spectrogram as a PIL image: time to the right, frequency upwards, brighter is louder."""
    from PIL import Image

    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    mel = MelFeatures(sample_rate=sample_rate, n_fft=512, win_length=512, hop_length=128, n_mels=80,
                      f_min=40.0, f_max=min(7600.0, sample_rate / 2))
    if len(waveform) < mel.hop_length:
        waveform = np.pad(waveform, (0, mel.hop_length - len(waveform)))
    log_mel = mel(torch.from_numpy(waveform)).numpy()  # (80, F), natural log of magnitude
    db = 20 * log_mel / np.log(10)
    level = np.clip((db - (db.max() - dynamic_range_db)) / dynamic_range_db, 0, 1)[::-1]  # low bands at the bottom
    rgb = np.stack([np.interp(level, _RAMP[:, 0], _RAMP[:, i]) for i in (1, 2, 3)], axis=-1).astype(np.uint8)
    image = Image.fromarray(np.repeat(rgb, height_per_band, axis=0))
    if image.width > max_width:
        image = image.resize((max_width, image.height))
    elif image.width < 200:
        image = image.resize((200, image.height), Image.NEAREST)
    return image
