"""Mel-envelope correction: a vocoder's output brought to the band energies of the mel it was asked
to play.

A WaveNet vocoder makes the fine structure of speech well (pitch pulses, noise, phase) but lets the
energy of each mel band wander about the mel it is conditioned on (about 0.6-0.9 nats per band and
frame on held-out clips, against 0.2-0.6 for Griffin-Lim). Here the generated audio's short-time
spectrum is rescaled, frame by frame, so that its mel band magnitudes match the conditioning mel's:
the gain of each band is target / generated (raised to ``strength``, limited to ``limit`` either
way), spread over the FFT bins under the band's triangle (geometric interpolation between band
centres), applied to the complex spectrum (the WaveNet's phase is kept) and overlap-added back with
the same Hann window as the mel (weighted overlap-add, exactly ``torch.istft``'s inverse). Only the
mel the vocoder was given is used, so it runs wherever the vocoder runs, streamed: a sample is final
once every frame over it has been corrected, half a window (``n_fft / 2`` samples, 32 ms at 16 kHz)
after it was generated.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import torch

from synth.audio import MelFeatures
from synth.errors import InputError


@dataclasses.dataclass(frozen=True)
class MelEnvelope:
    """How far the band energies are pulled to the mel: ``strength`` 1 all the way, 0 not at all;
    no band's gain beyond ``limit`` times up or down."""

    strength: float = 1.0
    limit: float = 4.0
    passes: int = 1  # corrections in a row (each the generated audio's spectrum again; half a window more delay each)

    def __post_init__(self):
        if not (isinstance(self.strength, (int, float)) and 0.0 <= self.strength <= 1.0):
            raise InputError(f"envelope strength must be from 0 to 1, got {self.strength!r}")
        if not (isinstance(self.limit, (int, float)) and 1.0 <= self.limit <= 100.0):
            raise InputError(f"envelope gain limit must be from 1 to 100, got {self.limit!r}")
        if not (isinstance(self.passes, int) and 1 <= self.passes <= 4):
            raise InputError(f"envelope passes must be a whole number from 1 to 4, got {self.passes!r}")

    @classmethod
    def from_metadata(cls, entry) -> "MelEnvelope | None":
        """The setting a checkpoint's metadata holds (``{"strength": s, "limit": l, "passes": p}``, passes
        optional), or None."""
        if not entry:
            return None
        try:
            return cls(strength=float(entry["strength"]), limit=float(entry["limit"]), passes=int(entry.get("passes", 1)))
        except (TypeError, KeyError, ValueError) as error:
            raise InputError(f"a checkpoint's envelope setting must be {{'strength': s, 'limit': l}}, got {entry!r} "
                             f"({error})") from None


@functools.lru_cache(maxsize=8)
def _bands(mel: MelFeatures) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The mel filterbank (n_freqs, n_mels) as the features use it, its triangles with peak 1, and
    each bin's total triangle weight (0 outside f_min..f_max)."""
    bank = mel.filterbank()
    shape = bank / bank.max(0).values.clamp(min=1e-30)
    return bank, shape, shape.sum(1)


def band_gains(spectrum: torch.Tensor, log_mel: torch.Tensor, mel: MelFeatures, setting: MelEnvelope) -> torch.Tensor:
    """Complex spectra (..., n_freqs, F) and target log-mel frames (..., n_mels, F) -> the real gain
    (..., n_freqs, F) of each bin that brings the spectra's mel magnitudes to the targets'."""
    bank, shape, cover = _bands(mel)
    generated = (bank.T @ spectrum.abs().double()).clamp(min=mel.log_floor)  # (..., n_mels, F)
    log_gain = (log_mel.double().clamp(min=math.log(mel.log_floor)) - generated.log()) * setting.strength
    limit = math.log(setting.limit)
    log_gain = log_gain.clamp(-limit, limit)
    spread = (shape @ log_gain) / cover.clamp(min=1e-9)[:, None]  # (..., n_freqs, F)
    return torch.exp(torch.where(cover[:, None] > 1e-6, spread, torch.zeros_like(spread)))


def correct_envelope(audio: torch.Tensor, log_mel: torch.Tensor, mel: MelFeatures, setting: MelEnvelope) -> torch.Tensor:
    """The whole signal at once (the reference the streamed ``EnvelopeCorrection`` is tested against):
    audio (..., T) and its conditioning log-mel (..., n_mels, F >= 1) -> corrected audio (..., T),
    float32. STFT frame f takes mel frame f's gains (the last mel frame's past the end). Signals of
    at most n_fft / 2 samples are returned as they are (too short to reflect at the edges)."""
    for _ in range(setting.passes - 1):
        audio = correct_envelope(audio, log_mel, mel, dataclasses.replace(setting, passes=1))
    x = audio.double()
    if x.shape[-1] <= mel.n_fft // 2:
        return audio.float()
    window = torch.hann_window(mel.win_length, dtype=torch.float64)
    flat = x.reshape(-1, x.shape[-1])
    spectrum = torch.stft(flat, mel.n_fft, mel.hop_length, mel.win_length, window, center=True, return_complex=True)
    frames = log_mel.reshape(-1, *log_mel.shape[-2:]).expand(flat.shape[0], -1, -1)
    index = torch.arange(spectrum.shape[-1]).clamp(max=frames.shape[-1] - 1)
    gains = band_gains(spectrum, frames[..., index], mel, setting)
    out = torch.istft(spectrum * gains, mel.n_fft, mel.hop_length, mel.win_length, window, center=True,
                      length=flat.shape[-1])
    return out.reshape(x.shape).float()


class EnvelopeCorrection:
    """``correct_envelope``, streamed: ``add_frames`` appends each stream's log-mel frames as they
    arrive, ``__call__`` takes the next samples (B, n) and returns the samples that are final (B, m),
    half a window behind; ``finish`` returns the rest once the signal has ended. Together they give
    exactly what ``correct_envelope`` gives for the whole signal, holding only the last window or so
    of samples (positions below are of the signal padded by half a window at the start, as
    ``torch.stft`` pads it)."""

    def __init__(self, mel: MelFeatures, setting: MelEnvelope, batch_size: int):
        if mel.win_length != mel.n_fft:
            raise InputError("envelope correction needs win_length == n_fft")
        self.mel, self.setting, self.hop, self.half = mel, setting, mel.hop_length, mel.n_fft // 2
        self.window = torch.hann_window(mel.n_fft, dtype=torch.float64)
        self.frames = torch.zeros(batch_size, mel.n_mels, 0, dtype=torch.float64)
        self.x = torch.zeros(batch_size, 0, dtype=torch.float64)  # input samples x_offset .. n - 1
        self.x_offset = 0
        self.n = 0  # input samples so far
        self.sums = torch.zeros(batch_size, 0, dtype=torch.float64)  # overlap-added frames from sums_offset
        self.weights = torch.zeros(0, dtype=torch.float64)  # overlap-added squared windows, the same positions
        self.sums_offset = 0
        self.done = 0  # frames corrected
        self.emitted = 0  # samples returned
        # further passes correct what this one returns, as it comes
        self.after = EnvelopeCorrection(mel, dataclasses.replace(setting, passes=setting.passes - 1), batch_size) \
            if setting.passes > 1 else None

    def add_frames(self, log_mel: torch.Tensor) -> None:
        """Log-mel frames (B, n_mels, F_new) (or (n_mels, F_new) for every stream)."""
        log_mel = torch.as_tensor(log_mel).double().cpu()
        if log_mel.dim() == 2:
            log_mel = log_mel.unsqueeze(0).expand(self.x.shape[0], -1, -1)
        self.frames = torch.cat([self.frames, log_mel], dim=-1)
        if self.after is not None:
            self.after.add_frames(log_mel)

    def _correct_frames(self, last: int, end_known: bool) -> None:
        """Frames done .. last - 1 into the overlap-add sums."""
        if last <= self.done:
            return
        if self.frames.shape[-1] == 0:
            raise InputError("envelope correction has no mel frames yet: add_frames before the audio")
        n_fft, hop = self.mel.n_fft, self.hop
        first_p, end_p = self.done * hop, (last - 1) * hop + n_fft  # padded positions the frames cover
        s = torch.arange(first_p, end_p) - self.half  # signal positions, reflected at both ends
        s = s.abs()
        if end_known:
            s = torch.where(s >= self.n, 2 * (self.n - 1) - s, s)
        span = self.x[:, s - self.x_offset]  # (B, end_p - first_p)
        segments = span.unfold(-1, n_fft, hop) * self.window  # (B, frames, n_fft)
        spectrum = torch.fft.rfft(segments, dim=-1).transpose(-1, -2)  # (B, n_freqs, frames)
        f = torch.arange(self.done, last)
        target = self.frames[..., f.clamp(max=self.frames.shape[-1] - 1)]
        corrected = torch.fft.irfft(spectrum * band_gains(spectrum, target, self.mel, self.setting), n=n_fft, dim=-2)
        corrected = corrected.transpose(-1, -2) * self.window  # (B, frames, n_fft)
        grow = end_p - self.sums_offset - self.sums.shape[-1]
        if grow > 0:
            self.sums = torch.nn.functional.pad(self.sums, (0, grow))
            self.weights = torch.nn.functional.pad(self.weights, (0, grow))
        squared = self.window.square()
        for k, frame in enumerate(f.tolist()):
            at = slice(frame * hop - self.sums_offset, frame * hop + n_fft - self.sums_offset)
            self.sums[:, at] += corrected[:, k]
            self.weights[at] += squared
        self.done = last
        keep = max(0, self.done * hop - self.half)  # the next frame's first sample
        self.x, self.x_offset = self.x[:, keep - self.x_offset:], keep

    def _emit(self, upto: int) -> torch.Tensor:
        """Signal samples emitted .. upto - 1 (padded positions half a window on)."""
        begin, end = self.emitted + self.half - self.sums_offset, upto + self.half - self.sums_offset
        out = self.sums[:, begin:end] / self.weights[begin:end].clamp(min=1e-11)
        cut = max(0, min(end, self.done * self.hop - self.sums_offset))  # what no frame to come adds to
        self.sums, self.weights = self.sums[:, cut:], self.weights[cut:]
        self.sums_offset += cut
        self.emitted = upto
        return out.float()

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        out = self._one_pass(audio)
        return out if self.after is None else self.after(out)

    def finish(self) -> torch.Tensor:
        """The samples still held back, once the signal has ended."""
        out = self._finish_pass()
        return out if self.after is None else torch.cat([self.after(out), self.after.finish()], dim=-1)

    def _one_pass(self, audio: torch.Tensor) -> torch.Tensor:
        self.x = torch.cat([self.x, audio.detach().double().cpu()], dim=-1)
        self.n += audio.shape[-1]
        if self.n <= self.half:  # the start's reflection needs sample n_fft / 2
            return self.x.new_zeros(self.x.shape[0], 0).float()
        self._correct_frames((self.n - self.half) // self.hop + 1, end_known=False)  # windows within the signal so far
        return self._emit(max(self.emitted, self.done * self.hop - self.half))

    def _finish_pass(self) -> torch.Tensor:
        if self.n <= self.half:  # too short to correct: as it came
            out = self.x[:, self.emitted - self.x_offset:].float()
            self.emitted = self.n
            return out
        self._correct_frames(self.n // self.hop + 1, end_known=True)
        return self._emit(self.n)
