"""A piano-roll picture (PNG): time to the right, pitch upwards, bar lines, the primer shaded."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.music.pianoroll import LOWEST_KEY, PianoRoll


def roll_image(roll: PianoRoll, *, primer_steps: int = 0, beats_per_bar: int = 4, pixels_per_step: int | None = None,
               pixels_per_key: int = 5):
    """A PIL image of ``roll``; only the keys between the lowest and highest note used (plus a
    margin) are drawn. Notes are dark blue, primer notes grey, bar lines light grey, C keys marked."""
    from PIL import Image

    keys = roll.keys  # (T, 88)
    T = max(1, len(keys))
    used = np.flatnonzero(keys.any(0))
    low, high = (max(0, used[0] - 3), min(87, used[-1] + 3)) if used.size else (39 - 12, 39 + 12)
    pixels_per_step = pixels_per_step or max(2, min(16, 1600 // T))
    n_keys = high - low + 1
    image = np.full((n_keys * pixels_per_key, T * pixels_per_step, 3), 255, dtype=np.uint8)
    for k in range(n_keys):  # faint band on every C
        if (LOWEST_KEY + low + k) % 12 == 0:
            row = (n_keys - 1 - k) * pixels_per_key
            image[row:row + pixels_per_key] = (240, 240, 248)
    bar = beats_per_bar * roll.steps_per_quarter
    for t in range(0, T, bar):
        image[:, t * pixels_per_step] = (200, 200, 200)
    for t, k in zip(*np.nonzero(keys[:, low:high + 1])):
        row, col = (n_keys - 1 - k) * pixels_per_key, t * pixels_per_step
        colour = (150, 150, 150) if t < primer_steps else (20, 60, 160)
        image[row + 1:row + pixels_per_key, col:col + pixels_per_step] = colour
    return Image.fromarray(image)


def save_roll_png(roll: PianoRoll, path: str | Path, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    roll_image(roll, **kwargs).save(path)
    return path
