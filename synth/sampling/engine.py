"""The one sampling loop every autoregressive model in synth runs through.

A model takes part by implementing the incremental protocol below. Its state is a dict: tensor
values have the batch of streams as their first dimension (so beam search can reorder them);
other values (a ring-buffer position, say) are shared by all streams.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Iterator, Protocol, runtime_checkable

import torch

from synth.errors import InputError
from synth.sampling.distributions import Categorical, Distribution
from synth.sampling.policies import apply_policy

State = dict[str, Any]

#: Hard bound on the steps of one generation (about 17 minutes of 16 kHz audio).
MAX_STEPS = 16_000_000
#: Steps whose random numbers are drawn in one call: the draws, and so the samples, do not depend
#: on how the output is chunked or on which path computes the distributions.
RANDOM_BLOCK_STEPS = 256
#: Most steps handed to a model's fused ``sample_steps`` in one call.
FUSED_MAX_STEPS = 4096


class UniformStream:
    """The uniforms of steps t, t+1, ...: drawn from the generator in fixed blocks of
    RANDOM_BLOCK_STEPS, so any way of taking them (one step, or thousands) sees the same numbers."""

    def __init__(self, generator: torch.Generator, batch_size: int, device: torch.device, n_uniforms: int | None):
        self.generator, self.batch_size, self.device, self.n_uniforms = generator, batch_size, device, n_uniforms
        self.start = 0  # step of buffer[0]
        self.buffer = torch.empty(0, batch_size, n_uniforms or 0, device=device)

    def take(self, t: int, n: int, n_uniforms: int | None = None) -> torch.Tensor:
        """Uniforms (n, B, U) of steps t .. t + n - 1 (t never goes back)."""
        if self.n_uniforms is None:
            self.n_uniforms = n_uniforms
            self.buffer = self.buffer.new_empty(0, self.batch_size, n_uniforms)
        drop = t - self.start
        self.buffer, self.start = self.buffer[drop:], t
        blocks = [self.buffer]
        have = self.buffer.shape[0]
        while have < n:
            blocks.append(torch.rand((RANDOM_BLOCK_STEPS, self.batch_size, self.n_uniforms),
                                     generator=self.generator, device=self.device))
            have += RANDOM_BLOCK_STEPS
        if len(blocks) > 1:
            self.buffer = torch.cat(blocks)
        return self.buffer[:n]


@runtime_checkable
class Autoregressive(Protocol):
    """What a model implements to be sampled by the engine.

    Optional methods, used when present:
      ``prime(state, inputs)``      teacher-force inputs (B, P, ...) at once (default: step by step);
      ``steps_ready(state)``        steps the state can take before it needs more conditioning;
      ``extend(state, chunk)``      append a chunk of streamed conditioning;
      ``finished(state)``           (B,) bool, streams the model itself declares done;
      ``check_inputs(values)``      refuse a primer the model cannot take;
      ``n_uniforms``                uniforms per step, known before the first step;
      ``sample_steps(state, x, uniforms, policy)``  a fused path: up to n steps sampled at once.
    """

    def initial_input(self, batch_size: int) -> torch.Tensor:
        """The input that precedes the first output (B, ...)."""

    def start(self, batch_size: int, **conditioning) -> State:
        """A fresh state for a batch of streams with their conditioning."""

    def step(self, state: State, x: torch.Tensor) -> Distribution:
        """Advance by one input x (B, ...), updating state; return the next output's distribution."""


def reorder_state(state: State, index: torch.Tensor) -> State:
    """Select / repeat streams: batch-first tensors are indexed, shared values kept."""
    out: State = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            out[key] = value.index_select(0, index.to(value.device))
        else:
            out[key] = value
    return out


def check_steps(max_steps: int) -> int:
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1 or max_steps > MAX_STEPS:
        raise InputError(f"max_steps must be a whole number from 1 to {MAX_STEPS:,}, got {max_steps!r}")
    return max_steps


def model_device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


class Generation:
    """A running generation: iterate for chunks (B, t, ...) as they are made, or call ``collect()``.

    After iteration, ``lengths`` (B,) holds how many outputs each stream produced before it
    stopped; outputs past a stream's length are zeros.
    """

    def __init__(self, chunks: Iterator[torch.Tensor], batch_size: int):
        self._chunks = chunks
        self.lengths = torch.zeros(batch_size, dtype=torch.long)
        self.steps = 0

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self._chunks

    def collect(self) -> torch.Tensor:
        chunks = list(self._chunks)
        if not chunks:
            raise InputError("nothing was generated: the conditioning ended before the first step")
        return torch.cat(chunks, dim=1)


def generate(
    model: Autoregressive,
    *,
    max_steps: int,
    batch_size: int = 1,
    conditioning: dict | None = None,
    conditioning_stream: Iterable | None = None,
    prime: torch.Tensor | None = None,
    policy: Iterable = (),
    seed: int | None = None,
    stop: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_steps: int = 4096,
) -> Generation:
    """Sample up to ``max_steps`` outputs for ``batch_size`` streams.

    conditioning: keyword arguments for ``model.start`` (speaker ids, frames, text, ...).
    conditioning_stream: further chunks of conditioning, pulled when the model runs out; the
      generation ends when the stream is exhausted and the model can take no more steps.
    prime: (B, P, ...) outputs to teacher-force before sampling (they are not returned again).
    policy: warpers applied in order to each step's distribution (see ``policies``).
    seed: makes the result reproducible exactly (same device, same model).
    stop: maps the step's outputs (B, ...) to a (B,) bool mask of streams that end with it.
    progress: called as progress(steps_done, max_steps) after every chunk.
    """
    check_steps(max_steps)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive whole number, got {batch_size!r}")
    policy = tuple(policy)
    device = model_device(model)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else int(torch.randint(0, 2**62, ()).item()))
    stream = iter(conditioning_stream) if conditioning_stream is not None else None
    if prime is not None:
        _check_prime(model, prime, batch_size)
    generation = Generation(iter(()), batch_size)

    def run() -> Iterator[torch.Tensor]:
        # inference mode is entered per step, never across a yield, so it cannot leak into the caller.
        with torch.inference_mode():
            state, x = _start(model, batch_size, conditioning, prime, stream, device)
        done = torch.zeros(batch_size, dtype=torch.bool, device=device)
        finished = getattr(model, "finished", None)
        can_stop = stop is not None or finished is not None
        # A fused path that samples many steps per call (``sample_steps``), when the model has one;
        # it consumes the same uniforms as stepping, so the choice does not change the samples.
        fused = getattr(model, "sample_steps", None) if not can_stop else None
        steps_ready = getattr(model, "steps_ready", None)
        uniforms = UniformStream(generator, batch_size, device, getattr(model, "n_uniforms", None))
        pending: list[torch.Tensor] = []  # (B, n, ...) pieces of the current chunk
        n_pending = 0
        t = 0
        while t < max_steps:
            with torch.inference_mode():
                if not _ensure_ready(model, state, stream):
                    break
                piece = None
                if fused is not None:
                    n = min(FUSED_MAX_STEPS, max_steps - t, chunk_steps - n_pending)
                    if steps_ready is not None:
                        n = min(n, steps_ready(state))
                    piece = fused(state, x, uniforms.take(t, n), policy)
                    if piece is None:
                        fused = None  # this request needs the step path
                    elif piece.shape[1] == 0:
                        piece = None  # the fused path takes no steps this time: step once
                if piece is None:
                    dist = apply_policy(model.step(state, x), policy)
                    x = dist.sample(uniforms.take(t, 1, dist.n_uniforms)[0])
                    if can_stop:
                        x = torch.where(_expand(done, x), torch.zeros_like(x), x)
                        generation.lengths += (~done).long().cpu()
                        if stop is not None:
                            done |= stop(x).to(device)
                        if finished is not None:
                            done |= finished(state)
                    piece = x.unsqueeze(1)
                else:
                    x = piece[:, -1]
                pending.append(piece)
                n_pending += piece.shape[1]
                t += piece.shape[1]
                generation.steps = t
            all_done = can_stop and bool(done.all())
            if n_pending == chunk_steps or all_done:
                if not can_stop:
                    generation.lengths.fill_(t)
                yield torch.cat(pending, dim=1)
                pending, n_pending = [], 0
                if progress is not None:
                    progress(t, max_steps)
            if all_done:
                return
        if not can_stop:
            generation.lengths.fill_(t)
        if pending:
            yield torch.cat(pending, dim=1)
            if progress is not None:
                progress(t, max_steps)

    generation._chunks = run()
    return generation


def _check_prime(model: Any, prime: torch.Tensor, batch_size: int) -> None:
    """A primer is user input: its shape, and its values where the model can say (``check_inputs``)."""
    if not isinstance(prime, torch.Tensor) or prime.dim() < 2 or prime.shape[0] != batch_size:
        shape = tuple(prime.shape) if isinstance(prime, torch.Tensor) else type(prime).__name__
        raise InputError(f"a primer must be a tensor of shape ({batch_size}, steps, ...), got {shape}")
    check = getattr(model, "check_inputs", None)
    if check is not None:
        check(prime)


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view(mask.shape + (1,) * (like.dim() - 1))


def _ensure_ready(model: Any, state: State, stream: Iterator | None) -> bool:
    """Pull conditioning chunks until the model can take a step; False when none can come."""
    steps_ready = getattr(model, "steps_ready", None)
    if steps_ready is None:
        return True
    while steps_ready(state) == 0:
        chunk = next(stream, None) if stream is not None else None
        if chunk is None:
            return False
        model.extend(state, chunk)
    return True


def _start(model: Any, batch_size: int, conditioning: dict | None, prime: torch.Tensor | None,
           stream: Iterator | None, device: torch.device) -> tuple[State, torch.Tensor]:
    """A fresh state with the primer (B, P, ...) teacher-forced into it, and the next input."""
    state = model.start(batch_size, **(conditioning or {}))
    x = model.initial_input(batch_size).to(device)
    if prime is not None and prime.shape[1] > 0:
        prime = prime.to(device)
        _teacher_force(model, state, torch.cat([x.unsqueeze(1), prime[:, :-1]], dim=1), stream)  # (B, P, ...)
        x = prime[:, -1]
    return state, x


def _teacher_force(model: Any, state: State, inputs: torch.Tensor, stream: Iterator | None) -> None:
    bulk = getattr(model, "prime", None)
    if bulk is not None:
        bulk(state, inputs)
        return
    for i in range(inputs.shape[1]):
        if not _ensure_ready(model, state, stream):
            raise InputError(f"the conditioning covers fewer steps than the {inputs.shape[1]}-step primer")
        model.step(state, inputs[:, i])


def sample(model: Autoregressive, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``generate`` to the end: (outputs (B, T, ...), lengths (B,))."""
    generation = generate(model, **kwargs)
    out = generation.collect()
    return out, generation.lengths


@dataclasses.dataclass
class BeamResult:
    sequences: torch.Tensor  # (B, W, T) best first
    log_probs: torch.Tensor  # (B, W)


def beam_search(
    model: Autoregressive,
    *,
    beam_width: int,
    max_steps: int,
    batch_size: int = 1,
    conditioning: dict | None = None,
    prime: torch.Tensor | None = None,
) -> BeamResult:
    """Beam search over a model with categorical outputs: the W sequences of highest total
    log-probability found, per stream, with their scores."""
    check_steps(max_steps)
    if not isinstance(beam_width, int) or beam_width < 1:
        raise InputError(f"beam_width must be a positive whole number, got {beam_width!r}")
    device = model_device(model)
    B, W = batch_size, beam_width
    if prime is not None:
        _check_prime(model, prime, B)
    with torch.inference_mode():
        state, x = _start(model, B, conditioning, prime, None, device)
        expand = torch.arange(B, device=device).repeat_interleave(W)  # (B*W,)
        state = reorder_state(state, expand)
        x = x.index_select(0, expand)
        scores = torch.full((B, W), float("-inf"), device=device)
        scores[:, 0] = 0.0  # all beams start identical: keep one so the first step's top-W are distinct
        history = torch.zeros(B * W, 0, dtype=torch.long, device=device)
        for _ in range(max_steps):
            dist = model.step(state, x)
            if not isinstance(dist, Categorical):
                raise InputError(f"beam search needs categorical outputs, this model gives {type(dist).__name__}")
            log_p = dist.log_probs().view(B, W, -1)  # (B, W, V)
            V = log_p.shape[-1]
            candidates = (scores.unsqueeze(-1) + log_p).view(B, W * V)
            scores, flat = candidates.topk(min(W, W * V), dim=-1)  # (B, W)
            beam, token = flat // V, flat % V
            parent = (torch.arange(B, device=device).unsqueeze(-1) * W + beam).view(-1)  # (B*W,)
            state = reorder_state(state, parent)
            history = torch.cat([history.index_select(0, parent), token.view(-1, 1)], dim=1)
            x = token.view(-1)
        return BeamResult(history.view(B, W, -1), scores)
