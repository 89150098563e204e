"""The cached queues of WaveNet generation (Paine et al. 2016, "Fast Wavenet"): every layer's
queue lives in one packed ring tensor, so the reference step, the fused CPU kernel and the CUDA
graphs share one layout."""
from __future__ import annotations

import itertools

import torch

from synth.sampling.engine import State


def ring_offsets(config) -> list[int]:
    """Where each layer's queue starts in the packed ring tensor (and, last, its total length):
    a layer of dilation d keeps its last (k - 1) d inputs."""
    return [0] + list(itertools.accumulate((config.kernel_size - 1) * d for d in config.dilations))


def ring_views(state: State) -> list[torch.Tensor]:
    """Each layer's queue (B, (k - 1) d, R) as a view into the packed ring tensor. Entry
    i of a layer's queue holds its input at the latest time t' < t with t' = i mod (k - 1) d."""
    o = state["ring_offsets"]
    return [state["rings"][:, o[i]:o[i + 1]] for i in range(len(o) - 1)]
