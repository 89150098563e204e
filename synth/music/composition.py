"""Composing with the LSTM composer: sampling pieces through the engine, priming from a MIDI
file, writing MIDI / audio / a picture, and measuring how much a piece copies its training set."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from synth.errors import InputError
from synth.music.pianoroll import N_KEYS, PianoRoll

MAX_BARS = 256
MAX_BATCH = 64
MAX_PRIMER_BARS = 64


@dataclasses.dataclass
class Piece:
    """A composed piece: its roll (primer included), how many of its steps were the primer."""

    roll: PianoRoll
    primer_steps: int
    tempo_bpm: float
    beats_per_bar: int = 4

    def to_midi(self) -> pretty_midi.PrettyMIDI:
        return self.roll.to_midi(tempo_bpm=self.tempo_bpm, beats_per_bar=self.beats_per_bar)


def primer_roll(source: str | Path | bytes, steps_per_quarter: int, bars: int | None = None,
                beats_per_bar: int = 4) -> PianoRoll:
    """The first ``bars`` bars (all, up to MAX_PRIMER_BARS, when None) of a MIDI file on the
    model's grid. Refuses files that are not MIDI, damaged, empty, or have no piano-range notes."""
    from synth.music.midi import read_midi

    roll = PianoRoll.from_midi(read_midi(source, name=None if not isinstance(source, bytes) else "primer"), steps_per_quarter)
    limit = (bars if bars is not None else MAX_PRIMER_BARS) * beats_per_bar * steps_per_quarter
    if bars is not None and not 1 <= bars <= MAX_PRIMER_BARS:
        raise InputError(f"primer bars must be from 1 to {MAX_PRIMER_BARS}, got {bars}")
    roll = PianoRoll(roll.keys[:limit], steps_per_quarter)
    if not roll.keys.any():
        raise InputError("the primer has no notes on the piano's 88 keys (A0-C8) within the bars used")
    return roll


def check_length(bars, batch_size) -> None:
    if not isinstance(bars, int) or isinstance(bars, bool) or not 1 <= bars <= MAX_BARS:
        raise InputError(f"bars must be a whole number from 1 to {MAX_BARS}, got {bars!r}")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
        raise InputError(f"the batch must be from 1 to {MAX_BATCH} pieces, got {batch_size!r}")


def compose(model, *, bars: int = 16, batch_size: int = 1, temperature: float = 1.0, seed: int | None = None,
            primer: PianoRoll | None = None, tempo_bpm: float = 90.0, max_silent_bars: float = 1.0,
            max_held_bars: float = 2.0, progress=None) -> list[Piece]:
    """``batch_size`` pieces of ``bars`` new bars each (after the primer, when given), sampled
    through the engine. Guards: after ``max_silent_bars`` of silence notes are pushed to sound,
    a key held ``max_held_bars`` is released (0 turns a guard off)."""
    from synth.sampling.engine import generate
    from synth.sampling.policies import make_policy

    check_length(bars, batch_size)
    if not 10 <= tempo_bpm <= 400:
        raise InputError(f"tempo must be from 10 to 400 beats per minute, got {tempo_bpm}")
    c = model.config
    prime = None
    if primer is not None:
        if primer.steps_per_quarter != c.steps_per_quarter:
            raise InputError(f"the primer's grid ({primer.steps_per_quarter} steps per quarter) is not the model's "
                             f"({c.steps_per_quarter})")
        prime = torch.from_numpy(primer.keys.astype(np.float32)).unsqueeze(0).expand(batch_size, -1, -1)
    generation = generate(
        model, max_steps=bars * c.steps_per_bar, batch_size=batch_size, prime=prime, seed=seed,
        policy=make_policy(temperature=temperature), progress=progress, chunk_steps=c.steps_per_bar,
        conditioning={"max_silent_steps": round(max_silent_bars * c.steps_per_bar),
                      "max_held_steps": round(max_held_bars * c.steps_per_bar)})
    frames = generation.collect().cpu().numpy().astype(np.uint8)  # (B, T, 88)
    pieces = []
    for keys in frames:
        if primer is not None:
            keys = np.concatenate([primer.keys, keys])
        pieces.append(Piece(PianoRoll(keys, c.steps_per_quarter), len(primer) if primer is not None else 0,
                            tempo_bpm, c.beats_per_bar))
    return pieces


def render_audio(midi: pretty_midi.PrettyMIDI, renderer: str = "fluidsynth", sample_rate: int = 16000) -> np.ndarray:
    """Audio of a piece through a named renderer (``synth.music.render.RENDERERS``: FluidSynth
    with a sampled piano; the piano WaveNet joins under its own name)."""
    from synth.music.render import make_renderer

    return make_renderer(renderer, sample_rate).render(midi)


def _window_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """Polynomial hashes (uint64, arithmetic mod 2**64) of every window of ``n`` consecutive ids:
    sum_j ids[i + j] * B**j, from one prefix sum of ids[j] * B**-j (B odd, so it has an inverse)."""
    if len(ids) < n:
        return np.empty(0, dtype=np.uint64)
    base = np.uint64(0x9E3779B97F4A7C15)  # odd
    inverse = np.uint64(pow(int(base), -1, 2 ** 64))
    with np.errstate(over="ignore"):
        forward = np.ones(len(ids), dtype=np.uint64)
        backward = np.ones(len(ids), dtype=np.uint64)
        if len(ids) > 1:
            forward[1:] = np.cumprod(np.full(len(ids) - 1, base, dtype=np.uint64))  # B**j
            backward[1:] = np.cumprod(np.full(len(ids) - 1, inverse, dtype=np.uint64))  # B**-j
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(ids * backward, dtype=np.uint64)])
        return (prefix[n:] - prefix[:-n]) * forward[:len(ids) - n + 1]


def longest_copied_run(piece: np.ndarray, corpus: list[np.ndarray]) -> int:
    """Length in frames of the longest run of consecutive frames of ``piece`` (T, 88) that
    appears, frame for frame, somewhere in ``corpus`` (longest common substring of frames).
    Silent frames are matched like any other."""
    return longest_copied_runs([piece], corpus)[0]


def longest_copied_runs(pieces: list[np.ndarray], corpus: list[np.ndarray]) -> list[int]:
    """``longest_copied_run`` of each piece, the corpus read once. Runs are found by binary search
    on the length, comparing 64-bit hashes of every window (a false match needs a hash collision,
    odds about 2**-64 per pair of windows)."""
    rolls = [np.asarray(r, dtype=np.uint8).reshape(-1, N_KEYS) for r in [*pieces, *corpus]]
    packed = np.packbits(np.concatenate(rolls), axis=1)  # (F, 11): one row per frame
    _, inverse = np.unique(packed, axis=0, return_inverse=True)
    ids = inverse.reshape(-1).astype(np.uint64) + np.uint64(1)  # frame ids, never 0
    bounds = np.cumsum([0] + [len(r) for r in rolls])
    runs = [ids[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    piece_ids, corpus_ids = runs[:len(pieces)], runs[len(pieces):]
    grams: dict[int, np.ndarray] = {}

    def found(piece: np.ndarray, n: int) -> bool:
        if n not in grams:
            grams[n] = np.unique(np.concatenate([_window_hashes(c, n) for c in corpus_ids] + [np.empty(0, np.uint64)]))
        return bool(np.isin(_window_hashes(piece, n), grams[n]).any())

    out = []
    for piece in piece_ids:
        low, high = 0, len(piece)  # found(low) holds; binary search the largest n that does
        while low < high:
            mid = (low + high + 1) // 2
            if found(piece, mid):
                low = mid
            else:
                high = mid - 1
        out.append(low)
    return out


#: Pitch-class sets of the major and minor triads and dominant sevenths on every root.
_CHORDS = [frozenset((root + step) % 12 for step in steps) for root in range(12)
           for steps in ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10))]


def chord_frame_fraction(keys: np.ndarray) -> float:
    """Of the frames (T, 88) that sound, the fraction whose pitch classes all belong to one major
    or minor triad or dominant seventh chord: a rough measure of plain tonal harmony (real
    chorales fall short of 1 through suspensions and passing dissonances on the beat)."""
    sounding = [frozenset(int(k + 21) % 12 for k in np.flatnonzero(frame)) for frame in keys if frame.any()]
    if not sounding:
        return 0.0
    return sum(any(pcs <= chord for chord in _CHORDS) for pcs in sounding) / len(sounding)
