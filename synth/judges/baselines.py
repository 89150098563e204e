"""The baselines a user would otherwise pick: for a vocoder, ``griffin_lim_from_mel`` inverts the
same log-mel the vocoder is given (Griffin & Lim 1984, 64 iterations, librosa); for a whole
text-to-speech system, ``espeak_ng`` reads the same text with the espeak-ng synthesiser (the
Debian package, which setup.sh installs)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from synth.audio import MelFeatures
from synth.errors import InputError
from synth.judges.runtime import JUDGE_SAMPLE_RATE, mono_float

GRIFFIN_LIM_ITERATIONS = 64


def griffin_lim_from_mel(mel_frames, features: MelFeatures = MelFeatures(), n_iter: int = GRIFFIN_LIM_ITERATIONS,
                         seed: int = 0) -> np.ndarray:
    """Griffin-Lim audio (F * hop_length,) float32 from the log-mel frames (n_mels, F) that
    ``features`` computes, i.e. exactly what a vocoder is given.

    ``MelFeatures`` is log(max(mel, log_floor)) of a magnitude (power 1) Slaney-scale,
    Slaney-normalised mel filterbank between f_min and f_max over a centred periodic-Hann STFT, so
    exp() undoes the log (floored bins come back as the floor) and librosa's non-negative least
    squares inversion with the same filterbank gives the linear magnitude. These are the two steps of
    ``librosa.feature.inverse.mel_to_audio`` (mel_to_stft, then griffinlim), written out only to give
    Griffin-Lim's random initial phase a seed: the same mel always gives the same audio.
    """
    import librosa

    if hasattr(mel_frames, "detach"):
        mel_frames = mel_frames.detach().float().cpu().numpy()
    log_mel = np.asarray(mel_frames, dtype=np.float64)
    if log_mel.ndim != 2 or log_mel.shape[0] != features.n_mels:
        raise InputError(f"mel frames of shape {log_mel.shape}: expected ({features.n_mels}, frames), "
                         "as MelFeatures returns for one clip")
    if log_mel.shape[1] == 0 or not np.all(np.isfinite(log_mel)):
        raise InputError("mel frames: expected at least one frame of finite values")
    magnitude_mel = np.exp(log_mel)  # (n_mels, F): undoes torch.log(clamp(mel, log_floor))
    stft_magnitude = librosa.feature.inverse.mel_to_stft(
        magnitude_mel, sr=features.sample_rate, n_fft=features.n_fft, power=1.0,
        fmin=features.f_min, fmax=features.f_max, htk=False, norm="slaney")  # (1 + n_fft // 2, F)
    audio = librosa.griffinlim(
        stft_magnitude, n_iter=n_iter, hop_length=features.hop_length, win_length=features.win_length,
        n_fft=features.n_fft, window="hann", center=True, random_state=seed)  # ((F - 1) * hop,)
    # frame f is centred on sample f * hop: the last hop of the clip has no frame centred in it
    n_samples = log_mel.shape[1] * features.hop_length
    return np.pad(audio, (0, max(0, n_samples - len(audio))))[:n_samples].astype(np.float32)


def griffin_lim_resynthesis(audio, rate: int, features: MelFeatures = MelFeatures(), **kwargs) -> np.ndarray:
    """The Griffin-Lim baseline for one clip: its MelFeatures log-mel, inverted (length F * hop)."""
    import torch

    if int(rate) != features.sample_rate:
        raise InputError(f"audio at {rate} Hz: these mel features are defined at {features.sample_rate} Hz")
    mel = features(torch.as_tensor(mono_float(audio)))  # (n_mels, F)
    return griffin_lim_from_mel(mel, features, **kwargs)


# ----------------------------------------------------------------------------- a text-to-speech baseline

ESPEAK_NG = "espeak-ng"
ESPEAK_VOICE = "en-us"
ESPEAK_TIMEOUT_SECONDS = 60


def espeak_ng(text: str, sample_rate: int = JUDGE_SAMPLE_RATE, voice: str = ESPEAK_VOICE) -> np.ndarray:
    """``text`` read aloud by espeak-ng (formant synthesis, its default speed and pitch): float32
    audio (T,) at ``sample_rate`` (espeak-ng writes 22050 Hz; it is resampled). Deterministic: the
    same text gives the same audio. InputError when espeak-ng is not installed, the text is empty, or
    espeak-ng fails."""
    from synth.audio import read_audio

    if not isinstance(text, str) or not text.strip():
        raise InputError("espeak-ng: give some text to read (got an empty text)")
    executable = shutil.which(ESPEAK_NG)
    if executable is None:
        raise InputError(f"{ESPEAK_NG} is not installed (no {ESPEAK_NG} on the PATH); it is the Debian package "
                         f"{ESPEAK_NG}: apt-get install {ESPEAK_NG} (setup.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="espeak-") as folder:
        path = Path(folder) / "speech.wav"
        # the text goes on standard input, so a text starting with "-" is not read as an option
        done = subprocess.run([executable, "-v", voice, "-w", str(path), "--stdin"], input=text.encode("utf-8"),
                              capture_output=True, timeout=ESPEAK_TIMEOUT_SECONDS)
        if done.returncode != 0 or not path.is_file():
            raise InputError(f"{ESPEAK_NG} -v {voice} failed (exit {done.returncode}): "
                             f"{done.stderr.decode('utf-8', 'replace').strip()[:300]}")
        audio, _ = read_audio(path, sample_rate)
    return audio

