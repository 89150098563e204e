"""Speech intelligibility: pocketsphinx's transcript (its bundled en-us acoustic model, dictionary
and language model) against the text, as a word error rate (``jiwer`` for the alignment), with
both texts normalised by ``normalise_text``."""
from __future__ import annotations

import functools
import re

import numpy as np

from synth.errors import InputError
from synth.judges.runtime import JUDGE_SAMPLE_RATE, at_rate, require_package

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"), (100, "hundred"))


def number_words(n: int) -> str:
    """A non-negative integer in English words, as cardinals are read: 1908 -> 'one thousand nine
    hundred eight' (no 'and'; years read 'nineteen oh eight' are not guessed)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for scale, word in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{number_words(head)} {word}" + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)


def _spell_number(match: re.Match) -> str:
    whole, fraction = match.group(1).replace(",", ""), match.group(2)
    words = number_words(int(whole)) if len(whole) <= 12 else " ".join(_ONES[int(d)] for d in whole)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return f" {words} "


def normalise_text(text: str) -> str:
    """The form both transcripts are compared in: lower case, numbers as words, hyphens and
    punctuation removed (apostrophes inside words kept: pocketsphinx's dictionary spells "don't"),
    single spaces."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(\d[\d,]*)(?:\.(\d+))?", _spell_number, text)
    text = re.sub(r"[^a-z0-9' ]+", " ", text)  # hyphens, punctuation, symbols
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, not apostrophes within words
    return " ".join(text.split())


# ----------------------------------------------------------------------------- speech recognition

@functools.lru_cache(maxsize=1)
def _sphinx_decoder():
    pocketsphinx = require_package("pocketsphinx")
    # Decoder() defaults to the en-us acoustic model, cmudict-en-us.dict and en-us.lm.bin in the wheel
    return pocketsphinx.Decoder(samprate=JUDGE_SAMPLE_RATE, loglevel="FATAL")


def transcribe(audio, rate: int) -> str:
    """pocketsphinx's best hypothesis for the audio (en-us, 16 kHz), normalised; '' when it hears no word."""
    samples = at_rate(audio, rate)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    decoder = _sphinx_decoder()
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return normalise_text(hypothesis.hypstr) if hypothesis is not None else ""


def corpus_word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """(substitutions + deletions + insertions) / reference words, summed over all clips (jiwer),
    on normalised texts. An empty hypothesis counts every reference word as deleted."""
    jiwer = require_package("jiwer")
    references = [normalise_text(r) for r in references]
    hypotheses = [normalise_text(h) for h in hypotheses]
    if len(references) != len(hypotheses):
        raise InputError(f"{len(references)} reference texts for {len(hypotheses)} hypotheses: they must pair up")
    empty = [i for i, r in enumerate(references) if not r]
    if empty:
        raise InputError(f"reference text {empty[0]} has no words after normalisation; a word error rate needs words")
    return float(jiwer.wer(references, hypotheses))


def word_error_rate(audio, rate: int, reference_text: str) -> float:
    """Word error rate of pocketsphinx's transcript of ``audio`` against ``reference_text``
    (0 is perfect; 1 when nothing is recognised; it can exceed 1 with insertions)."""
    return corpus_word_error_rate([reference_text], [transcribe(audio, rate)])

