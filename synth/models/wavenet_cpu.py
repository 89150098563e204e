"""The fused CPU generation path for WaveNet (``synth/kernels/wavenet_cpu.c``), behind the same
engine API: ``WaveNetGenerator.sample_steps`` runs a chunk of samples per call through it when it
can, and the plain cached-queue ``WaveNetGenerator.step`` remains the reference it is tested against."""
from __future__ import annotations

import ctypes
import math
import os

import numpy as np
import torch

from synth import kernels
from synth.models.wavenet_queues import ring_offsets
from synth.sampling.policies import Bias, Greedy, Temperature, TopK, TopP

_f32p = ctypes.POINTER(ctypes.c_float)
_i32p = ctypes.POINTER(ctypes.c_int32)


class _Args(ctypes.Structure):
    """Mirror of ``wavenet_args`` in wavenet_cpu.c (same order)."""

    _fields_ = [(name, ctypes.c_int) for name in
                ("B", "L", "R", "G", "S", "K", "OUT", "mol", "n_steps", "t0", "n_threads", "U", "n_ops")] + [
        ("dilations", _i32p), ("ring_offsets", _i32p), ("embedding", _f32p), ("filter_w", _f32p), ("gate_w", _f32p),
        ("layer_bias", _f32p), ("cond", _f32p), ("residual_w", _f32p), ("residual_b", _f32p), ("skip_w", _f32p),
        ("skip_b", _f32p), ("head1_w", _f32p), ("head1_b", _f32p), ("head2_w", _f32p), ("head2_b", _f32p),
        ("rings", _f32p), ("uniforms", _f32p), ("policy", _f32p), ("forced", _f32p), ("x", _f32p), ("out", _f32p),
        ("logits_out", _f32p)]


OP_GREEDY, OP_SCALE_LOGITS, OP_TOP_K, OP_TOP_P, OP_SHIFT_LOG_SCALES, OP_DIVIDE_LOGITS = range(6)


def kernel_policy(policy, mixture: bool) -> np.ndarray | None:
    """The policy as (op, value) rows the kernel applies in order, or None where the kernel cannot
    reproduce it exactly (the engine then takes the reference path)."""
    ops: list[tuple[int, float]] = []
    for warp in policy:
        if isinstance(warp, Greedy) or (isinstance(warp, Temperature) and warp.value == 0.0):
            ops.append((OP_GREEDY, 0.0))
        elif isinstance(warp, Temperature):
            ops.append((OP_DIVIDE_LOGITS, warp.value))
            if mixture:
                ops.append((OP_SHIFT_LOG_SCALES, math.log(warp.value)))
        elif isinstance(warp, Bias):
            ops.append((OP_SCALE_LOGITS, 1.0 + warp.b))
            if mixture:
                ops.append((OP_SHIFT_LOG_SCALES, -warp.b))
        elif isinstance(warp, TopK):
            ops.append((OP_TOP_K, float(warp.k)))
        elif isinstance(warp, TopP) and not mixture:
            ops.append((OP_TOP_P, warp.p))
        else:
            return None
    return np.asarray(ops, dtype=np.float32).reshape(-1, 2)


def _ptr(array: np.ndarray | None, kind=_f32p):
    return None if array is None else array.ctypes.data_as(kind)


def _f32(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().float().cpu().numpy())


def _aligned(array: np.ndarray, alignment: int = 64) -> np.ndarray:
    """A copy starting on a cache-line boundary: the kernel's 32-byte vector loads then never
    straddle two lines (misaligned weights cost about a quarter of the batch-1 speed)."""
    raw = np.empty(array.size + alignment // 4, dtype=np.float32)
    start = (-raw.ctypes.data % alignment) // 4
    out = raw[start:start + array.size].reshape(array.shape)
    out[...] = array
    return out


def pad8(n: int) -> int:
    return -(-n // 8) * 8


def _pad_last(tensor: torch.Tensor) -> torch.Tensor:
    """Zero-pad the last dimension to a multiple of 8."""
    return torch.nn.functional.pad(tensor, (0, pad8(tensor.shape[-1]) - tensor.shape[-1]))


def panels(matrix: torch.Tensor) -> torch.Tensor:
    """(..., K, N) -> (..., P(N) / 8, K, 8): 8-column panels, so a product streams memory in order."""
    m = _pad_last(matrix.detach().float())
    return m.unflatten(-1, (-1, 8)).transpose(-3, -2).contiguous()


class CPUKernel:
    """A WaveNet's weights packed for the fused kernel (transposed so every product streams
    contiguous rows). Built per generation, so it always reflects the current parameters."""

    def __init__(self, model, library: ctypes.CDLL):
        c = model.config
        self.library = library
        self.config = c
        layers = model.layers
        self.dilations = np.asarray([layer.dilation for layer in layers], dtype=np.int32)
        self.ring_offsets = np.asarray(ring_offsets(c), dtype=np.int32)
        if c.output == "mulaw":
            self.embedding = _f32(model.input_embedding.weight)  # (classes, R)
        else:
            self.embedding = _f32(torch.stack([model.input_embedding.weight[:, 0], model.input_embedding.bias]))
        H = c.gate_channels // 2
        conv = torch.stack([layer.conv.step_matrix() for layer in layers])  # (L, R*K, G), rows r * K + p
        # rows reordered to p * R + r: each tap is then one contiguous copy from its queue slot
        conv = conv.unflatten(1, (c.residual_channels, c.kernel_size)).transpose(1, 2).flatten(1, 2)
        self.filter_w, self.gate_w = _f32(panels(conv[..., :H])), _f32(panels(conv[..., H:]))
        out = torch.stack([layer.residual_skip.weight.squeeze(-1).t() for layer in layers])  # (L, G/2, R+S)
        out_b = torch.stack([layer.residual_skip.bias for layer in layers])
        R = c.residual_channels
        self.residual_w, self.skip_w = _f32(panels(out[..., :R])), _f32(panels(out[..., R:]))
        self.residual_b, self.skip_b = _f32(_pad_last(out_b[:, :R])), _f32(_pad_last(out_b[:, R:]))
        self.head1_w, self.head1_b = _f32(panels(model.head[1].weight.squeeze(-1).t())), _f32(_pad_last(model.head[1].bias))
        self.head2_w, self.head2_b = _f32(panels(model.head[3].weight.squeeze(-1).t())), _f32(_pad_last(model.head[3].bias))
        # all layers' local-conditioning projections as one (H_cond, L * 2 * P(H)) matrix: one product per chunk
        self.cond_w = None
        if c.cond_channels:
            w = torch.stack([layer.cond_proj.weight.squeeze(-1).t() for layer in layers], 1)  # (H_cond, L, G)
            self.cond_w = self.split_gate(w).flatten(1).contiguous()
        for name in ("filter_w", "gate_w", "residual_w", "skip_w", "head1_w", "head2_w",
                     "residual_b", "skip_b", "head1_b", "head2_b", "embedding"):
            setattr(self, name, _aligned(getattr(self, name)))
        self.weight_bytes = sum(a.nbytes for a in (self.filter_w, self.gate_w, self.residual_w, self.skip_w,
                                                   self.head1_w, self.head2_w))

    def split_gate(self, values: torch.Tensor) -> torch.Tensor:
        """(..., G) -> (..., 2, P(G / 2)): filter and gate halves, each zero-padded."""
        H = self.config.gate_channels // 2
        return torch.stack([_pad_last(values[..., :H]), _pad_last(values[..., H:])], -2)

    def default_threads(self, batch_size: int) -> int:
        """Streams split across cores when there are several; at batch 1 two cores split each
        layer's rows only when the weights outgrow one core's L2 cache (below that the barrier
        per layer costs more than the second core saves)."""
        cores = os.cpu_count() or 1
        if batch_size > 1:
            return max(1, min(cores, batch_size, torch.get_num_threads()))
        return min(2, cores) if self.weight_bytes > 512 * 1024 else 1

    def run(self, state: dict, x: torch.Tensor, n_steps: int, uniforms: torch.Tensor | None, policy: np.ndarray,
            forced: torch.Tensor | None = None, n_threads: int | None = None, want_logits: bool = False):
        """Advance ``state`` by n_steps from previous samples x (B,). Returns (samples (B, n),
        params (B, n, OUT) or None)."""
        c = self.config
        rings = state["rings"]
        assert rings.dtype == torch.float32 and rings.is_contiguous() and rings.device.type == "cpu"
        B = rings.shape[0]
        layer_bias = _f32(self.split_gate(state["layer_bias"]))  # (B, L, 2, P(H))
        cond = None
        if c.cond_channels:
            start = state["t"] - state["cond_start"]
            window = state["cond"][..., start:start + n_steps].transpose(1, 2)  # (B, n, H)
            cond = _f32(torch.matmul(window, self.cond_w))  # (B, n, L * 2 * P(H))
        x_in = np.array(x.detach().float().cpu().numpy().reshape(B), dtype=np.float32)  # a copy: the kernel writes it
        u = None if uniforms is None else _f32(uniforms)  # (n, B, U)
        forced_np = None if forced is None else _f32(forced.t())  # (n, B)
        out = np.empty((n_steps, B), dtype=np.float32)
        logits = np.empty((n_steps, B, c.out_channels), dtype=np.float32) if want_logits else None
        args = _Args(
            B=B, L=len(self.dilations), R=c.residual_channels, G=c.gate_channels, S=c.skip_channels,
            K=c.kernel_size, OUT=c.out_channels, mol=int(c.output != "mulaw"), n_steps=n_steps, t0=state["t"],
            n_threads=n_threads or self.default_threads(B), U=0 if u is None else u.shape[-1], n_ops=len(policy),
            dilations=_ptr(self.dilations, _i32p), ring_offsets=_ptr(self.ring_offsets, _i32p),
            embedding=_ptr(self.embedding), filter_w=_ptr(self.filter_w), gate_w=_ptr(self.gate_w),
            layer_bias=_ptr(layer_bias), cond=_ptr(cond), residual_w=_ptr(self.residual_w),
            residual_b=_ptr(self.residual_b), skip_w=_ptr(self.skip_w), skip_b=_ptr(self.skip_b),
            head1_w=_ptr(self.head1_w), head1_b=_ptr(self.head1_b),
            head2_w=_ptr(self.head2_w), head2_b=_ptr(self.head2_b), rings=_ptr(rings.numpy()), uniforms=_ptr(u),
            policy=_ptr(policy), forced=_ptr(forced_np), x=_ptr(x_in), out=_ptr(out), logits_out=_ptr(logits),
        )
        if self.library.wavenet_generate(ctypes.byref(args)) != 0:
            raise RuntimeError("the WaveNet kernel could not start its threads")
        state["t"] += n_steps
        samples = torch.from_numpy(out.T.copy())  # (B, n)
        if c.output == "mulaw":
            samples = samples.round().long()
        return samples, None if logits is None else torch.from_numpy(logits.transpose(1, 0, 2).copy())


def cpu_kernel(model) -> CPUKernel | None:
    """The fused kernel for ``model``, or None where it cannot run (not on the CPU, no compiler)."""
    if next(model.parameters()).device.type != "cpu":
        return None
    library = kernels.load("wavenet_cpu")
    return None if library is None else CPUKernel(model, library)
