"""Piano-roll data sets for the composer: the Bach chorales of the music21 corpus, or any folder
of MIDI files, as binary rolls (T, 88) on a musical grid, split by piece.

The chorales are parsed once (about a minute cold) and cached as one small ``.npz``: for each
grid (1 step per quarter note as in the JSB Chorales benchmark, and 4 for generation) the
concatenated frames, each piece's offsets, names and split. This is NOT the JSB Chorales
benchmark split (Boulanger-Lewandowski et al. 2012): the chorales are the music21 corpus's, split
here by piece name with a fixed seed (about 60 / 20 / 20 % train / valid / test, as JSB's
229 / 76 / 77); numbers on it are comparable to the published ones in kind only.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.errors import InputError
from synth.music.pianoroll import N_KEYS, PianoRoll
from synth.splits import hash_split

GRIDS = (1, 4)  # steps per quarter note stored in the chorale cache
CHORALE_VALID_FRACTION, CHORALE_TEST_FRACTION = 0.2, 0.2
SPLIT_SEED = 0
CHORALES_LICENCE = ("J. S. Bach's chorales (public domain compositions), encodings from the music21 corpus "
                    "(distributed with their encoders' permission; see music21/corpus/license.txt)")


@dataclasses.dataclass
class RollDataset:
    """Pieces as binary rolls: ``rolls[i]`` (T_i, 88) uint8, ``names[i]``, ``splits[i]``."""

    rolls: list[np.ndarray]
    names: list[str]
    splits: list[str]
    steps_per_quarter: int
    skipped: list[dict] = dataclasses.field(default_factory=list)
    licence: str = ""

    def split(self, name: str) -> list[np.ndarray]:
        return [r for r, s in zip(self.rolls, self.splits) if s == name]

    def frames(self, name: str) -> int:
        return sum(len(r) for r in self.split(name))


def _split_of(name: str) -> str:
    return hash_split(name, SPLIT_SEED, CHORALE_VALID_FRACTION, CHORALE_TEST_FRACTION)


def build_chorale_cache(path: str | Path, log: Callable[[str], None] = print) -> Path:
    """Parse the Riemenschneider chorales of the music21 corpus (four-part ones only, as in JSB
    Chorales) into rolls on every grid of ``GRIDS`` and save them as ``path`` (.npz)."""
    from music21 import corpus
    from tqdm import tqdm

    from synth.checkpoint import atomic_write
    from synth.music.scores import parse_score, piece_name, score_notes

    rolls: dict[int, list[np.ndarray]] = {g: [] for g in GRIDS}
    names, skipped = [], []
    for work in tqdm(list(corpus.chorales.Iterator(returnType="filename")), desc="parsing chorales", unit="chorale"):
        try:
            score = parse_score(work)
        except InputError as exc:
            skipped.append({"name": work, "reason": str(exc)})
            continue
        if len(score.parts) != 4:
            skipped.append({"name": work, "reason": f"{len(score.parts)} parts, not the four voices"})
            continue
        notes = score_notes(score)
        if not notes:
            skipped.append({"name": work, "reason": "no notes"})
            continue
        name = piece_name(work)
        if name in names:
            skipped.append({"name": work, "reason": "duplicate of a chorale already included"})
            continue
        names.append(name)
        for grid in GRIDS:
            rolls[grid].append(PianoRoll.from_notes(notes, grid).keys)
    arrays = {"names": np.array(names), "splits": np.array([_split_of(n) for n in names]),
              "skipped": np.array(json.dumps(skipped))}
    for grid in GRIDS:
        arrays[f"keys_{grid}"] = np.concatenate(rolls[grid])  # (sum T, 88) uint8
        arrays[f"offsets_{grid}"] = np.cumsum([0] + [len(r) for r in rolls[grid]])
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write(Path(path), buffer.getvalue())
    log(f"{len(names)} chorales cached in {path}; {len(skipped)} skipped")
    return Path(path)


def chorale_dataset(path: str | Path, steps_per_quarter: int = 1, build: bool = True) -> RollDataset:
    """The chorale rolls on a grid of ``steps_per_quarter`` (1 or 4), built and cached if needed."""
    path = Path(path)
    if steps_per_quarter not in GRIDS:
        raise InputError(f"the chorale cache holds grids of {GRIDS} steps per quarter, not {steps_per_quarter}")
    if not path.is_file():
        if not build:
            raise InputError(f"{path}: no chorale cache here (the composer recipe's data stage builds it)")
        build_chorale_cache(path)
    with np.load(path, allow_pickle=False) as f:
        keys, offsets = f[f"keys_{steps_per_quarter}"], f[f"offsets_{steps_per_quarter}"]
        names, splits = [str(n) for n in f["names"]], [str(s) for s in f["splits"]]
        skipped = json.loads(str(f["skipped"]))
    rolls = [keys[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    return RollDataset(rolls, names, splits, steps_per_quarter, skipped, CHORALES_LICENCE)


def midi_folder_dataset(folder: str | Path, steps_per_quarter: int = 4) -> RollDataset:
    """Every .mid/.midi under ``folder`` as a roll; corrupt, empty or note-less files are
    listed in ``skipped`` with the reason. Split by file name (fixed seed)."""
    from synth.music.midi import read_midi
    from synth.music.scores import piece_name

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder of MIDI files")
    rolls, names, skipped = [], [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi")):
        try:
            roll = PianoRoll.from_midi(read_midi(path), steps_per_quarter)
        except InputError as exc:
            skipped.append({"name": str(path.relative_to(folder)), "reason": str(exc)})
            continue
        if not roll.keys.any():
            skipped.append({"name": str(path.relative_to(folder)), "reason": "no notes on the piano's keys"})
            continue
        rolls.append(roll.keys)
        names.append(piece_name(path.relative_to(folder).as_posix()))
    if not rolls:
        raise InputError(f"{folder}: no usable MIDI files ({len(skipped)} skipped)")
    return RollDataset(rolls, names, [_split_of(n) for n in names], steps_per_quarter, skipped, "user-supplied MIDI files")


def transpose_keys(keys: np.ndarray, semitones: int) -> np.ndarray:
    return PianoRoll(keys).transpose(semitones).keys if semitones else keys


def piece_batch(rolls: list[np.ndarray], generator: torch.Generator, batch_size: int, max_steps: int,
                max_transpose: int = 0) -> dict[str, torch.Tensor]:
    """A batch drawn only from ``generator``: ``batch_size`` random pieces, each a random crop of
    at most ``max_steps`` frames, transposed by a random whole number of semitones in
    [-max_transpose, max_transpose]; {"rolls": (B, T, 88) float, "mask": (B, T) float}."""
    index = torch.randint(0, len(rolls), (batch_size,), generator=generator).tolist()
    crops = []
    for i in index:
        roll = rolls[i]
        start = int(torch.randint(0, max(1, len(roll) - max_steps + 1), (1,), generator=generator))
        shift = int(torch.randint(-max_transpose, max_transpose + 1, (1,), generator=generator)) if max_transpose else 0
        crops.append(transpose_keys(roll[start:start + max_steps], shift))
    return pad_pieces(crops)


def pad_pieces(rolls: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Pieces of different lengths as one zero-padded batch with a mask of real frames."""
    length = max(len(r) for r in rolls)
    batch = torch.zeros(len(rolls), length, N_KEYS)
    mask = torch.zeros(len(rolls), length)
    for b, roll in enumerate(rolls):
        batch[b, :len(roll)] = torch.from_numpy(np.asarray(roll, dtype=np.float32))
        mask[b, :len(roll)] = 1.0
    return {"rolls": batch, "mask": mask}


def eval_batches(rolls: list[np.ndarray], batch_size: int = 32) -> list[dict[str, torch.Tensor]]:
    """Whole pieces, in order, in padded batches (for held-out evaluation)."""
    order = sorted(range(len(rolls)), key=lambda i: len(rolls[i]))  # similar lengths together: less padding
    return [pad_pieces([rolls[i] for i in order[k:k + batch_size]]) for k in range(0, len(order), batch_size)]
