"""How a WaveNet is generated, apart from the network (``synth/models/wavenet.py``).

``WaveNetGenerator`` is what the sampling engine samples: it takes a (shared, cached) WaveNet and
the options of one request, chooses once, when the generation starts, the runner that computes
the steps, and keeps everything a generation changes in the state it returns to the caller:

- the reference path: a queue per layer holding its last (k - 1) d inputs (Paine et al. 2016,
  "Fast Wavenet"), one ``step`` per sample through the layers' one-step products;
- the fused CPU kernel (``synth/models/wavenet_cpu.py``): a chunk of samples per call;
- CUDA graphs (``synth/models/wavenet_cuda.py``): a chunk of steps per launch.

All three consume the same uniforms, so a seed gives the same samples on each. The options are
the request's (``GenerationOptions``), never written onto the model, so one cached model serves
concurrent requests with different options. ``NaiveWaveNet`` is the obvious generator the cached
one replaces, and ``generate_waveform`` turns a generation into audio chunks.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator

import torch

from synth.errors import InputError
from synth.models.key_sines import N_KEYS
from synth.models.wavenet_queues import ring_offsets, ring_views
from synth.sampling.distributions import Distribution
from synth.sampling.engine import MAX_STEPS, State, generate
from synth.sampling.policies import Temperature

#: "auto": the fused C kernel on a CPU, CUDA graphs on a GPU, the reference step where neither can
#: serve a request; "reference": the reference step only; "graphs": the graphed step (run eagerly
#: off the GPU: its arithmetic checked on any machine).
PATHS = ("auto", "reference", "graphs")
GRAPH_DTYPES = (None, torch.bfloat16, torch.float16)


@dataclasses.dataclass(frozen=True)
class GenerationOptions:
    """How one request is generated; the samples do not depend on them (up to ``graph_dtype``'s
    rounding), only the speed does."""

    path: str = "auto"  # one of PATHS
    #: Threads of the fused CPU kernel; None chooses (see ``CPUKernel.default_threads``).
    cpu_threads: int | None = None
    #: Precision of the graphed (GPU) path's layers: None (float32) or torch.bfloat16 / float16.
    graph_dtype: torch.dtype | None = None

    def __post_init__(self):
        problems = []
        if self.path not in PATHS:
            problems.append(f"path must be one of {', '.join(PATHS)}, got {self.path!r}")
        threads = self.cpu_threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 256):
            problems.append(f"cpu_threads must be None or a whole number from 1 to 256, got {threads!r}")
        if self.graph_dtype not in GRAPH_DTYPES:
            problems.append(f"graph_dtype must be None, torch.bfloat16 or torch.float16, got {self.graph_dtype!r}")
        if problems:
            raise InputError("invalid generation options: " + "; ".join(problems))


class WaveNetGenerator:
    """A WaveNet as the sampling engine samples it (``initial_input`` / ``start`` / ``step``, and
    ``sample_steps`` for the fused paths), under one request's ``GenerationOptions``. Holds no
    generation state itself: two generators over one model never see each other."""

    def __init__(self, model, options: GenerationOptions | None = None):
        self.model = model
        self.options = options if options is not None else GenerationOptions()

    def parameters(self):
        return self.model.parameters()

    def initial_input(self, batch_size: int) -> torch.Tensor:
        return self.model.initial_input(batch_size)

    @property
    def n_uniforms(self) -> int:
        return self.model.n_uniforms

    def check_inputs(self, values: torch.Tensor) -> None:
        self.model.check_inputs(values)

    def start(self, batch_size: int, speaker=None, frames=None) -> State:
        """State for ``batch_size`` streams: a ring buffer per layer holding its last (k - 1) * d
        inputs, the speaker vector, the upsampled local conditioning not yet consumed, and the
        runner this request's options and this machine choose."""
        model = self.model
        device = model.head[-1].weight.device
        offsets = ring_offsets(model.config)
        state: State = {
            # all layers' queues packed in one tensor (B, sum of (k - 1) d, R); see ``ring_views``
            "rings": torch.zeros(batch_size, offsets[-1], model.config.residual_channels, device=device),
            "ring_offsets": offsets,
            "t": 0,
            # views of the weights laid out for one-step products (they follow the parameters)
            "step_matrices": [layer.step_matrices() for layer in model.layers],
        }
        speaker_vec = model.speaker_vector(speaker, batch_size)
        if speaker_vec is not None:
            state["speaker"] = speaker_vec  # for ``prime``
        state["layer_bias"] = torch.stack([layer.step_bias(speaker_vec, batch_size) for layer in model.layers], 1)  # (B, L, G)
        if self.options.path == "auto" and device.type == "cpu":
            from synth.models.wavenet_cpu import cpu_kernel

            state["cpu_kernel"] = cpu_kernel(model)  # None where no compiler is available
        if model.upsampler is not None:
            H = model.config.cond_input_channels
            if model.config.key_harmonics:  # held keys waiting to become sines
                state["sine_frames"] = torch.zeros(batch_size, N_KEYS, 0, device=device)
            state.update(cond=torch.zeros(batch_size, H, 0, device=device), cond_start=0,
                         frames_context=torch.zeros(batch_size, model.config.cond_channels, 0, device=device),
                         cond_skip=model.config.cond_lookahead * model.config.hop_length)
            if frames is not None:
                self.extend(state, frames)
        return state

    def steps_ready(self, state: State) -> int:
        if self.model.upsampler is None:
            return MAX_STEPS
        return state["cond_start"] + state["cond"].shape[-1] - state["t"]

    def extend(self, state: State, frames: torch.Tensor) -> None:
        """Append streamed conditioning frames (B, C, F_new). Upsampling sees the last
        ``context_frames`` frames too, so the result equals upsampling all frames at once; with
        look-ahead (``cond_lookahead``) the first frames' output is skipped once, as ``WaveNet.upsample``
        does, so frame f's samples are ready when frame f + cond_lookahead has come."""
        model = self.model
        frames = model.check_frames(frames, state["cond"].shape[0])
        context = state["frames_context"]
        n_context = context.shape[-1]
        upsampled = model.upsampler(torch.cat([context, frames], dim=-1))[..., n_context * model.config.hop_length:]
        skip = min(state["cond_skip"], upsampled.shape[-1])
        upsampled, state["cond_skip"] = upsampled[..., skip:], state["cond_skip"] - skip
        if model.config.key_harmonics:  # the sines of the samples just upsampled (a whole number of frames)
            pending = torch.cat([state["sine_frames"], frames[:, :N_KEYS]], dim=-1)
            n, hop = upsampled.shape[-1], model.config.hop_length
            first = state["cond_start"] + state["cond"].shape[-1]  # the absolute sample after the buffered ones
            sines = model.key_sines(pending[..., : n // hop], first, n)
            state["sine_frames"] = pending[..., n // hop:]
            upsampled = torch.cat([upsampled, sines.to(upsampled.dtype)], dim=1)
        consumed = state["t"] - state["cond_start"]
        state["cond"] = torch.cat([state["cond"][..., consumed:], upsampled], dim=-1)  # (B, H, pending)
        state["cond_start"] = state["t"]
        keep = model.upsampler.context_frames
        state["frames_context"] = torch.cat([context, frames], dim=-1)[..., -keep:] if keep else context

    def prime(self, state: State, inputs: torch.Tensor) -> None:
        """Teacher-force inputs (B, P) in one forward pass, leaving each layer's queue as P calls
        of ``step`` would (but only the last output is computed by the head, once)."""
        model = self.model
        t, P = state["t"], inputs.shape[1]
        if P == 0:
            return
        if t != 0:
            for i in range(P):  # a primer after generation began: step through it
                self.step(state, inputs[:, i])
            return
        window = min(P, model.config.receptive_field)  # later inputs never see further back
        cond = None
        if model.upsampler is not None:
            if self.steps_ready(state) < P:
                raise InputError(f"the conditioning covers {self.steps_ready(state)} samples, fewer than the {P}-sample primer")
            cond = state["cond"][..., P - window:P]
        layer_inputs: list[torch.Tensor] = []
        model.forward_upsampled(inputs[:, P - window:], state.get("speaker"), cond, layer_inputs)
        for ring, x in zip(ring_views(state), layer_inputs):  # x: (B, R, window), times P - window .. P - 1
            length = ring.shape[1]
            first = max(P - window, P - length)
            ring[:, torch.arange(first, P) % length] = x[..., first - (P - window):].transpose(1, 2)
        state["t"] = P

    def sample_steps(self, state: State, x: torch.Tensor, uniforms: torch.Tensor, policy) -> torch.Tensor | None:
        """Sample up to uniforms.shape[0] steps at once on a fast path: the samples (B, n' <= n)
        that ``step`` + the policy + ``Distribution.sample`` would give for these uniforms, or
        None when no fast path can serve this request (the engine then steps)."""
        model, options = self.model, self.options
        kernel = state.get("cpu_kernel")
        if kernel is not None:
            from synth.models.wavenet_cpu import kernel_policy

            ops = kernel_policy(policy, mixture=model.config.output != "mulaw")
            if ops is None:
                return None
            samples, _ = kernel.run(state, x, uniforms.shape[0], uniforms, ops, n_threads=options.cpu_threads)
            return samples
        on_gpu = state["rings"].device.type == "cuda"
        if (options.path == "auto" and on_gpu) or options.path == "graphs":
            from synth.models.wavenet_cuda import GraphedSteps

            runners = state.setdefault("graphed_steps", {})  # one captured graph per policy
            key = tuple(policy)
            if key not in runners:
                runners[key] = GraphedSteps(model, state, key, dtype=options.graph_dtype)
            runner = runners[key]
            n = uniforms.shape[0] // runner.m * runner.m
            if n == 0:
                return x.new_zeros(x.shape[0], 0)  # too few steps for a graph: the engine steps these
            return runner.run(x, uniforms[:n])
        return None

    def step(self, state: State, x: torch.Tensor) -> Distribution:
        """The reference path. x (B,): the previous sample. Returns the distribution of the next one."""
        model = self.model
        t = state["t"]
        if model.upsampler is not None and self.steps_ready(state) <= 0:
            raise InputError(f"local conditioning ran out at sample {t}: feed more frames")
        h = model.embed(x)  # (B, R)
        cond = state["cond"][..., t - state["cond_start"]] if model.upsampler is not None else None  # (B, H)
        skips = 0
        for layer, ring, bias, matrices in zip(model.layers, ring_views(state), state["layer_bias"].unbind(1),
                                                 state["step_matrices"]):
            length = ring.shape[1]  # (k - 1) * d
            taps = torch.stack([ring[:, (t - j * layer.dilation) % length]
                                for j in range(model.config.kernel_size - 1, 0, -1)] + [h], dim=-1)  # (B, R, k)
            ring[:, t % length] = h  # overwrite the oldest entry, read above as the first tap
            h, skip = layer.step(taps, bias, cond, matrices)
            skips = skips + skip  # (B, S)
        state["t"] = t + 1
        return model.distribution(model.head_step(skips))


class NaiveWaveNet:
    """The obvious generator that the cached one replaces: for every sample it reruns the full
    forward pass over the last receptive field of inputs. Same protocol, same outputs."""

    def __init__(self, model):
        self.model = model

    def parameters(self):
        return self.model.parameters()

    def initial_input(self, batch_size: int) -> torch.Tensor:
        return self.model.initial_input(batch_size)

    def start(self, batch_size: int, speaker=None, frames=None) -> State:
        model = self.model
        frames = model.check_frames(frames, batch_size)
        return {
            "history": torch.zeros(batch_size, 0, dtype=model.initial_input(1).dtype, device=model.head[-1].weight.device),
            "speaker": model.speaker_vector(speaker, batch_size),
            "cond": (model.conditioning(frames, (frames.shape[-1] - model.config.cond_lookahead) * model.config.hop_length)
                     if frames is not None else None),
            "t": 0,
        }

    def steps_ready(self, state: State) -> int:
        return MAX_STEPS if state["cond"] is None else state["cond"].shape[-1] - state["t"]

    def prime(self, state: State, inputs: torch.Tensor) -> None:
        window = self.model.config.receptive_field - 1  # the next step adds one input
        state.update(history=torch.cat([state["history"], inputs], 1)[:, -window:], t=state["t"] + inputs.shape[1])

    def step(self, state: State, x: torch.Tensor) -> Distribution:
        t, window = state["t"], self.model.config.receptive_field
        history = torch.cat([state["history"], x.unsqueeze(1)], dim=1)[:, -window:]  # (B, <= RF)
        cond = None
        if state["cond"] is not None:
            if t >= state["cond"].shape[-1]:
                raise InputError(f"local conditioning ran out at sample {t}")
            cond = state["cond"][..., t + 1 - history.shape[1]: t + 1]
        params = self.model.forward_upsampled(history, state["speaker"], cond)[:, -1]
        state.update(history=history, t=t + 1)
        return self.model.distribution(params)


def output_synthesis(model, batch_size: int):
    """What turns a WaveNet's samples into audio: None for a waveform model, else a streamed
    ``synth.lpc.ExcitationSynthesis`` (the LPC synthesis filter read off the mel frames, then
    de-emphasis), to be fed the same frames as the network (``add_frames``)."""
    if not model.config.models_excitation:
        return None
    from synth.audio import MelFeatures, mel_features_of
    from synth.lpc import ExcitationSynthesis

    config = model.config
    mel = mel_features_of(model) if config.lpc_order else MelFeatures(sample_rate=config.sample_rate,
                                                                      hop_length=config.hop_length)
    return ExcitationSynthesis(config.linear_prediction, mel, batch_size)


def output_envelope(model, batch_size: int, envelope=None):
    """The mel-envelope correction of a mel vocoder's audio (``synth.envelope``): ``envelope`` None
    takes the checkpoint's own setting (metadata ``sampling.envelope``, chosen with its temperature),
    False none, a ``MelEnvelope`` that one. None when it does not apply (no mel conditioning)."""
    from synth.envelope import EnvelopeCorrection, MelEnvelope

    if envelope is None:
        envelope = checkpoint_envelope(model)
    if not envelope:
        return None
    if not isinstance(envelope, MelEnvelope):
        raise InputError(f"envelope must be None (the checkpoint's), False or a MelEnvelope, got {envelope!r}")
    from synth.audio import mel_features_of

    mel = mel_features_of(model)  # refuses a model that does not take mels
    if mel.n_mels != model.config.cond_channels:
        raise InputError("envelope correction needs a mel vocoder (its conditioning is the mel)")
    return EnvelopeCorrection(mel, envelope, batch_size)


def generate_waveform(model, *, seconds: float, batch_size: int = 1, speaker=None,
                      frames: torch.Tensor | None = None, frames_stream: Iterable[torch.Tensor] | None = None,
                      policy=(), seed: int | None = None, progress=None, chunk_seconds: float = 0.5,
                      max_seconds: float = 600.0, options: GenerationOptions | None = None,
                      envelope=None) -> Iterator[torch.Tensor]:
    """Audio from the WaveNet ``model`` through the sampling engine, under ``options``: an iterator
    of float32 chunks (B, t) in [-1, 1] on the CPU at ``model.config.sample_rate``, ending after
    ``seconds`` (or when the conditioning frames run out).

    The local conditioning is ``frames`` (C, F) shared by the batch or (B, C, F), given up front,
    and / or ``frames_stream``, chunks (B, C, F_new) pulled as the generation needs them (a
    text-to-mel network still reading: ``steps_ready`` / ``extend``). Either way the output stage
    is this one: the samples decoded (mu-law classes to floats), and for a model of the excitation
    the LPC synthesis filter and de-emphasis, fed the same frames as the network as they arrive, and
    for a mel vocoder whose checkpoint asks for it (or ``envelope``) the mel-envelope correction
    (``output_envelope``), which holds the last half window back until the next samples or the end."""
    if not (isinstance(seconds, (int, float)) and 0 < seconds <= max_seconds):
        raise InputError(f"seconds must be more than 0 and at most {max_seconds:g}, got {seconds!r}")
    rate = model.config.sample_rate
    synthesis = output_synthesis(model, batch_size)
    corrector = output_envelope(model, batch_size, envelope) if frames is not None or frames_stream is not None else None
    stages = [stage for stage in (synthesis, corrector) if stage is not None]

    def heard(chunks):  # the synthesis filter and the envelope take each frame as the network does
        for chunk in chunks:
            for stage in stages:
                stage.add_frames(torch.as_tensor(chunk, dtype=torch.float32).cpu())
            yield chunk

    def ahead(chunks, last):  # the look-ahead frames past the end of the stream: copies of the last frame
        for chunk in chunks:
            last = chunk
            yield chunk
        if last is not None and model.config.cond_lookahead:
            yield model.pad_lookahead(torch.as_tensor(last, dtype=torch.float32)[..., -1:])[..., 1:]

    if frames is not None:
        for stage in stages:
            stage.add_frames(torch.as_tensor(frames, dtype=torch.float32).cpu())
    stream = None
    if frames_stream is not None:
        stream = ahead(heard(frames_stream), frames)
    elif frames is not None:
        frames = model.pad_lookahead(torch.as_tensor(frames, dtype=torch.float32))
    generation = generate(
        WaveNetGenerator(model, options), max_steps=max(1, round(seconds * rate)), batch_size=batch_size,
        conditioning={"speaker": speaker, "frames": frames}, policy=policy, seed=seed, progress=progress,
        conditioning_stream=stream,
        chunk_steps=max(1, round(chunk_seconds * rate)),
    )
    for chunk in generation:
        audio = model.decode(chunk).float().cpu()  # (B, t): the waveform, or the excitation of an LPC vocoder
        audio = audio if synthesis is None else synthesis(audio)
        if corrector is None:
            yield audio
        elif (corrected := corrector(audio)).shape[-1]:
            yield corrected
    if corrector is not None:
        yield corrector.finish()


def resynthesise(model, frames: torch.Tensor, speaker: int | None, seed: int = 0, progress=None,
                 policy=None, options: GenerationOptions | None = None, envelope=None) -> torch.Tensor:
    """Audio (T,) from conditioning frames (C, F) (and a speaker id), through the sampling engine,
    with the model's own sampling policy (``default_policy`` in its metadata) and envelope setting
    (``output_envelope``) unless others are given."""
    seconds = frames.shape[-1] * model.config.hop_length / model.config.sample_rate
    if policy is None:
        policy = default_policy(model)
    chunks = generate_waveform(model, seconds=seconds, frames=frames.unsqueeze(0), seed=seed, progress=progress,
                               speaker=speaker if model.config.n_speakers else None, policy=policy, options=options,
                               envelope=envelope)
    return torch.cat(list(chunks), dim=1)[0]


def checkpoint_envelope(model):
    """The mel-envelope correction a checkpoint asks for (metadata ``sampling.envelope``, written with
    its temperature), as a ``synth.envelope.MelEnvelope``; None when it names none."""
    from synth.envelope import MelEnvelope

    return MelEnvelope.from_metadata((getattr(model, "metadata", {}).get("sampling") or {}).get("envelope"))


def default_policy(model) -> tuple:
    """The sampling policy a checkpoint asks for (metadata ``sampling``: {"temperature": t}),
    chosen by the free-running measures; plain sampling when it names none."""
    temperature = getattr(model, "metadata", {}).get("sampling", {}).get("temperature")
    return (Temperature(float(temperature)),) if temperature not in (None, 1, 1.0) else ()
