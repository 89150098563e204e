"""Every bound on a request, defined once.

A face (the app or the command) names the ``Limits`` it serves under; the services check each
request against them here, with one message per bound saying what was wrong and what is allowed.
The app serves whoever can reach it, so its limits are tighter; the command runs on the user's
own time and machine, so it allows what the library allows. The library's own ceilings (seconds
of a WaveNet generation, bars of a composition, characters of handwriting) are the command's
limits, taken from where they are defined. Temperature has one bound for every face, in the
``Temperature`` policy (``synth.sampling.policies.MAX_TEMPERATURE``).
"""
from __future__ import annotations

import dataclasses
import math
import numbers

from synth.errors import InputError
from synth.handwriting.writer import MAX_TEXT_CHARS as MAX_HANDWRITING_CHARS
from synth.music.composition import MAX_BARS as MAX_COMPOSER_BARS
from synth.music.composition import MAX_BATCH as MAX_COMPOSER_BATCH
from synth.sampling.policies import MAX_TEMPERATURE  # noqa: F401  (re-exported: the faces' sliders use it)
from synth.tts.normalise import MAX_TEXT_CHARS as MAX_TTS_CHARS

#: The longest audio the command generates in one request (seconds).
MAX_GENERATION_SECONDS = 600.0
#: Streams of plain WaveNet generation at once (``synth wavenet generate --batch``).
MAX_WAVENET_BATCH = 1024
#: Seeds are whole numbers from 0 to this (the app's seed box and the command alike).
MAX_SEED = 2 ** 31 - 1
#: The shortest recorded clip worth resynthesising (seconds).
MIN_CLIP_SECONDS = 0.1


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one face allows in a single request."""

    face: str                  # how messages name the face ("the app", "synth")
    speech_seconds: float      # speech generated
    piano_seconds: float       # a piece played through the piano WaveNet
    clip_seconds: float        # a clip to resynthesise
    clip_bytes: int            # its file size
    composer_bars: int         # new bars composed
    composer_batch: int        # pieces composed at once
    handwriting_chars: int     # text written by hand
    longer_elsewhere: str = ""  # where a longer request can go, said when one is refused
    tts_chars: int = MAX_TTS_CHARS  # text read aloud


#: The command: what the library allows.
COMMAND = Limits(face="synth", speech_seconds=MAX_GENERATION_SECONDS, piano_seconds=MAX_GENERATION_SECONDS,
                 clip_seconds=MAX_GENERATION_SECONDS, clip_bytes=2 * 1024 ** 3, composer_bars=MAX_COMPOSER_BARS,
                 composer_batch=MAX_COMPOSER_BATCH, handwriting_chars=MAX_HANDWRITING_CHARS)
#: The app: short requests, so a shared queue keeps moving.
APP = Limits(face="the app", speech_seconds=10.0, piano_seconds=30.0, clip_seconds=20.0, clip_bytes=50 * 1024 ** 2,
             composer_bars=64, composer_batch=1, handwriting_chars=200,
             longer_elsewhere=" (the `synth` command takes longer requests)", tts_chars=500)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_seconds(seconds, limit: float, what: str = "seconds") -> float:
    """A length in seconds: more than 0 and at most ``limit``."""
    if not _is_number(seconds) or not math.isfinite(seconds) or not 0 < seconds <= limit:
        raise InputError(f"{what} must be more than 0 and at most {limit:g}, got {seconds!r}")
    return float(seconds)


def check_whole_number(value, what: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high``; a float that is whole (as sliders send) is taken."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise InputError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def check_seed(seed) -> int | None:
    """None (a fresh seed each time) or a whole number from 0 to ``MAX_SEED``."""
    return None if seed is None else check_whole_number(seed, "the seed", 0, MAX_SEED)


def check_text(text, limits: Limits) -> str:
    """Text to write: not empty, at most ``limits.handwriting_chars`` characters; carriage
    returns dropped (a browser's line ends)."""
    if not isinstance(text, str):
        raise InputError(f"the text must be a string, got {type(text).__name__}")
    text = text.replace("\r", "")
    if not text.strip():
        raise InputError("the text is empty: give at least one character to write")
    if len(text) > limits.handwriting_chars:
        raise InputError(f"the text is {len(text)} characters long; {limits.face} writes at most "
                         f"{limits.handwriting_chars}{limits.longer_elsewhere}")
    return text
