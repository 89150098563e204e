"""Lines of ink as training batches: padding, masks, character ids, and corpus statistics."""
from __future__ import annotations

from typing import Sequence

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
