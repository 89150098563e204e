"""What every judge runs on: its optional package (a missing one is an InputError naming what to
install), an ONNX session on $OMP_NUM_THREADS threads (the CPU is shared with training), and its
input: mono float32 audio at the rate the judge hears."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from synth.errors import InputError

#: The rate pocketsphinx's en-us model, DNSMOS and wide-band PESQ expect.
JUDGE_SAMPLE_RATE = 16000

INSTALL_HINT = ("install the judges: pip install -e '.[judges]' and pip install --no-deps basic-pitch==0.4.0 "
                "(setup.sh does both)")


def require_package(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InputError(f"the judge needs the Python package {module!r}, which could not be imported ({exc}); "
                         f"{INSTALL_HINT}") from None


def mono_float(audio, name: str = "audio") -> np.ndarray:
    """Any 1-D float array-like (numpy or torch) -> float32 (T,); InputError when empty or not finite."""
    if hasattr(audio, "detach"):
        audio = audio.detach().float().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        if audio.size != max(audio.shape, default=0):  # (1, T) or (T, 1) are mono; (2, T) is not
            raise InputError(f"{name}: expected mono audio (one dimension of samples), got shape {audio.shape}")
        audio = audio.reshape(-1)
    if audio.size == 0:
        raise InputError(f"{name}: the audio is empty (0 samples)")
    if not np.all(np.isfinite(audio)):
        raise InputError(f"{name}: the audio contains NaN or infinite samples")
    return audio


def at_rate(audio, rate: int, target: int = JUDGE_SAMPLE_RATE) -> np.ndarray:
    audio = mono_float(audio)
    if int(rate) <= 0:
        raise InputError(f"sample rate {rate}: must be a positive number of samples per second")
    if int(rate) == target:
        return audio
    import librosa

    return librosa.resample(audio, orig_sr=int(rate), target_sr=target).astype(np.float32)


def onnx_session(path: str | Path):
    """An onnxruntime session with $OMP_NUM_THREADS intra-op threads (default 1) and no inter-op pool:
    onnxruntime would otherwise take every core, which training jobs hold here."""
    ort = require_package("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

