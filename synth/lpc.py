"""Linear prediction from a log-mel spectrogram, for vocoders that model the excitation of an
all-pole synthesis filter instead of the waveform (ExcitNet: Song et al. 2019; LPCNet: Valin and
Skoglund 2019).

The spectral envelope of each frame is read off the same 80-band log-mel the vocoder is
conditioned on (pseudo-inverse of the mel filterbank -> power spectrum -> autocorrelation ->
Levinson-Durbin), so nothing but the mel is needed at synthesis time. The network then only has
to produce the excitation e (pitch pulses and noise, spectrally flat), and the filter 1 / A(z)
puts the formants back; its quantisation noise is shaped like the speech spectrum, which hides it
(the reason LPCNet gives). Pre-emphasis x'_t = x_t - alpha x_{t-1} before analysis and
de-emphasis after synthesis flatten the spectral tilt further.

Conventions: A(z) = 1 + sum_k a_k z^-k; the prediction of x'_t is -sum_k a_k x'_{t-k}; the
excitation is e_t = x'_t + sum_k a_k x'_{t-k}; sample t uses the coefficients of frame t // hop
(the frame that summarises it, see :class:`synth.audio.MelFeatures`).
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch

from synth.audio import MelFeatures
from synth.errors import InputError


@dataclasses.dataclass(frozen=True)
class LinearPrediction:
    """How excitation is made from speech and speech from excitation; stored in the vocoder's
    config (``lpc_order``, ``pre_emphasis``), so training and synthesis always agree."""

    order: int = 16             # 0 = no prediction (pre-emphasis only)
    pre_emphasis: float = 0.85  # LPCNet's value
    lag_window_hz: float = 50.0  # Gaussian lag window: widens the formant peaks a little (stability)
    white_noise: float = 1e-4   # r[0] *= 1 + white_noise: a -40 dB noise floor, keeps A(z) minimum phase

    def __post_init__(self):
        if not (isinstance(self.order, int) and 0 <= self.order <= 64):
            raise InputError(f"LPC order must be a whole number from 0 to 64, got {self.order!r}")
        if not 0.0 <= self.pre_emphasis < 1.0:
            raise InputError(f"pre-emphasis must be from 0 to below 1, got {self.pre_emphasis!r}")

    # ----- analysis: the envelope of each frame --------------------------------------------

    def coefficients(self, log_mel: torch.Tensor, mel: MelFeatures) -> torch.Tensor:
        """Log-mel frames (..., n_mels, F) -> LPC coefficients a_1..a_p (..., F, order), float32."""
        if self.order == 0:
            return log_mel.new_zeros(*log_mel.shape[:-2], log_mel.shape[-1], 0)
        inverse, emphasis, lag = _analysis_matrices(mel, self.pre_emphasis, self.order, self.lag_window_hz)
        magnitude = torch.exp(log_mel.double()).transpose(-1, -2)  # (..., F, n_mels)
        spectrum = (magnitude @ inverse.T).clamp(min=mel.log_floor)  # (..., F, n_freqs)
        power = spectrum.square() * emphasis  # pre-emphasised power spectrum
        r = torch.fft.irfft(power, n=mel.n_fft)[..., : self.order + 1] * lag  # (..., F, order + 1)
        r[..., 0] *= 1.0 + self.white_noise
        return levinson_durbin(r, self.order).float()

    # ----- speech -> excitation (training targets) --------------------------------------------

    def excitation(self, waveform: torch.Tensor, coefficients: torch.Tensor, hop_length: int) -> torch.Tensor:
        """Speech (..., T) and coefficients (..., F, order) -> excitation (..., T): the inverse
        filter A(z) applied to the pre-emphasised speech (silence before the first sample)."""
        x = waveform.double()
        emphasised = x - self.pre_emphasis * torch.nn.functional.pad(x, (1, 0))[..., :-1]  # (..., T)
        if self.order == 0:
            return emphasised.to(waveform.dtype)
        a = _per_sample(coefficients.double(), x.shape[-1], hop_length)  # (..., T, order)
        past = torch.nn.functional.pad(emphasised, (self.order, 0)).unfold(-1, self.order, 1)[..., :-1, :]  # (..., T, order)
        # past[..., t, j] = x'_{t - order + j}; a_k multiplies x'_{t - k}, so reverse the taps
        return (emphasised + (past.flip(-1) * a).sum(-1)).to(waveform.dtype)


def levinson_durbin(r: torch.Tensor, order: int) -> torch.Tensor:
    """Autocorrelations (..., order + 1) -> predictor a_1..a_order (..., order) of A(z) minimising
    the prediction error (batched over the leading dimensions)."""
    a = r.new_zeros(*r.shape[:-1], order)
    error = r[..., 0].clone()
    for i in range(order):
        acc = r[..., i + 1] + (a[..., :i] * r[..., 1:i + 1].flip(-1)).sum(-1)
        k = -acc / error  # reflection coefficient, |k| < 1 for a positive-definite r
        a_prev = a[..., :i].clone()
        a[..., :i] = a_prev + k.unsqueeze(-1) * a_prev.flip(-1)
        a[..., i] = k
        error = error * (1.0 - k * k)
    return a


@functools.lru_cache(maxsize=8)
def _analysis_matrices(mel: MelFeatures, pre_emphasis: float, order: int, lag_window_hz: float):
    n_freqs = mel.n_fft // 2 + 1
    bank = mel.filterbank()  # (n_freqs, n_mels): mel = bank.T @ spectrum
    inverse = torch.linalg.pinv(bank.T)  # (n_freqs, n_mels)
    omega = torch.linspace(0, math.pi, n_freqs, dtype=torch.float64)
    emphasis = 1.0 + pre_emphasis ** 2 - 2.0 * pre_emphasis * torch.cos(omega)  # |1 - alpha e^-jw|^2
    lags = torch.arange(order + 1, dtype=torch.float64)
    lag = torch.exp(-0.5 * (2 * math.pi * lag_window_hz * lags / mel.sample_rate) ** 2)
    return inverse, emphasis, lag


def _per_sample(coefficients: torch.Tensor, n_samples: int, hop_length: int) -> torch.Tensor:
    """(..., F, order) -> (..., T, order): sample t takes frame t // hop (the last frame past the end)."""
    frame = (torch.arange(n_samples) // hop_length).clamp(max=coefficients.shape[-2] - 1)
    return coefficients[..., frame, :]


class ExcitationSynthesis:
    """Excitation -> speech, streamed: 1 / A(z) per frame, then de-emphasis, with the filters'
    memories carried between chunks, so chunks give exactly what the whole signal gives.

    ``add_frames`` appends each stream's log-mel frames as they arrive; ``__call__`` takes the
    next excitation samples (B, n) and returns the speech samples (B, n) (float32).
    """

    def __init__(self, lpc: LinearPrediction, mel: MelFeatures, batch_size: int):
        self.lpc, self.mel, self.hop = lpc, mel, mel.hop_length
        self.coefficients = np.zeros((batch_size, 0, lpc.order))  # (B, F, order)
        self.past = np.zeros((batch_size, lpc.order))  # x'_{t-order} .. x'_{t-1}, oldest first
        self.last = np.zeros(batch_size)  # the previous de-emphasised output sample
        self.t = 0

    def add_frames(self, log_mel: torch.Tensor) -> None:
        """Log-mel frames (B, n_mels, F_new) (or (n_mels, F_new) for every stream)."""
        if self.lpc.order == 0:
            return
        log_mel = torch.as_tensor(log_mel)
        if log_mel.dim() == 2:
            log_mel = log_mel.unsqueeze(0).expand(self.past.shape[0], -1, -1)
        new = self.lpc.coefficients(log_mel.cpu(), self.mel).double().numpy()
        self.coefficients = np.concatenate([self.coefficients, new], axis=1)

    def __call__(self, excitation: torch.Tensor) -> torch.Tensor:
        from scipy.signal import lfilter

        e = excitation.detach().double().cpu().numpy()  # (B, n)
        emphasised = np.empty_like(e)
        p, start = self.lpc.order, 0
        while start < e.shape[1]:  # one piece per frame: within a frame the filter is fixed
            t = self.t + start
            end = min(e.shape[1], start + self.hop - t % self.hop)
            if p == 0:
                emphasised[:, start:end] = e[:, start:end]
            else:
                frame = t // self.hop
                if frame >= self.coefficients.shape[1]:
                    raise InputError(f"the LPC synthesis filter has {self.coefficients.shape[1]} frames, none yet for "
                                     f"sample {t}: add_frames before synthesis")
                for b in range(e.shape[0]):
                    denominator = np.concatenate([[1.0], self.coefficients[b, frame]])
                    # direct form: the state is the last p outputs, valid whatever the coefficients
                    zi = _all_pole_state(denominator, self.past[b])
                    emphasised[b, start:end], _ = lfilter([1.0], denominator, e[b, start:end], zi=zi)
                self.past = np.concatenate([self.past, emphasised[:, start:end]], axis=1)[:, -p:]
            start = end
        out = np.empty_like(emphasised)
        for b in range(e.shape[0]):
            out[b], _ = lfilter([1.0], [1.0, -self.lpc.pre_emphasis], emphasised[b],
                                zi=[self.lpc.pre_emphasis * self.last[b]])
        if out.shape[1]:
            self.last = out[:, -1].copy()
        self.t += e.shape[1]
        return torch.from_numpy(out).float()


def _all_pole_state(denominator: np.ndarray, past: np.ndarray) -> np.ndarray:
    """scipy's transposed-direct-form state for y = x / A(z) whose last outputs were ``past``
    (oldest first) and whose last inputs were zero-free of feed-forward terms (b = [1])."""
    p = len(denominator) - 1
    y = past[::-1]  # newest first
    # zi[i] = -sum_{k=i+1..p} a_k y_{n-(k-i)} (numerator has no delayed taps)
    return np.array([-np.dot(denominator[i + 1:], y[: p - i]) for i in range(p)])
