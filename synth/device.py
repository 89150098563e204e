"""Where models run: a GPU when one is present, else the CPU."""
from __future__ import annotations

import torch

from synth.errors import InputError


def pick_device(name: str = "auto") -> torch.device:
    """'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {name!r} asked for, but no CUDA GPU is available here; use 'cpu' or 'auto'")
    try:
        return torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; allowed: auto, cpu, cuda, cuda:N") from None
