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


def stoi_pesq(reference, estimate, rate: int) -> dict[str, float]:
    """STOI and wide-band PESQ of ``estimate`` against ``reference`` at 16 kHz (wide-band PESQ is
    defined at 16 kHz only), by ``synth.evaluation.pesq_stoi``; keys "stoi", "pesq_wb"."""
    from synth.evaluation import pesq_stoi

    return pesq_stoi(at_rate(reference, rate), at_rate(estimate, rate), JUDGE_SAMPLE_RATE)

