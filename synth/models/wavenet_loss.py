"""What a WaveNet is trained to do: the negative log-likelihood of the next sample under teacher
forcing, with noise injected into the history it reads (mu-law models) when a recipe asks for it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from synth.errors import InputError
from synth.models.wavenet import WaveNet
from synth.sampling.distributions import DiscretizedLogisticMixture


def input_noise_offsets(generator: torch.Generator, shape: tuple[int, int], max_std: float) -> torch.Tensor:
    """Noise injection (FFTNet, Jin et al. 2018; LPCNet, Valin & Skoglund 2019): whole numbers of mu-law
    classes (B, T) to add to a batch's teacher-forced inputs, Gaussian, rounded, with a standard
    deviation drawn per example uniformly from [0, max_std] (clean to noisy histories)."""
    std = torch.rand(shape[0], 1, generator=generator) * max_std
    return torch.round(torch.randn(shape, generator=generator) * std).long()


def wavenet_loss(model: WaveNet, targets: torch.Tensor, speaker=None, frames=None,
                 input_offsets: torch.Tensor | None = None) -> torch.Tensor:
    """Mean negative log-likelihood per sample (nats) of targets (B, T) under teacher forcing;
    ``input_offsets`` (B, T): mu-law classes added to the history it reads, not to what it predicts."""
    inputs = targets
    if input_offsets is not None:
        if model.config.output != "mulaw":
            raise InputError("input noise is given in mu-law classes: only mu-law models take it")
        inputs = (targets.long() + input_offsets.to(targets.device)).clamp(0, model.config.n_classes - 1)
    params = model(model.shift_inputs(inputs), speaker=speaker, frames=frames)  # (B, T, out)
    return sample_nll(model, params, targets).mean()


def sample_nll(model: WaveNet, params: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The negative log-likelihood (nats) of each target under the network's outputs: params (..., out)
    and targets (...) -> (N,) flattened; mu-law classes or mixture samples, as the model predicts."""
    params = params.reshape(-1, params.shape[-1])
    if model.config.output == "mulaw":
        return F.cross_entropy(params, targets.reshape(-1).long(), reduction="none")
    return -DiscretizedLogisticMixture.from_params(params).log_prob(targets.reshape(-1))


def wavenet_batch_loss(model: WaveNet, batch: dict) -> torch.Tensor:
    """``wavenet_loss`` of a corpus batch {"audio" (B, T) in [-1, 1], "speaker" (B,), "frames" (B, C, F)},
    using the speaker ids and frames only where the model is conditioned on them, and the batch's
    "input_offsets" (noise injection, training batches only) where it has them."""
    return wavenet_loss(model, model.encode(batch["audio"]),
                        speaker=batch["speaker"] if model.config.n_speakers else None,
                        frames=batch.get("frames") if model.config.cond_channels else None,
                        input_offsets=batch.get("input_offsets"))
