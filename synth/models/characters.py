"""The character input of the two networks that read text through a Gaussian window (handwriting
synthesis, text to mel): refusing text outside a model's vocabulary, naming every character that
is not in it, and turning texts into padded character ids."""
from __future__ import annotations

import torch

from synth.errors import InputError


def check_vocabulary(text: str, vocabulary: str, *, what: str = "text", hint: str = "") -> str:
    """``text`` when every character of it is in ``vocabulary``; else an InputError naming the
    characters that are not (each once, sorted) and what is allowed, then ``hint`` (how to get
    text into the vocabulary, if the caller knows a way)."""
    unknown = sorted(set(text) - set(vocabulary))
    if unknown:
        raise InputError(f"{what} has characters outside the model's vocabulary: "
                         f"{' '.join(repr(c) for c in unknown)}; allowed: {vocabulary!r}{hint}")
    return text


def character_ids(texts: list[str], vocabulary: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Character ids (B, U) padded with 0, and lengths (B,). Texts must pass ``check_vocabulary``."""
    index = {c: i for i, c in enumerate(vocabulary)}
    lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)  # (B,)
    ids = torch.zeros(len(texts), int(lengths.max()), dtype=torch.long)  # (B, U)
    for row, text in enumerate(texts):
        ids[row, :len(text)] = torch.tensor([index[c] for c in text], dtype=torch.long)
    return ids, lengths
