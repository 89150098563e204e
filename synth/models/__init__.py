"""The models. Each registers itself with the checkpoint format under its ``kind``."""
from synth.models.composer import Composer, ComposerConfig
from synth.models.handwriting import HandwritingConfig, HandwritingPrediction, HandwritingSynthesis
from synth.models.tts import TextToMel, TextToMelConfig
from synth.models.wavenet import WaveNet, WaveNetConfig
from synth.models.wavenet_generation import GenerationOptions, NaiveWaveNet, WaveNetGenerator

MODELS = {model.kind: model for model in (WaveNet, Composer, HandwritingPrediction, HandwritingSynthesis, TextToMel)}

__all__ = ["MODELS", "Composer", "ComposerConfig", "GenerationOptions", "HandwritingConfig", "HandwritingPrediction",
           "HandwritingSynthesis", "NaiveWaveNet", "TextToMel", "TextToMelConfig", "WaveNet", "WaveNetConfig",
           "WaveNetGenerator"]
