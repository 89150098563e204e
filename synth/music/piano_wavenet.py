"""Playing MIDI through the piano WaveNet: the MIDI's conditioning roll (synth.music.pianoroll,
the same function the training corpus used) drives the WaveNet through the sampling engine."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import pretty_midi
import torch

from synth.checkpoint import load_checkpoint
from synth.device import pick_device
from synth.errors import InputError
from synth.music.pianoroll import conditioning_roll
from synth.music.render import RELEASE_SECONDS

#: Longest piece the WaveNet plays in one request (generation is the slow part).
MAX_WAVENET_SECONDS = 10 * 60


class PianoWaveNetRenderer:
    """A ``Renderer`` (synth.music.render) backed by a piano-roll-conditioned WaveNet checkpoint."""

    name = "wavenet"

    def __init__(self, sample_rate: int = 16000, checkpoint: str | Path | None = None, device: str = "auto"):
        from synth.assets import bundled

        self.model = load_checkpoint(checkpoint or bundled("wavenet-piano"), device=pick_device(device), expect_kind="wavenet")
        features = self.model.metadata.get("features", {})
        if features.get("kind") != "piano_roll":
            raise InputError(f"{checkpoint}: not a piano-roll WaveNet (its conditioning is {features.get('kind')!r})")
        if sample_rate != self.model.config.sample_rate:
            raise InputError(f"the piano WaveNet plays at {self.model.config.sample_rate} Hz, not {sample_rate} Hz")
        self.sample_rate = sample_rate

    def render(self, midi: pretty_midi.PrettyMIDI, *, seed: int = 0, max_seconds: float = MAX_WAVENET_SECONDS,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        from synth.solvers.wavenet import resynthesise

        seconds = midi.get_end_time() + RELEASE_SECONDS
        if seconds > max_seconds:
            raise InputError(f"the MIDI lasts {seconds:.0f} s; the piano WaveNet plays at most {max_seconds:.0f} s")
        config = self.model.config
        n_samples = math.ceil(seconds * config.sample_rate)
        roll = conditioning_roll(midi, n_samples, sample_rate=config.sample_rate, hop_length=config.hop_length)  # (F, 176)
        frames = torch.from_numpy(roll).t()  # (176, F)
        audio = resynthesise(self.model, frames, None, seed=seed, progress=progress)
        return audio.numpy().astype(np.float32)

