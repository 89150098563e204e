"""A split of an audio corpus, in memory, as the WaveNet trainer takes it: random crops of audio
with their speaker ids and their conditioning frames (log-mel spectrograms or piano rolls),
drawn only from a given generator (so a resumed run sees the same crops)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import soundfile
import torch

from synth.audio import MelFeatures
from synth.corpora.manifest import Entry, Manifest, read_manifest
from synth.errors import InputError

CONDITIONING = ("none", "mel", "roll")


@dataclasses.dataclass
class Clip:
    audio: torch.Tensor            # (T,) int16
    speaker_id: int
    frames: torch.Tensor | None    # (C, F) float32, frame f summarising samples [f * hop, (f + 1) * hop)
    entry: Entry
    #: (T,) int16: the excitation an LPC vocoder learns (synth.lpc), when the split makes one
    excitation: torch.Tensor | None = None


class AudioSplit:
    """Clips of one split of a corpus folder, with conditioning computed once in one place."""

    def __init__(self, folder: str | Path, split: str, *, conditioning: str = "none", hop_length: int = 256,
                 mel: MelFeatures | None = None, min_samples: int = 0, max_clips: int | None = None,
                 manifest: Manifest | None = None, excitation=None, onset_envelope_seconds: float = 0.0):
        """``excitation``: a synth.lpc.LinearPrediction; crops then hold each clip's excitation
        (computed once from its audio and mel frames) in place of its audio.
        ``onset_envelope_seconds`` > 0: piano rolls get the onset envelope's 88 columns
        (synth.music.pianoroll.with_onset_envelope), computed over each whole piece."""
        if conditioning not in CONDITIONING:
            raise InputError(f"conditioning {conditioning!r}; allowed: {CONDITIONING}")
        if onset_envelope_seconds and conditioning != "roll":
            raise InputError("an onset envelope is part of piano-roll conditioning: it needs conditioning='roll'")
        self.folder, self.split, self.conditioning = Path(folder), split, conditioning
        self.onset_envelope_seconds = onset_envelope_seconds
        self.manifest = manifest or read_manifest(self.folder)
        self.mel = mel or MelFeatures(sample_rate=self.manifest.sample_rate, hop_length=hop_length)
        self.hop_length = self.mel.hop_length if conditioning == "mel" else hop_length
        if conditioning == "mel" and self.mel.sample_rate != self.manifest.sample_rate:
            raise InputError(f"mel features at {self.mel.sample_rate} Hz for a corpus at {self.manifest.sample_rate} Hz")
        self.excitation = excitation
        if excitation is not None and excitation.order and conditioning != "mel":
            raise InputError("LPC excitation is read off mel frames: it needs conditioning='mel'")
        self.clips: list[Clip] = []
        entries = self.manifest.split(split)
        if max_clips is not None and len(entries) > max_clips:
            # evenly spaced through the split, so a subset covers every speaker and source
            entries = [entries[i * len(entries) // max_clips] for i in range(max_clips)]
        for entry in entries:
            audio, rate = soundfile.read(str(self.folder / entry.path), dtype="int16", always_2d=True)
            if rate != self.manifest.sample_rate:
                raise InputError(f"{entry.path}: {rate} Hz in a corpus declared at {self.manifest.sample_rate} Hz")
            audio = torch.from_numpy(np.ascontiguousarray(audio[:, 0]))
            if len(audio) < max(min_samples, self.hop_length):
                continue
            clip = Clip(audio, entry.speaker_id, self._frames(audio, entry), entry)
            if excitation is not None:
                coefficients = excitation.coefficients(clip.frames, self.mel) if excitation.order else clip.frames
                residual = excitation.excitation(audio.float() / 32768.0, coefficients, self.hop_length)
                clip.excitation = (residual.clamp(-1.0, 32767 / 32768) * 32768.0).round().to(torch.int16)
            self.clips.append(clip)
        if not self.clips:
            raise InputError(f"{self.folder}: no {split} clips of at least {min_samples} samples")
        self._lengths = torch.tensor([len(c.audio) for c in self.clips], dtype=torch.float64)  # crop weights

    def _frames(self, audio: torch.Tensor, entry: Entry) -> torch.Tensor | None:
        if self.conditioning == "mel":
            return self.mel(audio.float() / 32768.0)  # (n_mels, T // hop)
        if self.conditioning == "roll":
            if not entry.roll:
                raise InputError(f"{entry.path}: no piano roll in the manifest, but roll conditioning was asked for")
            roll = np.load(self.folder / entry.roll, allow_pickle=False)  # (F, C)
            if self.onset_envelope_seconds:
                from synth.music.pianoroll import with_onset_envelope

                roll = with_onset_envelope(roll, self.onset_envelope_seconds, sample_rate=self.manifest.sample_rate,
                                           hop_length=self.hop_length)  # (F, C + 88)
            return torch.from_numpy(np.ascontiguousarray(roll, dtype=np.float32)).t()  # (C, F)
        return None

    @property
    def seconds(self) -> float:
        return sum(len(c.audio) for c in self.clips) / self.manifest.sample_rate

    @property
    def cond_channels(self) -> int:
        return 0 if self.clips[0].frames is None else self.clips[0].frames.shape[0]

    def crops(self, generator: torch.Generator, batch_size: int, crop_samples: int,
              lookahead_frames: int = 0) -> dict[str, torch.Tensor]:
        """A batch of random crops: audio (B, T) float in [-1, 1], speaker (B,), frames
        (B, C, T // hop + lookahead_frames): a model whose conditioning looks ahead gets the real
        frames after the crop (past the clip's end, copies of its last frame).

        Crops start on a frame boundary so that frames and samples stay aligned; clips are chosen
        in proportion to their length, and a clip shorter than the crop is zero-padded at the end.
        """
        hop = self.hop_length
        assert crop_samples % hop == 0, "crop_samples must be a multiple of the hop length"
        picks = torch.multinomial(self._lengths, batch_size, replacement=True, generator=generator).tolist()
        audio, speakers, frames = [], [], []
        for i in picks:
            clip = self.clips[i]
            n_starts = max(1, (len(clip.audio) - crop_samples) // hop + 1)
            start = int(torch.randint(0, n_starts, (1,), generator=generator)) * hop
            source = clip.excitation if self.excitation is not None else clip.audio
            piece = source[start:start + crop_samples].float() / 32768.0
            audio.append(torch.nn.functional.pad(piece, (0, crop_samples - len(piece))))
            speakers.append(clip.speaker_id)
            if clip.frames is not None:
                f0, n = start // hop, crop_samples // hop
                window = clip.frames[:, f0:f0 + n + lookahead_frames]
                if window.shape[1] < n:
                    window = torch.nn.functional.pad(window, (0, n - window.shape[1]))
                if window.shape[1] < n + lookahead_frames:
                    window = torch.cat([window, window[:, -1:].expand(-1, n + lookahead_frames - window.shape[1])], 1)
                frames.append(window)
        batch = {"audio": torch.stack(audio), "speaker": torch.tensor(speakers)}  # (B, T), (B,)
        if frames:
            batch["frames"] = torch.stack(frames)  # (B, C, T // hop)
        return batch

    def fixed_batches(self, n_batches: int, batch_size: int, crop_samples: int, seed: int = 1234,
                      lookahead_frames: int = 0) -> list[dict]:
        """Held-out batches drawn once with a fixed seed (the same crops at every evaluation)."""
        return [self.crops(torch.Generator().manual_seed(seed + i), batch_size, crop_samples, lookahead_frames)
                for i in range(n_batches)]
