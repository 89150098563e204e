"""A piano roll's held keys as a sample-rate source signal for a WaveNet (``key_harmonics``): sines
at each held key's harmonics, as neural source-filter models give theirs (Wang, Takaki and
Yamagishi 2019). The keyboard is defined here once (``synth.music.pianoroll`` reads it): column k
of a roll is MIDI key 21 + k, 88 keys."""
from __future__ import annotations

import math

import numpy as np
import torch

from synth.errors import InputError

N_KEYS = 88
LOWEST_KEY = 21  # A0


def key_frequency(key: int | np.ndarray) -> np.ndarray:
    """Equal-tempered fundamental (Hz, A4 = 440) of roll column ``key`` (MIDI key 21 + key)."""
    return 440.0 * 2.0 ** ((np.asarray(key, dtype=np.float64) + LOWEST_KEY - 69) / 12.0)


def key_sinusoids(held, first_sample: int, n_samples: int, *, harmonics: int,
                  hop_length: int, sample_rate: int):
    """The held keys as a sample-rate source signal: the piano WaveNet is told each sounding note's
    period instead of having to keep it (free-running, it drifts to half the frequency: an octave below).

    held: a torch tensor (B, 88, F), the roll's held-key columns (velocity / 127), whose frame j
    covers samples first_sample + j * hop ... (first_sample a multiple of the hop, F * hop >=
    n_samples). Returns (B, 2 * harmonics, n_samples) float32: for h = 1 .. harmonics, the sum over
    held keys k of a_k sin(2 pi h f_k t / sample_rate), then the same with cos, divided by
    sqrt(max(1, keys held)), where t is the absolute sample index (so streamed chunks join without
    a break in phase); harmonics at or above the Nyquist frequency are left out.
    """
    B, K, F = held.shape
    if K != N_KEYS or first_sample % hop_length or F * hop_length < n_samples or harmonics < 1:
        raise InputError(f"key_sinusoids needs ({N_KEYS} keys, frames covering {n_samples} samples) from a frame "
                         f"boundary and harmonics >= 1; got {tuple(held.shape)}, first sample {first_sample}, "
                         f"{harmonics} harmonics")
    out = torch.zeros(B, 2 * harmonics, n_samples, dtype=torch.float32, device=held.device)
    frames = -(-n_samples // hop_length)
    held = held[..., :frames].float()
    keys = torch.nonzero((held > 0).any(dim=2).any(dim=0)).flatten().tolist()
    if not keys or n_samples == 0:
        return out
    count = (held > 0).sum(dim=1, keepdim=True).clamp(min=1).float()  # (B, 1, F)
    amplitude = (held[:, keys] / count.sqrt()).repeat_interleave(hop_length, dim=-1)[..., :n_samples]  # (B, k, n)
    t = torch.arange(first_sample, first_sample + n_samples, dtype=torch.float64, device=held.device)
    frequency = torch.as_tensor(key_frequency(np.asarray(keys)), device=held.device)  # (k,)
    for h in range(1, harmonics + 1):
        audible = (h * frequency < sample_rate / 2).to(torch.float32)  # (k,)
        cycles = torch.outer(h * frequency / sample_rate, t)  # (k, n) float64
        angle = (2 * math.pi * (cycles - torch.floor(cycles))).to(torch.float32)
        weights = amplitude * audible[:, None]  # (B, k, n)
        out[:, 2 * (h - 1)] = (weights * torch.sin(angle)).sum(1)
        out[:, 2 * (h - 1) + 1] = (weights * torch.cos(angle)).sum(1)
    return out
