"""WaveNet: gated dilated causal convolutions with residual and skip connections
(van den Oord et al. 2016), global and local conditioning, mu-law or mixture-of-logistics output.

The network only: its layers also give their one-step products, and how it is generated (a queue
per layer, the fused CPU kernel, CUDA graphs, and the options of a request) lives in
``synth.models.wavenet_generation``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Literal, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from synth.audio import mu_law_decode, mu_law_encode
from synth.errors import InputError
from synth.models.convolutions import ConditionUpsampler, DilatedCausalConv
from synth.models.key_sines import N_KEYS, key_sinusoids
from synth.sampling.distributions import Categorical, DiscretizedLogisticMixture, Distribution


@dataclasses.dataclass
class WaveNetConfig:
    n_stacks: int = 2
    layers_per_stack: int = 10
    kernel_size: int = 2  # 2 or 3
    residual_channels: int = 64
    gate_channels: int = 128  # the dilated conv's output, split in half for tanh and sigmoid
    skip_channels: int = 256
    dilation_cycle: int = 0  # layers after which the dilation returns to 1; 0 = layers_per_stack
    output: Literal["mulaw", "logistic_mixture"] = "mulaw"
    n_classes: int = 256  # mu-law classes
    n_mixtures: int = 10  # logistic mixture components (16-bit output)
    n_speakers: int = 0  # global conditioning: 0 = none
    speaker_channels: int = 16
    cond_channels: int = 0  # local conditioning features per frame (e.g. 80 mels, 88 keys): 0 = none
    cond_hidden_channels: int = 64
    cond_frame_kernel: int = 3  # context of the frame-level conv, in frames (the last cond_lookahead of them ahead)
    #: Frames of look-ahead: the conditioning of the samples of frame f is what the (causal)
    #: upsampler makes of frames up to f + cond_lookahead. A vocoder sees where the sound is going
    #: (as non-causal conditioning does), at the cost of that many frames of delay when streamed.
    cond_lookahead: int = 0
    #: A piano roll's held keys (its first 88 columns) as sines at harmonics 1 .. key_harmonics beside
    #: the upsampled frames (synth.models.key_sines), so the network is told each note's period.
    key_harmonics: int = 0
    upsample_scales: tuple[int, ...] = ()  # product = samples per conditioning frame
    sample_rate: int = 16000
    #: What the network models (ExcitNet / LPCNet): with lpc_order > 0 the excitation of an
    #: all-pole filter read off the mel frames, with pre_emphasis > 0 the pre-emphasised signal;
    #: generation turns it back into audio (synth.lpc). Both 0: the waveform itself.
    lpc_order: int = 0
    pre_emphasis: float = 0.0

    def __post_init__(self):
        self.upsample_scales = tuple(int(s) for s in self.upsample_scales)
        problems = []
        if self.kernel_size not in (2, 3):
            problems.append(f"kernel_size must be 2 or 3, got {self.kernel_size}")
        if self.output not in ("mulaw", "logistic_mixture"):
            problems.append(f"output must be 'mulaw' or 'logistic_mixture', got {self.output!r}")
        if self.gate_channels % 2:
            problems.append(f"gate_channels must be even (it is split in half), got {self.gate_channels}")
        for name in ("n_stacks", "layers_per_stack", "residual_channels", "gate_channels", "skip_channels"):
            value = getattr(self, name)
            if not 1 <= value <= 4096:
                problems.append(f"{name} must be from 1 to 4096, got {value}")
        if self.n_layers > 256:
            problems.append(f"at most 256 layers are allowed, got {self.n_layers}")
        if not 0 <= self.dilation_cycle <= 30:
            problems.append(f"dilation_cycle must be from 0 to 30, got {self.dilation_cycle}")
        if not 0 <= self.cond_lookahead <= 64:
            problems.append(f"cond_lookahead must be from 0 to 64 frames, got {self.cond_lookahead}")
        if self.cond_lookahead and not self.upsample_scales:
            problems.append("cond_lookahead needs local conditioning (upsample_scales)")
        if not 0 <= self.key_harmonics <= 16:
            problems.append(f"key_harmonics must be from 0 to 16, got {self.key_harmonics}")
        if self.key_harmonics and 0 < self.cond_channels < N_KEYS:  # 0: a recipe's, set from its corpus later
            problems.append(f"key_harmonics needs a piano roll's conditioning (its first 88 columns are the held keys), "
                            f"got {self.cond_channels} conditioning channels")
        if self.cond_channels and not self.upsample_scales:
            problems.append("local conditioning (cond_channels > 0) needs upsample_scales")
        if any(not 1 <= s <= 1024 for s in self.upsample_scales):
            problems.append(f"each upsample scale must be from 1 to 1024, got {self.upsample_scales}")
        if not 2 <= self.n_classes <= 65536 or not 1 <= self.n_mixtures <= 256:
            problems.append("n_classes must be from 2 to 65536 and n_mixtures from 1 to 256")
        if not 0 <= self.lpc_order <= 64 or not 0.0 <= self.pre_emphasis < 1.0:
            problems.append(f"lpc_order must be from 0 to 64 and pre_emphasis from 0 to below 1, got {self.lpc_order} "
                            f"and {self.pre_emphasis}")
        if not 0 <= self.n_speakers <= 100_000 or not 0 <= self.cond_channels <= 4096:
            problems.append("n_speakers must be from 0 to 100000 and cond_channels from 0 to 4096")
        if problems:
            raise InputError("invalid WaveNet config: " + "; ".join(problems))

    @property
    def n_layers(self) -> int:
        return self.n_stacks * self.layers_per_stack

    @property
    def dilations(self) -> list[int]:
        cycle = self.dilation_cycle or self.layers_per_stack
        return [2 ** (i % cycle) for i in range(self.n_layers)]

    @property
    def receptive_field(self) -> int:
        """Samples that one output depends on (the input at the same step included)."""
        return 1 + sum((self.kernel_size - 1) * d for d in self.dilations)

    @property
    def cond_input_channels(self) -> int:
        """Channels of the per-sample conditioning each layer projects: the upsampler's and the sines'."""
        return self.cond_hidden_channels + 2 * self.key_harmonics

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_scales) if self.upsample_scales else 1

    @property
    def models_excitation(self) -> bool:
        """True when the network's samples pass through synth.lpc's synthesis to become audio."""
        return bool(self.lpc_order or self.pre_emphasis)

    @property
    def linear_prediction(self):
        from synth.lpc import LinearPrediction

        return LinearPrediction(order=self.lpc_order, pre_emphasis=self.pre_emphasis)

    @property
    def out_channels(self) -> int:
        return self.n_classes if self.output == "mulaw" else 3 * self.n_mixtures


class ResidualLayer(nn.Module):
    """One gated layer: z = tanh(W_f * x + V_f c) * sigmoid(W_g * x + V_g c) (WaveNet eq. 2-3)."""

    def __init__(self, config: WaveNetConfig, dilation: int):
        super().__init__()
        half = config.gate_channels // 2
        self.dilation = dilation
        self.conv = DilatedCausalConv(config.residual_channels, config.gate_channels, config.kernel_size, dilation)
        self.speaker_proj = nn.Linear(config.speaker_channels, config.gate_channels, bias=False) if config.n_speakers else None
        self.cond_proj = nn.Conv1d(config.cond_input_channels, config.gate_channels, 1, bias=False) if config.cond_channels else None
        # The residual and skip 1x1 convs as one conv (one product per step), split after.
        self.residual_skip = nn.Conv1d(half, config.residual_channels + config.skip_channels, 1)

    @staticmethod
    def gate(h: torch.Tensor, dim: int) -> torch.Tensor:
        filt, gate = h.chunk(2, dim=dim)
        return torch.tanh(filt) * torch.sigmoid(gate)

    def forward(self, x: torch.Tensor, speaker: torch.Tensor | None, cond: torch.Tensor | None):
        """x (B, R, T), speaker (B, S_spk), cond (B, C_hidden, T) -> next x (B, R, T), skip (B, S, T)."""
        h = self.conv(x)  # (B, G, T)
        if self.speaker_proj is not None:
            h = h + self.speaker_proj(speaker).unsqueeze(-1)
        if self.cond_proj is not None:
            h = h + self.cond_proj(cond)
        z = self.gate(h, dim=1)  # (B, G/2, T)
        residual, skip = self.residual_skip(z).split([x.shape[1], self.residual_skip.out_channels - x.shape[1]], dim=1)
        return (x + residual) * math.sqrt(0.5), skip

    def step_matrices(self) -> "StepMatrices":
        """Views of the weights laid out for one-step products; views, so they stay in step with
        the parameters (an optimiser or ``load_state_dict`` updates them in place)."""
        return StepMatrices(
            conv=self.conv.step_matrix(),
            cond=self.cond_proj.weight.squeeze(-1).t() if self.cond_proj is not None else None,
            out=self.residual_skip.weight.squeeze(-1).t(),
            out_bias=self.residual_skip.bias,
        )

    def step_bias(self, speaker: torch.Tensor | None, batch_size: int) -> torch.Tensor:
        """The gate pre-activation's constant part (B, G): conv bias plus global conditioning."""
        bias = self.conv.bias.expand(batch_size, -1)
        return bias + self.speaker_proj(speaker) if self.speaker_proj is not None else bias

    @staticmethod
    def step(taps: torch.Tensor, bias: torch.Tensor, cond: torch.Tensor | None, m: "StepMatrices"):
        """The forward pass at one time step. taps (B, R, k) ending at the current input,
        bias (B, G) from ``step_bias``, cond (B, C_hidden) -> next x (B, R), skip (B, S)."""
        h = torch.addmm(bias, taps.flatten(1), m.conv)  # (B, G)
        if cond is not None:
            h = torch.addmm(h, cond, m.cond)
        z = ResidualLayer.gate(h, dim=-1)  # (B, G/2)
        x = taps[..., -1]
        residual, skip = torch.addmm(m.out_bias, z, m.out).split([x.shape[1], m.out.shape[1] - x.shape[1]], dim=1)
        return (x + residual) * math.sqrt(0.5), skip


class StepMatrices(NamedTuple):
    conv: torch.Tensor  # (R * k, G)
    cond: torch.Tensor | None  # (C_hidden, G)
    out: torch.Tensor  # (G / 2, R + S)
    out_bias: torch.Tensor  # (R + S,)


def _moved_to_generation_options() -> property:
    def refuse(self, *value):
        raise AttributeError("generation options are per request now: pass GenerationOptions(path=..., "
                             "cpu_threads=..., graph_dtype=...) to synth.models.wavenet_generation."
                             "WaveNetGenerator or generate_waveform")
    return property(refuse, refuse)


class WaveNet(nn.Module):
    """The WaveNet network, trained with ``forward`` (teacher forcing). It is sampled through the
    engine by a ``synth.models.wavenet_generation.WaveNetGenerator``, which reads the one-step
    products below (``ResidualLayer.step``, ``head_step``) and keeps the queues in its state."""

    kind = "wavenet"
    config_class = WaveNetConfig
    # How a request is generated (path, kernel threads, graph precision) is its own business, not
    # the shared model's: GenerationOptions, given to WaveNetGenerator. The old attributes are
    # refused rather than silently ignored.
    generation_path = cpu_threads = graph_dtype = _moved_to_generation_options()

    def __init__(self, config: WaveNetConfig):
        super().__init__()
        self.config = config
        R = config.residual_channels
        self.input_embedding = nn.Embedding(config.n_classes, R) if config.output == "mulaw" else nn.Linear(1, R)
        self.speaker_embedding = nn.Embedding(config.n_speakers, config.speaker_channels) if config.n_speakers else None
        self.upsampler = ConditionUpsampler(config) if config.cond_channels else None
        self.layers = nn.ModuleList(ResidualLayer(config, d) for d in config.dilations)
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv1d(config.skip_channels, config.skip_channels, 1),
            nn.ReLU(), nn.Conv1d(config.skip_channels, config.out_channels, 1),
        )

    # ----- conversions between audio and model values -----------------------------------------

    def encode(self, waveform: torch.Tensor) -> torch.Tensor:
        """Float waveform in [-1, 1] -> the values the model predicts (mu-law classes or floats)."""
        if self.config.output == "mulaw":
            return mu_law_encode(waveform, self.config.n_classes)
        return waveform.clamp(-1.0, 1.0)

    def decode(self, values: torch.Tensor) -> torch.Tensor:
        if self.config.output == "mulaw":
            return mu_law_decode(values, self.config.n_classes)
        return values.float()

    @property
    def n_uniforms(self) -> int:
        """Uniform random numbers per sample (class; or component and logistic draw)."""
        return 1 if self.config.output == "mulaw" else 2

    def check_inputs(self, values: torch.Tensor) -> None:
        """Refuse values (a primer) the model cannot take: mu-law classes outside
        [0, n_classes), or mixture samples that are not finite numbers in [-1, 1]."""
        if self.config.output == "mulaw":
            if values.is_floating_point() or values.is_complex():
                raise InputError(f"a primer for this mu-law model must hold whole class numbers, got {values.dtype}")
            if values.numel() and (int(values.min()) < 0 or int(values.max()) >= self.config.n_classes):
                raise InputError(f"primer classes must be from 0 to {self.config.n_classes - 1}, "
                                 f"got {int(values.min())} to {int(values.max())}")
        elif values.numel() and not (torch.isfinite(values).all() and values.abs().max() <= 1.0):
            raise InputError("a primer for this model must hold finite samples in [-1, 1]")

    def initial_input(self, batch_size: int) -> torch.Tensor:
        """The input before the first sample: silence."""
        device = self.head[-1].weight.device
        return self.encode(torch.zeros(batch_size, device=device))

    def shift_inputs(self, targets: torch.Tensor) -> torch.Tensor:
        """targets (B, T) -> inputs (B, T): silence, then the targets delayed by one step."""
        start = self.initial_input(targets.shape[0]).to(targets.dtype).unsqueeze(1)
        return torch.cat([start, targets[:, :-1]], dim=1)

    def distribution(self, params: torch.Tensor) -> Distribution:
        """params (B, out_channels) -> the output distribution of one step."""
        if self.config.output == "mulaw":
            return Categorical(params)
        return DiscretizedLogisticMixture.from_params(params)

    # ----- full (teacher-forced) forward pass ---------------------------------------------------

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.config.output == "mulaw":
            return self.input_embedding(inputs.long())  # (..., R)
        return self.input_embedding(inputs.float().unsqueeze(-1))

    def speaker_vector(self, speaker: torch.Tensor | int | None, batch_size: int) -> torch.Tensor | None:
        if self.speaker_embedding is None:
            if speaker is not None:
                raise InputError("this model has no speakers (it was trained without global conditioning)")
            return None
        n = self.config.n_speakers
        if speaker is None:
            raise InputError(f"this model needs a speaker id from 0 to {n - 1}")
        ids = torch.as_tensor(speaker, dtype=torch.long, device=self.speaker_embedding.weight.device).reshape(-1)
        if ids.numel() == 1:
            ids = ids.expand(batch_size)
        if ids.numel() != batch_size:
            raise InputError(f"got {ids.numel()} speaker ids for {batch_size} streams")
        if bool(((ids < 0) | (ids >= n)).any()):
            raise InputError(f"speaker ids must be from 0 to {n - 1}, got {ids.tolist()}")
        return self.speaker_embedding(ids)  # (B, S_spk)

    def check_frames(self, frames: torch.Tensor | None, batch_size: int) -> torch.Tensor | None:
        if self.upsampler is None:
            if frames is not None:
                raise InputError("this model takes no local conditioning frames")
            return None
        C = self.config.cond_channels
        if frames is None:
            raise InputError(f"this model needs local conditioning frames of shape (batch, {C}, n_frames)")
        frames = torch.as_tensor(frames, dtype=torch.float32, device=self.head[-1].weight.device)
        if frames.dim() == 2:
            frames = frames.unsqueeze(0).expand(batch_size, -1, -1)
        if frames.dim() != 3 or frames.shape[0] != batch_size or frames.shape[1] != C:
            raise InputError(f"conditioning frames must have shape ({batch_size}, {C}, n_frames), got {tuple(frames.shape)}")
        if not bool(torch.isfinite(frames).all()):
            raise InputError("conditioning frames contain NaN or infinite values")
        return frames

    def forward(self, inputs: torch.Tensor, speaker: torch.Tensor | None = None,
                frames: torch.Tensor | None = None) -> torch.Tensor:
        """inputs (B, T): the previous sample at each step (see ``shift_inputs``);
        frames (B, C, F) with F * hop >= T (look-ahead frames past the end are padded, see
        ``pad_lookahead``). Returns the output parameters (B, T, out_channels)."""
        B, T = inputs.shape
        speaker_vec = self.speaker_vector(speaker, B)
        frames = self.check_frames(frames, B)
        cond = None
        if frames is not None:
            if frames.shape[-1] * self.config.hop_length < T:
                raise InputError(f"{frames.shape[-1]} frames cover {frames.shape[-1] * self.config.hop_length} samples, fewer than {T}")
            cond = self.conditioning(frames, T)  # (B, H (+ sines), T)
        return self.forward_upsampled(inputs, speaker_vec, cond)

    def conditioning(self, frames: torch.Tensor, n_samples: int) -> torch.Tensor:
        """Frames (B, C, F) -> the per-sample conditioning of samples 0 .. n_samples (B, H', n_samples):
        the upsampled frames (look-ahead frames past the end padded), then the held keys' sines."""
        cond = self.upsample(self.pad_lookahead(frames, n_samples))[..., :n_samples]
        sines = self.key_sines(frames, 0, n_samples)
        return cond if sines is None else torch.cat([cond, sines.to(cond.dtype)], dim=1)

    def key_sines(self, frames: torch.Tensor, first_sample: int, n_samples: int) -> torch.Tensor | None:
        """The held keys' sines (B, 2 * key_harmonics, n) for samples from first_sample, where frames' first frame starts."""
        c = self.config
        return key_sinusoids(frames[:, :N_KEYS], first_sample, n_samples, harmonics=c.key_harmonics,
                             hop_length=c.hop_length, sample_rate=c.sample_rate) if c.key_harmonics else None

    def pad_lookahead(self, frames: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
        """Frames (..., C, F) with the look-ahead frames past the end that ``n_samples`` samples
        (default F * hop) need, where they are missing: copies of the last frame (what the model
        also trained on at the end of a clip)."""
        L, hop = self.config.cond_lookahead, self.config.hop_length
        if n_samples is None:
            n_samples = frames.shape[-1] * hop
        missing = -(-n_samples // hop) + L - frames.shape[-1]
        if missing <= 0 or frames.shape[-1] == 0:
            return frames
        return torch.cat([frames, frames[..., -1:].expand(*frames.shape[:-1], missing)], dim=-1)

    def upsample(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (B, C, F) -> the conditioning of samples 0 .. (F - cond_lookahead) * hop (B, H, T):
        the causal upsampler's output advanced by the look-ahead, so the samples of frame f see
        frames up to f + cond_lookahead."""
        return self.upsampler(frames)[..., self.config.cond_lookahead * self.config.hop_length:]

    def forward_upsampled(self, inputs, speaker_vec, cond, layer_inputs: list | None = None) -> torch.Tensor:
        """The forward pass on upsampled conditioning; appends each layer's input (B, R, T) to
        ``layer_inputs`` when given (to fill the generation queues)."""
        x = self.embed(inputs).transpose(1, 2)  # (B, R, T)
        skips = 0
        for layer in self.layers:
            if layer_inputs is not None:
                layer_inputs.append(x)
            x, skip = layer(x, speaker_vec, cond)
            skips = skips + skip  # (B, S, T)
        return self.head(skips * math.sqrt(1.0 / len(self.layers))).transpose(1, 2)  # (B, T, out)

    def head_step(self, skips: torch.Tensor) -> torch.Tensor:
        """The output head at one step: summed skips (B, S) -> params (B, out), as matrix products."""
        first, second = self.head[1], self.head[3]
        h = F.relu(skips * math.sqrt(1.0 / len(self.layers)))
        h = F.relu(F.linear(h, first.weight.squeeze(-1), first.bias))
        return F.linear(h, second.weight.squeeze(-1), second.bias)
