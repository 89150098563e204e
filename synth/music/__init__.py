"""Symbolic music: MIDI reading and writing, piano rolls, scores from the music21 corpus, and
rendering MIDI to audio (FluidSynth with a sampled piano)."""
from synth.music.midi import MAX_MIDI_BYTES, piano_midi, read_midi, write_midi
from synth.music.pianoroll import (N_KEYS, LOWEST_KEY, PianoRoll, conditioning_frames, conditioning_roll,
                                   sustained_notes)

__all__ = ["MAX_MIDI_BYTES", "piano_midi", "read_midi", "write_midi", "N_KEYS", "LOWEST_KEY", "PianoRoll",
           "conditioning_frames", "conditioning_roll", "sustained_notes"]
