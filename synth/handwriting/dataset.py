"""Lines of ink as training batches: padding, masks, character ids, and corpus statistics."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from synth.handwriting.text import encode_text


def offset_statistics(offsets: Sequence[np.ndarray], texts: Sequence[str]) -> dict:
    """Per-axis standard deviation of the offsets (the network's scale) and mean points per character."""
    rows = np.concatenate(offsets)
    return {"offset_std": [float(rows[:, 0].std()), float(rows[:, 1].std())],
            "points_per_char": float(len(rows) / max(1, sum(len(t) for t in texts)))}


def pad_batch(offsets: Sequence[np.ndarray], texts: Sequence[str], alphabet: str) -> dict:
    """{"offsets" (B, T, 3), "mask" (B, T), "chars" (B, U), "lengths" (B,)} for lines of offsets and text."""
    T = max(len(o) for o in offsets)
    batch = torch.zeros(len(offsets), T, 3)
    mask = torch.zeros(len(offsets), T)
    for i, o in enumerate(offsets):
        batch[i, :len(o)] = torch.from_numpy(np.asarray(o, dtype=np.float32))
        mask[i, :len(o)] = 1.0
    chars, lengths = encode_text(list(texts), alphabet)
    return {"offsets": batch, "mask": mask, "chars": chars, "lengths": lengths}


def random_batch(offsets: Sequence[np.ndarray], texts: Sequence[str], alphabet: str, batch_size: int,
                 generator: torch.Generator) -> dict:
    """A batch of lines drawn (with replacement) using only ``generator``: exact resume."""
    index = torch.randint(0, len(offsets), (batch_size,), generator=generator).tolist()
    return pad_batch([offsets[i] for i in index], [texts[i] for i in index], alphabet)


def fixed_batches(offsets: Sequence[np.ndarray], texts: Sequence[str], alphabet: str, batch_size: int) -> list[dict]:
    """All lines in order, in batches (for evaluation)."""
    return [pad_batch(offsets[i:i + batch_size], texts[i:i + batch_size], alphabet)
            for i in range(0, len(offsets), batch_size)]


# -- a split of a corpus on disk -------------------------------------------------------------------

@dataclasses.dataclass
class LineSet:
    """Lines of a corpus split: offsets (T_i, 3) in ink units, their texts, writers and line ids."""

    offsets: list[np.ndarray]
    texts: list[str]
    writers: list[str]
    line_ids: list[str]

    def __len__(self) -> int:
        return len(self.offsets)

    def save(self, path: str | Path) -> None:
        """One .npz of plain arrays (no pickles): offsets concatenated, with each line's length."""
        lengths = np.array([len(o) for o in self.offsets], dtype=np.int64)
        np.savez_compressed(Path(path), offsets=np.concatenate([np.zeros((0, 3)), *self.offsets]).astype(np.float32), lengths=lengths,
                            texts=np.array(self.texts, dtype=str), writers=np.array(self.writers, dtype=str),
                            line_ids=np.array(self.line_ids, dtype=str))

    @classmethod
    def load(cls, path: str | Path) -> "LineSet":
        with np.load(Path(path), allow_pickle=False) as data:
            ends = np.cumsum(data["lengths"])
            offsets = np.split(data["offsets"], ends[:-1])
            return cls(offsets, [str(t) for t in data["texts"]], [str(w) for w in data["writers"]],
                       [str(i) for i in data["line_ids"]])


def length_sorted_batch(offsets: Sequence[np.ndarray], texts: Sequence[str], alphabet: str, batch_size: int,
                        generator: torch.Generator, order: Sequence[int] | None = None) -> dict:
    """A batch of lines of similar length (little padding): ``batch_size`` neighbours in ``order``
    (line indices sorted by length) from a start drawn with ``generator`` only (exact resume)."""
    if order is None:
        order = np.argsort([len(o) for o in offsets], kind="stable")
    start = int(torch.randint(0, max(1, len(order) - batch_size + 1), (), generator=generator))
    index = [int(i) for i in order[start:start + batch_size]]
    return pad_batch([offsets[i] for i in index], [texts[i] for i in index], alphabet)
