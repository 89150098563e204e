"""The models. Each registers itself with the checkpoint format under its ``kind``."""
from synth.models.wavenet import NaiveWaveNet, WaveNet, WaveNetConfig

MODELS = {model.kind: model for model in (WaveNet,)}

__all__ = ["MODELS", "NaiveWaveNet", "WaveNet", "WaveNetConfig"]
