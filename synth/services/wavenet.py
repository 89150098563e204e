"""Any WaveNet checkpoint, plainly (``synth wavenet generate`` and ``info``): a batch of streams
under any sampling policy, optionally on conditioning frames from a ``.npy`` file. By default
the speech role's model, as ``synth speak`` uses."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synth.errors import InputError
from synth.services import bounds
from synth.services.bounds import COMMAND, Limits
from synth.services.models import checkpoint_path, load_model
from synth.services.relay import AudioStream, wavenet_stream
from synth.services.speech import speaker_id


def read_frames(path: str | Path) -> torch.Tensor:
    """Local conditioning frames (channels, n_frames) from a ``.npy`` file (never unpickled)."""
    try:
        return torch.from_numpy(np.load(path, allow_pickle=False)).float()
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npy array of conditioning frames ({exc})") from None


def generate(*, seconds: float, batch_size: int = 1, speaker: str | int | None = None,
             frames: str | Path | None = None, temperature: float | None = None, top_k: int | None = None,
             top_p: float | None = None, greedy: bool = False, seed: int | None = None, limits: Limits = COMMAND,
             checkpoint: str | Path | None = None, device: str = "auto") -> AudioStream:
    """``batch_size`` streams of ``seconds`` (chunks (B, t), or (t,) for one stream); a speaker by
    name or id, as ``synth speak`` takes it; temperature None: the checkpoint's own."""
    model = load_model("speech", checkpoint, device)
    seconds = bounds.check_seconds(seconds, limits.speech_seconds)
    batch_size = bounds.check_whole_number(batch_size, "the batch", 1, bounds.MAX_WAVENET_BATCH)
    return wavenet_stream(model, seconds=seconds, max_seconds=limits.speech_seconds, batch_size=batch_size,
                          speaker=speaker_id(model, speaker), frames=read_frames(frames) if frames is not None else None,
                          temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy, seed=bounds.check_seed(seed),
                          chunk_seconds=0.5)


def describe(checkpoint: str | Path | None = None) -> dict:
    """What a WaveNet checkpoint is: parameters, receptive field, speakers, conditioning, config
    and metadata."""
    model = load_model("speech", checkpoint, "cpu")
    c = model.config
    return {
        "checkpoint": str(checkpoint_path("speech", checkpoint)), "parameters": sum(p.numel() for p in model.parameters()),
        "receptive_field_samples": c.receptive_field,
        "receptive_field_ms": round(1000 * c.receptive_field / c.sample_rate, 1),
        "speakers": c.n_speakers, "conditioning_channels": c.cond_channels, "hop_length": c.hop_length,
        "config": c.__dict__, "metadata": model.metadata,
    }
