"""Text for speech: normalisation (numbers, money, times, abbreviations) into the characters the
text-to-speech model reads, with clear refusals, and splitting long text into sentences."""
from synth.tts.normalise import CHARACTERS, UnreadableTextError, normalise, split_sentences

__all__ = ["CHARACTERS", "UnreadableTextError", "normalise", "split_sentences"]
