"""Held-out measures: the baselines and the model's bits per sample against direct computations."""
import math

import numpy as np
import torch

from synth.audio import mu_law_decode, mu_law_encode
from synth.evaluation import (linear_prediction_bits, mel_cepstral_distortion, mu_law_edges, mu_law_marginal_bits,
                              multi_resolution_stft_distance, pesq_stoi, wavenet_bits)
from synth.models.wavenet_loss import wavenet_loss

from conftest import tiny_wavenet


def ar2(n: int, seed: int) -> torch.Tensor:
    """A resonant second-order autoregressive process (a crude vowel formant)."""
    g = np.random.default_rng(seed)
    x, e = np.zeros(n), g.laplace(0, 0.01, n)
    for t in range(2, n):
        x[t] = 1.6 * x[t - 1] - 0.8 * x[t - 2] + e[t]
    return torch.tensor(x / (np.abs(x).max() * 1.1), dtype=torch.float32)


def test_mu_law_edges_bound_exactly_the_values_of_each_class():
    edges = mu_law_edges(256)
    centres = mu_law_decode(torch.arange(256), 256).double()
    assert torch.all(edges[:-1] < centres) and torch.all(centres < edges[1:])
    inner, width = edges[1:-1], edges[2:-1] - edges[1:-2]
    just_above = torch.cat([inner[:-1] + 0.01 * width, inner[-1:] + 1e-4])
    just_below = torch.cat([inner[:1] - 1e-4, inner[1:] - 0.01 * width])
    assert torch.equal(mu_law_encode(just_above.float(), 256), torch.arange(1, 256))
    assert torch.equal(mu_law_encode(just_below.float(), 256), torch.arange(0, 255))


def test_marginal_entropy_matches_a_hand_computed_histogram():
    train = [torch.tensor([0.0, 0.0, 0.5])]
    test = [torch.tensor([0.0, 0.5])]
    counts = torch.ones(256, dtype=torch.float64)
    for c in mu_law_encode(train[0], 256):
        counts[c] += 1
    p = counts / counts.sum()
    expected = -(math.log2(p[mu_law_encode(torch.tensor(0.0), 256)]) + math.log2(p[mu_law_encode(torch.tensor(0.5), 256)])) / 2
    assert math.isclose(mu_law_marginal_bits(train, test), expected, rel_tol=1e-9)


def test_linear_prediction_beats_the_marginal_on_a_predictable_signal():
    train, test = [ar2(40_000, 0)], [ar2(8_000, 1)]
    lpc, marginal = linear_prediction_bits(train, test, order=8), mu_law_marginal_bits(train, test)
    assert lpc < marginal - 1.0


def test_linear_prediction_probabilities_sum_to_one_over_the_classes():
    # the class masses of a Laplace predictive density over all 256 intervals add up to 1
    edges = mu_law_edges(256)
    scale, mean = 0.02, 0.013
    cdf = lambda z: torch.where(z < 0, 0.5 * torch.exp(z / scale), 1 - 0.5 * torch.exp(-z / scale))
    assert math.isclose(float((cdf(edges[1:] - mean) - cdf(edges[:-1] - mean)).sum()), 1.0, rel_tol=1e-12)


def test_wavenet_bits_in_chunks_equal_one_teacher_forced_pass():
    model = tiny_wavenet(0, n_speakers=3, cond_channels=5, upsample_scales=(4, 2))
    audio = torch.sin(torch.arange(3000) * 0.05) * 0.5
    frames = torch.randn(5, 3000 // 8 + 1)
    clip = {"audio": audio, "speaker": 2, "frames": frames}
    whole = wavenet_loss(model, model.encode(audio.unsqueeze(0)), speaker=torch.tensor([2]),
                         frames=frames.unsqueeze(0)).item() / math.log(2)
    assert math.isclose(wavenet_bits(model, [clip], chunk_samples=700), whole, rel_tol=1e-5)


def test_vocoder_distances_are_zero_for_identical_audio_and_grow_with_noise():
    g = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    speechlike = (np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) * 0.3).astype(np.float32)
    noisy = speechlike + 0.05 * g.standard_normal(len(t)).astype(np.float32)
    assert multi_resolution_stft_distance(speechlike, speechlike) < 1e-4
    assert mel_cepstral_distortion(speechlike, speechlike, 16000) < 1e-3
    assert multi_resolution_stft_distance(speechlike, noisy) > 0.1
    assert mel_cepstral_distortion(speechlike, noisy, 16000) > 1.0
    scores = pesq_stoi(speechlike, noisy, 16000)
    assert set(scores) <= {"pesq_wb", "stoi"} and all(math.isfinite(v) for v in scores.values())
