"""Audio I/O and features: the one place that reads, writes, quantises and describes audio."""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional as AF
import torchaudio.transforms as AT

from synth.errors import AudioError, InputError

#: Longest audio file the library will read, in seconds (a guard against hostile uploads).
MAX_READ_SECONDS = 30 * 60


def mu_law_encode(waveform: torch.Tensor, n_classes: int = 256) -> torch.Tensor:
    """Float waveform in [-1, 1] -> integer classes in [0, n_classes) (ITU-T G.711 companding)."""
    return AF.mu_law_encoding(waveform.clamp(-1.0, 1.0), n_classes)


def mu_law_decode(classes: torch.Tensor, n_classes: int = 256) -> torch.Tensor:
    """Integer classes in [0, n_classes) -> float waveform in [-1, 1]."""
    return AF.mu_law_decoding(classes, n_classes)


def read_audio(path: str | Path, sample_rate: int | None = None, max_seconds: float = MAX_READ_SECONDS) -> tuple[np.ndarray, int]:
    """Read a sound file as mono float32 in [-1, 1], resampled to ``sample_rate`` when given.

    Raises AudioError naming the file when it is missing, not audio, empty, too long, damaged, or
    holds NaN or infinite samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError for non-audio bytes
        raise AudioError(f"{path}: not a readable audio file (WAV, FLAC, OGG, ...): {exc}") from None
    if info.frames <= 0:
        raise AudioError(f"{path}: the audio file is empty (0 samples)")
    if info.frames / info.samplerate > max_seconds:
        raise AudioError(f"{path}: {info.frames / info.samplerate:.0f} s is longer than the {max_seconds:.0f} s allowed")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path}: audio data is damaged or truncated: {exc}") from None
    if not np.all(np.isfinite(data)):  # float WAV/FLAC can carry NaN or inf, which poison training
        raise AudioError(f"{path}: the audio contains NaN or infinite samples")
    mono = data.mean(axis=1)
    if sample_rate is not None and rate != sample_rate:
        import librosa  # imported here: librosa's import is slow and most callers never resample

        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
        rate = sample_rate
    return mono, rate


def write_audio(path: str | Path, waveform: np.ndarray | torch.Tensor, sample_rate: int) -> Path:
    """Write mono float audio in [-1, 1] as 16-bit PCM WAV (or whatever the suffix names)."""
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().float().cpu().numpy()
    waveform = np.clip(np.asarray(waveform, dtype=np.float32).reshape(-1), -1.0, 1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), waveform, sample_rate, subtype="PCM_16")
    return path


@dataclasses.dataclass(frozen=True)
class MelFeatures:
    """Log-mel spectrogram parameters. Stored in every checkpoint that consumes them, so a
    vocoder and its features can never silently disagree."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    f_min: float = 40.0
    f_max: float = 7600.0
    log_floor: float = 1e-5

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, T) or (T,) float waveform -> (B, n_mels, T // hop_length) log-mel frames.

        Frame f summarises samples [f * hop, (f + 1) * hop): the transform is centred, and the
        trailing frame that would reach past the end is dropped so frames and samples align.
        """
        squeeze = waveform.dim() == 1
        waveform = waveform.reshape(-1, waveform.shape[-1])
        mel = AT.MelSpectrogram(
            sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
            win_length=self.win_length, n_mels=self.n_mels, f_min=self.f_min, f_max=self.f_max,
            power=1.0, norm="slaney", mel_scale="slaney",
        ).to(waveform.device)(waveform)  # (B, n_mels, 1 + T // hop)
        n_frames = waveform.shape[-1] // self.hop_length
        mel = torch.log(torch.clamp(mel[..., :n_frames], min=self.log_floor))
        return mel[0] if squeeze else mel

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.hop_length

    def filterbank(self) -> torch.Tensor:
        """The mel filterbank these features apply, (n_fft // 2 + 1, n_mels) float64: the frames are
        log(bank.T @ |STFT|), for the analyses that invert or compare against them (synth.lpc, synth.envelope)."""
        return _filterbank(self)

    def seconds(self, n_frames: int) -> float:
        return n_frames * self.hop_length / self.sample_rate


@functools.lru_cache(maxsize=8)
def _filterbank(mel: MelFeatures) -> torch.Tensor:
    return AF.melscale_fbanks(mel.n_fft // 2 + 1, mel.f_min, mel.f_max, mel.n_mels, mel.sample_rate, norm="slaney",
                              mel_scale="slaney").double()


def mel_features_of(model) -> MelFeatures:
    """The mel features a vocoder checkpoint was trained on (stored in its metadata); refuses a
    model that does not take mels or whose stored parameters disagree with its own hop and rate."""
    features = getattr(model, "metadata", {}).get("features", {})
    if features.get("kind") != "mel":
        raise InputError(f"this model is not a mel vocoder (its conditioning is {features.get('kind', 'unknown')!r})")
    mel = MelFeatures(**{k: v for k, v in features.items() if k != "kind"})
    if mel.hop_length != model.config.hop_length or mel.sample_rate != model.config.sample_rate:
        raise InputError(f"the checkpoint's mel hop {mel.hop_length} / rate {mel.sample_rate} disagree with the model's "
                         f"{model.config.hop_length} / {model.config.sample_rate}")
    return mel


#: A dark-to-bright colour ramp (close to matplotlib's "magma") as (position, R, G, B) anchors.
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
