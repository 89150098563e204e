"""The WaveNet's convolutions over time: the dilated causal conv of its layers, and the upsampler
that turns frame-rate conditioning (mels, piano rolls) into sample-rate features."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class DilatedCausalConv(nn.Conv1d):
    """Conv1d whose output at t sees inputs t, t - d, ..., t - (k - 1) d only."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, **kwargs)
        self.left_padding = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_padding, 0)))  # (B, C_out, T)

    def step_matrix(self) -> torch.Tensor:
        """The weight as a (C_in * k, C_out) matrix (a view): the convolution at one step is one
        product of the flattened taps (B, C_in * k), oldest tap first per channel, with it."""
        return self.weight.flatten(1).t()


class ConditionUpsampler(nn.Module):
    """Frame-rate features (B, C, F) -> sample-rate features (B, H, F * hop).

    A causal conv over frames, then per scale a nearest-neighbour stretch and a causal depthwise
    smoothing conv (initialised to a moving average). Everything is causal in frames, so features
    that arrive in chunks give exactly what they give all at once (see ``context_frames``).
    """

    def __init__(self, config):  # a synth.models.wavenet.WaveNetConfig
        super().__init__()
        hidden = config.cond_hidden_channels
        self.frame_conv = DilatedCausalConv(config.cond_channels, hidden, config.cond_frame_kernel)
        self.scales = config.upsample_scales
        self.smoothers = nn.ModuleList()
        for scale in self.scales:
            smoother = DilatedCausalConv(hidden, hidden, 2 * scale, groups=hidden, bias=False)
            nn.init.constant_(smoother.weight, 1.0 / (2 * scale))
            self.smoothers.append(smoother)

    @property
    def context_frames(self) -> int:
        """Earlier frames that one frame's upsampled output depends on."""
        context, rate = self.frame_conv.left_padding, 1
        for smoother, scale in zip(self.smoothers, self.scales):
            rate *= scale
            context += math.ceil(smoother.left_padding / rate)
        return context

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.frame_conv(frames), 0.4)  # (B, H, F)
        for scale, smoother in zip(self.scales, self.smoothers):
            x = smoother(x.repeat_interleave(scale, dim=-1))  # (B, H, T * scale)
        return x
