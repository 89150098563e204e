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


def use_threads(n_threads: int) -> None:
    """CPU threads torch may use in this process (a whole number of at least 1)."""
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise InputError(f"threads must be a whole number of at least 1, got {n_threads!r}")
    torch.set_num_threads(n_threads)


def describe_machine(device: str | torch.device | None = None) -> str:
    """One line saying what this process computes on, for model cards and benchmark reports: the
    GPU by name, or the CPU's model name, its cores and torch's threads."""
    import os
    import platform

    device = torch.device("cuda" if device is None and torch.cuda.is_available() else device or "cpu")
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{cpu} ({os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s), no GPU; "
            f"torch {torch.__version__})")
