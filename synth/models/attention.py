"""Graves's soft Gaussian window (Graves 2013, "Generating Sequences With Recurrent Neural
Networks", section 5, eq. 46-51): the one attention module that both the handwriting synthesis
network and the text-to-speech network read their text with. Char2Wav (Sotelo et al. 2017) read
text for speech the same way; Battenberg et al. (2020) found this GMM attention among the most
robust aligners for long utterances, since its location can only move forward.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from synth.errors import InputError


def texts_per_stream(text: str | list[str] | None, batch_size: int, reader: str) -> list[str]:
    """The text each of ``batch_size`` streams reads: one string for all, or one per stream;
    ``reader`` names the model in the error (e.g. "the synthesis network needs text to write")."""
    if text is None:
        raise InputError(f"{reader} needs text")
    texts = [text] * batch_size if isinstance(text, str) else list(text)
    if len(texts) != batch_size:
        raise InputError(f"{len(texts)} texts for {batch_size} streams")
    return texts


class GaussianWindow(nn.Module):
    """Soft window over the characters (Graves 2013, eq. 46-51): K Gaussians with importance alpha,
    width beta and location kappa, where kappa only moves forward."""

    def __init__(self, hidden_size: int, n_window: int, points_per_char: float):
        super().__init__()
        self.linear = nn.Linear(hidden_size, 3 * n_window)
        with torch.no_grad():
            # Start the window moving at the corpus's mean speed (one character per points_per_char steps).
            self.linear.bias[2 * n_window:].fill_(-math.log(points_per_char))

    def forward(self, h: torch.Tensor, kappa: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor,
                u: torch.Tensor | None = None):
        """h (B, H), kappa (B, K), memory (B, U, V): what is read at each character (one-hot
        characters for handwriting, encoded characters for speech), memory_mask (B, U), u the
        character positions 0 .. U, (U + 1,) or (B, 1, U + 1) (made when not given) -> window
        w (B, V), new kappa (B, K), phi (B, U + 1): the last column of phi is one past the text."""
        # eq. 48-50: alpha = exp(alpha_hat), beta = exp(beta_hat), and the step of kappa = exp(kappa_hat).
        alpha, beta, kappa_step = self.linear(h).exp().unsqueeze(-1).chunk(3, dim=1)  # (B, K, 1) each
        kappa = kappa + kappa_step[..., 0]  # eq. 51
        if u is None:
            u = torch.arange(memory.shape[1] + 1, device=h.device, dtype=h.dtype)  # (U + 1,)
        phi = (alpha * torch.exp(-beta * (kappa.unsqueeze(-1) - u) ** 2)).sum(1)  # eq. 46, (B, U + 1)
        w = torch.bmm((phi[:, :-1] * memory_mask).unsqueeze(1), memory).squeeze(1)  # eq. 47, (B, V)
        return w, kappa, phi
