"""Speech quality: without a reference, DNSMOS (Microsoft DNSMOS P.835 via ``speechmos``: overall /
signal / background on a 1-5 scale; Reddy et al., ICASSP 2022); against the original, STOI and
wide-band PESQ (``synth.evaluation.pesq_stoi``)."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from synth.judges.runtime import JUDGE_SAMPLE_RATE, at_rate, onnx_session, require_package

@functools.lru_cache(maxsize=1)
def _dnsmos_model():
    require_package("speechmos")
    from speechmos import dnsmos as speechmos_dnsmos

    folder = Path(speechmos_dnsmos.__file__).parent / "dnsmos_models"
    model = object.__new__(speechmos_dnsmos.DNSMOS)  # its __init__ builds sessions on every core
    model.primary_model_path = str(folder / "sig_bak_ovr.onnx")
    model.onnx_sess = onnx_session(folder / "sig_bak_ovr.onnx")
    model.p808_onnx_sess = onnx_session(folder / "model_v8.onnx")
    return model


def dnsmos(audio, rate: int) -> dict[str, float]:
    """DNSMOS P.835 (non-personalised) of one clip: {"overall", "sig", "bak", "p808"} on 1-5.

    DNSMOS scores 9.01 s windows (hop 1 s) and averages them; speechmos repeats a shorter clip end to
    end until it fills one window. Samples are clipped to [-1, 1] first (the model's input range).
    """
    samples = np.clip(at_rate(audio, rate), -1.0, 1.0).astype(np.float32)
    scores = _dnsmos_model()(samples, JUDGE_SAMPLE_RATE, False)
    return {"overall": float(scores["ovrl_mos"]), "sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"]),
            "p808": float(scores["p808_mos"])}


#: Below this level (dBFS, a 25 ms frame's RMS) a frame counts as silence for ``active_fraction``.
SILENCE_DBFS = -50.0


def active_fraction(audio, rate: int, floor_dbfs: float = SILENCE_DBFS, frame_seconds: float = 0.025) -> float:
    """The fraction of a clip's 25 ms frames louder than ``floor_dbfs`` (RMS, full scale 1.0): how
    much of it is sound at all. DNSMOS scores near-silence as clean, so a babble sample that stays
    silent can outscore speech-like sound; this is the check beside it."""
    samples = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = max(1, int(round(frame_seconds * rate)))
    if len(samples) < n:
        return 0.0
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    level = 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)
    return float(np.mean(level > floor_dbfs))


def mean_active_fraction(clips, rate: int) -> float:
    """``active_fraction`` averaged over clips, to 4 places (the babble tables' "sound" column)."""
    return round(float(np.mean([active_fraction(clip, rate) for clip in clips])), 4)


def stoi_pesq(reference, estimate, rate: int) -> dict[str, float]:
    """STOI and wide-band PESQ of ``estimate`` against ``reference`` at 16 kHz (wide-band PESQ is
    defined at 16 kHz only), by ``synth.evaluation.pesq_stoi``; keys "stoi", "pesq_wb"."""
    from synth.evaluation import pesq_stoi

    return pesq_stoi(at_rate(reference, rate), at_rate(estimate, rate), JUDGE_SAMPLE_RATE)

