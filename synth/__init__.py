"""synth: autoregressive generation of sound, handwriting and music with one sampling engine."""
__version__ = "0.1.0"
