"""The one hash split: which of train / valid / test an item (a piece, a clip, a line of text)
belongs to, fixed by a seed and the item's name alone, so a data set built twice, or grown,
keeps every old item where it was.

One bucket order: the first ``valid_fraction`` of the hash range is valid, the next
``test_fraction`` is test, the rest is train.
"""
from __future__ import annotations

import hashlib

from synth.errors import InputError

SPLITS = ("train", "valid", "test")


def hash_split(name: str, seed: int = 0, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """'train', 'valid' or 'test' for ``name``: a uniform number u in [0, 1) from
    sha256(f"{seed}:{name}"), valid when u < valid_fraction, test when u < valid_fraction +
    test_fraction, else train."""
    if not (0.0 <= valid_fraction and 0.0 <= test_fraction and valid_fraction + test_fraction <= 1.0):
        raise InputError(f"split fractions must be at least 0 and sum to at most 1, got valid {valid_fraction}, "
                         f"test {test_fraction}")
    u = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big") / 2 ** 64
    return "valid" if u < valid_fraction else "test" if u < valid_fraction + test_fraction else "train"
