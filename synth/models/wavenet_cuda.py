"""The GPU generation path for WaveNet: CUDA graphs over a chunk of steps.

At batch sizes that matter for generation, a GPU step is a few dozen tiny kernels, so the cost is
launching them from Python. Here a chunk of ``steps_per_graph`` steps (embedding, every layer,
head, policy and sampling) is captured once into a CUDA graph and replayed: one launch per chunk.
The step reads the time from a device tensor, so the same graph serves every chunk. Without CUDA
(or if capture fails) the runner executes the same steps eagerly, which is also how its arithmetic
is tested on machines without a GPU.
"""
from __future__ import annotations

import contextlib
import logging

import torch

from synth.models.wavenet_queues import ring_views
from synth.sampling.policies import apply_policy

log = logging.getLogger(__name__)


class GraphedSteps:
    """Runs ``steps_per_graph`` WaveNet steps per launch on the state's own ring tensor."""

    def __init__(self, model, state: dict, policy, steps_per_graph: int = 16, use_graph: bool | None = None,
                 dtype: torch.dtype | None = None, teacher_forced: bool = False):
        """dtype: compute the layers in bfloat16 / float16 (autocast), queues and sampling in
        float32; None keeps float32 throughout. teacher_forced: feed ``forced`` inputs instead of
        the samples and keep each step's params (to measure a reduced precision against float32)."""
        self.model, self.state, self.policy, self.m = model, state, tuple(policy), steps_per_graph
        self.dtype, self.teacher_forced = dtype, teacher_forced
        rings = state["rings"]
        self.device = rings.device
        B = rings.shape[0]
        self.t = torch.zeros((), dtype=torch.long, device=self.device)  # time of the first step of the chunk
        self.x = model.initial_input(B).to(self.device).clone()  # (B,) input of the first step
        self.u = torch.zeros(self.m, B, model.n_uniforms, device=self.device)  # (m, B, U)
        self.out = torch.zeros(self.m, B, dtype=self.x.dtype, device=self.device)  # (m, B)
        self.forced = torch.zeros_like(self.out)  # (m, B), used when teacher_forced
        self.params = torch.zeros(self.m, B, model.config.out_channels, device=self.device)  # (m, B, out)
        self.cond = (torch.zeros(B, state["cond"].shape[1], self.m, device=self.device)
                     if model.upsampler is not None else None)  # (B, H, m)
        self.lengths = [(model.config.kernel_size - 1) * layer.dilation for layer in model.layers]
        self.graph = None
        if use_graph is None:
            use_graph = self.device.type == "cuda"
        if use_graph:
            self.graph = self._capture()

    def _precision(self):
        return contextlib.nullcontext() if self.dtype is None else torch.autocast(self.device.type, dtype=self.dtype)

    def _steps(self) -> None:
        """m steps from self.x at time self.t, writing samples to self.out (all on the device)."""
        model, state = self.model, self.state
        k = model.config.kernel_size
        x = self.x
        for i in range(self.m):
            t = self.t + i
            h = model.embed(x)  # (B, R)
            cond = self.cond[..., i] if self.cond is not None else None  # (B, H)
            skips = 0
            for layer, ring, length, bias, matrices in zip(model.layers, ring_views(state), self.lengths,
                                                           state["layer_bias"].unbind(1), state["step_matrices"]):
                slots = torch.stack([(t - j * layer.dilation) % length for j in range(k - 1, 0, -1)])  # (k-1,)
                taps = torch.cat([ring.index_select(1, slots).transpose(1, 2), h.unsqueeze(-1)], -1)  # (B, R, k)
                ring.index_copy_(1, (t % length).view(1), h.unsqueeze(1))
                with self._precision():
                    h, skip = layer.step(taps, bias, cond, matrices)
                h = h.float()  # queues and sums stay in float32
                skips = skips + skip.float()
            with self._precision():
                params = model.head_step(skips)
            params = params.float()
            if self.teacher_forced:
                self.params[i].copy_(params)
                x = self.forced[i]
                continue
            dist = apply_policy(model.distribution(params), self.policy)
            x = dist.sample(self.u[i])
            self.out[i].copy_(x)
        self.x.copy_(x)

    def _capture(self):
        """Capture ``_steps`` into a CUDA graph; None (eager replay) if capture is not possible."""
        saved = self.state["rings"].clone()
        try:
            side = torch.cuda.Stream(device=self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side), torch.no_grad():
                for _ in range(2):  # warm-up (allocator, cuBLAS handles) off the capture stream
                    self._steps()
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.no_grad():
                self._steps()
            return graph
        except Exception as exc:  # a feature missing on this GPU or driver: fall back to eager
            log.warning("CUDA graph capture failed (%s); generating without graphs", exc)
            return None
        finally:
            self.state["rings"].copy_(saved)  # warm-up wrote to the queues: restore them

    def run(self, x: torch.Tensor, uniforms: torch.Tensor | None, forced: torch.Tensor | None = None) -> torch.Tensor:
        """Advance the state by n (a multiple of m) steps: samples (B, n) drawn with uniforms
        (n, B, U); or, when teacher_forced, the params (B, n, out) while fed forced (B, n)."""
        n = forced.shape[1] if self.teacher_forced else uniforms.shape[0]
        assert n % self.m == 0
        state, outs = self.state, []
        self.x.copy_(x)
        for start in range(0, n, self.m):
            t = state["t"]
            self.t.fill_(t)
            if self.teacher_forced:
                self.forced.copy_(forced[:, start:start + self.m].t())
            else:
                self.u.copy_(uniforms[start:start + self.m])
            if self.cond is not None:
                offset = t - state["cond_start"]
                self.cond.copy_(state["cond"][..., offset:offset + self.m])
            if self.graph is not None:
                self.graph.replay()
            else:
                with torch.no_grad():
                    self._steps()
            outs.append(self.params.clone() if self.teacher_forced else self.out.clone())
            state["t"] = t + self.m
        return torch.cat(outs).transpose(0, 1)  # (B, n) samples or (B, n, out) params
