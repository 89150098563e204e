"""Held-out measures of audio models, in one place.

Likelihoods are in bits per sample over the same 256 mu-law classes the WaveNets predict, so the
model and its baselines are measured on the same alphabet and the same held-out audio:

- ``mu_law_marginal_bits``: the cross-entropy of the held-out classes under the training
  classes' histogram (a model that knows the level distribution and nothing of time);
- ``linear_prediction_bits``: a p-th order linear predictor fitted by least squares on the
  training audio (on mu-law-quantised pasts, as the WaveNet sees them), its residual a Laplace
  density whose mass over each class's interval gives the class probability (classic LPC coding);
- ``wavenet_bits``: the WaveNet's own teacher-forced NLL over whole held-out clips.

Vocoder resynthesis is compared with the original by a multi-resolution STFT distance (auraloss),
mel-cepstral distortion (time-aligned: no DTW is needed for resynthesis), and PESQ /
STOI (wide-band, from the ``pesq`` and ``pystoi`` packages) where they are installed.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from synth.audio import mu_law_decode, mu_law_encode
from synth.models.wavenet_loss import sample_nll

LN2 = math.log(2.0)


def mu_law_edges(n_classes: int = 256) -> torch.Tensor:
    """Linear-amplitude edges (n_classes + 1,) of the classes of ``mu_law_encode``: class c holds
    the x whose companded value lies within half a step of c (the outer edges are +-infinity)."""
    mu = n_classes - 1
    y = (torch.arange(n_classes + 1, dtype=torch.float64) - 0.5) * 2 / mu - 1  # companded edges
    x = torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu
    x[0], x[-1] = -math.inf, math.inf
    return x


def mu_law_marginal_bits(train: list[torch.Tensor], test: list[torch.Tensor], n_classes: int = 256) -> float:
    counts = torch.ones(n_classes, dtype=torch.float64)  # add-one smoothing
    for clip in train:
        counts += torch.bincount(mu_law_encode(clip, n_classes).reshape(-1), minlength=n_classes).double()
    log_p = torch.log2(counts / counts.sum())
    total, n = 0.0, 0
    for clip in test:
        classes = mu_law_encode(clip, n_classes).reshape(-1)
        total -= float(log_p[classes].sum())
        n += classes.numel()
    return total / n


def _lagged(quantised: torch.Tensor, order: int) -> torch.Tensor:
    """x (T,) -> (T, order): row t holds x[t-1], ..., x[t-order] (zeros before the start)."""
    padded = torch.nn.functional.pad(quantised, (order, 0))
    return torch.stack([padded[order - k:len(padded) - k] for k in range(1, order + 1)], dim=1)


def linear_prediction_bits(train: list[torch.Tensor], test: list[torch.Tensor], order: int = 16,
                           n_classes: int = 256, max_train_samples: int = 2_000_000) -> float:
    pasts, targets, used = [], [], 0
    for clip in train:
        clip = clip.double()[: max_train_samples - used]
        if used >= max_train_samples or len(clip) == 0:
            break
        quantised = mu_law_decode(mu_law_encode(clip, n_classes), n_classes).double()
        pasts.append(_lagged(quantised, order))
        targets.append(clip)
        used += len(clip)
    X, y = torch.cat(pasts), torch.cat(targets)
    coefficients = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)  # (order,)
    scale = max(float((y - X @ coefficients).abs().mean()), 1e-6)  # Laplace b (maximum likelihood)
    edges = mu_law_edges(n_classes)
    total, n = 0.0, 0
    for clip in test:
        clip = clip.double()
        classes = mu_law_encode(clip, n_classes).reshape(-1)
        quantised = mu_law_decode(classes, n_classes).double()
        mean = _lagged(quantised, order) @ coefficients
        lower, upper = edges[classes] - mean, edges[classes + 1] - mean

        def laplace_cdf(z: torch.Tensor) -> torch.Tensor:
            return torch.where(z < 0, 0.5 * torch.exp(z / scale), 1 - 0.5 * torch.exp(-z / scale))

        mass = (laplace_cdf(upper) - laplace_cdf(lower)).clamp_min(1e-12)
        total -= float(torch.log2(mass).sum())
        n += len(clip)
    return total / n


@torch.no_grad()
def wavenet_bits(model, clips: list[dict], chunk_samples: int = 64_000) -> float:
    """Teacher-forced NLL in bits per sample over whole clips {"audio" (T,), "speaker", "frames" (C, F)}.

    Long clips are cut into chunks that each start with the receptive field of the previous audio
    (and the conditioning frames before them), so the numbers equal one pass over the whole clip.
    """
    config = model.config
    context = config.receptive_field
    hop = config.hop_length
    total, n = 0.0, 0
    for clip in clips:
        targets = model.encode(clip["audio"].reshape(1, -1))  # (1, T)
        speaker = torch.tensor([clip["speaker"]]) if config.n_speakers else None
        T = targets.shape[1]
        for start in range(0, T, chunk_samples):
            # begin on a frame boundary at least a receptive field earlier, so every scored sample
            # sees exactly the past it would in one pass (the upsampler's context is frames too)
            begin = max(0, start - context)
            if config.cond_channels:
                context_frames = model.upsampler.context_frames
                begin = max(0, (begin // hop - context_frames) * hop)
            end = min(T, start + chunk_samples)
            piece = targets[:, begin:end]
            inputs = model.shift_inputs(piece)
            if begin > 0:
                inputs[:, 0] = targets[:, begin - 1]
            frames = None
            if config.cond_channels:
                # and the look-ahead frames after the chunk where the clip has them (else ``forward`` pads)
                frames = clip["frames"][:, begin // hop:(end + hop - 1) // hop + config.cond_lookahead].unsqueeze(0)
                short = (end - begin + hop - 1) // hop - frames.shape[-1]
                frames = torch.nn.functional.pad(frames, (0, max(0, short)))
            params = model(inputs, speaker=speaker, frames=frames)[:, start - begin:]  # (1, t, out)
            scored = piece[:, start - begin:]
            total += float(sample_nll(model, params, scored).sum())
            n += scored.numel()
    return total / n / LN2


def multi_resolution_stft_distance(reference: np.ndarray, estimate: np.ndarray) -> float:
    """auraloss's multi-resolution STFT loss (spectral convergence + log-magnitude L1 at FFT sizes
    1024, 2048, 512): 0 for identical audio."""
    import auraloss

    loss = auraloss.freq.MultiResolutionSTFTLoss()
    a = torch.as_tensor(estimate, dtype=torch.float32).reshape(1, 1, -1)
    b = torch.as_tensor(reference, dtype=torch.float32).reshape(1, 1, -1)
    n = min(a.shape[-1], b.shape[-1])
    return float(loss(a[..., :n], b[..., :n]))


def mel_cepstral_distortion(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, n_coefficients: int = 24) -> float:
    """MCD in dB over time-aligned frames: (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)^2), d = 1..24,
    with c the mel cepstrum (orthonormal DCT of the natural-log 80-band mel amplitude spectrum, c0
    excluded), averaged over the reference's speech frames (those within 40 dB of its loudest:
    cepstra of near-silence measure only the noise floor). Resynthesis is time-aligned: no DTW."""
    import librosa
    import scipy.fft

    n = min(len(reference), len(estimate))

    def mel(y: np.ndarray) -> np.ndarray:
        return librosa.feature.melspectrogram(y=np.asarray(y[:n], dtype=np.float32), sr=sample_rate, n_fft=1024,
                                              hop_length=256, n_mels=80, power=1.0)  # (80, frames)

    def cepstra(m: np.ndarray) -> np.ndarray:
        return scipy.fft.dct(np.log(np.maximum(m, 1e-5)), type=2, norm="ortho", axis=0)[1:n_coefficients + 1]

    ref_mel, est_mel = mel(reference), mel(estimate)
    energy_db = 10 * np.log10(np.maximum((ref_mel ** 2).sum(axis=0), 1e-20))
    speech = energy_db > energy_db.max() - 40.0
    difference = cepstra(ref_mel)[:, speech] - cepstra(est_mel)[:, speech]  # (24, speech frames)
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(difference ** 2, axis=0))))


def pesq_stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Wide-band PESQ and STOI where the packages are installed (empty dict otherwise)."""
    n = min(len(reference), len(estimate))
    ref, est = np.asarray(reference[:n], dtype=np.float64), np.asarray(estimate[:n], dtype=np.float64)
    scores = {}
    try:
        from pesq import pesq

        scores["pesq_wb"] = float(pesq(sample_rate, ref, est, "wb"))
    except Exception:  # not installed, or a clip PESQ cannot score (too short, silent)
        pass
    try:
        from pystoi import stoi

        scores["stoi"] = float(stoi(ref, est, sample_rate, extended=False))
    except Exception:
        pass
    return scores
