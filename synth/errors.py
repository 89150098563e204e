"""Errors a user can cause. Each message says what was wrong and what is allowed."""


class SynthError(Exception):
    """Base class of every error raised at synth's boundary."""


class InputError(SynthError, ValueError):
    """A request was outside what is allowed (an absurd length, an unknown speaker, ...)."""


class CheckpointError(SynthError):
    """A checkpoint is missing, damaged or does not match its model."""


class AudioError(SynthError):
    """An audio file could not be read or is unusable."""
