"""Phonemes for the text-to-mel network: normalised English text -> IPA by espeak-ng, stress
marked, with the text's commas, full stops and semicolons kept in place.

Why: English spelling is a poor guide to sound, and a network that learns the rules from 74
minutes of one speaker (Kathleen) hears each rule too few times; with phonemes it only has to
learn what each sound looks like in a spectrogram. espeak-ng is a Debian package (setup.sh
installs it; it is also the judges' baseline voice). It runs as a separate program, one call per
batch of texts (the Python bindings of the field, phonemizer, are GPL and this project is MIT).
"""
from __future__ import annotations

import re
import shutil
import subprocess

from synth.errors import InputError

#: What espeak-ng writes for US English, measured over the Kathleen transcripts and 3,000 IAM-OnDB
#: lines (no other symbol appeared), plus a few of its rarer English phonemes (r, x, ɒ, ɬ), and
#: the marks kept. Index 0, the space, pads.
PHONEMES = " ,.;" + "abdefhijklmnoprstuvwxzæðŋɐɑɒɔəɚɛɜɡɪɬɹɾʃʊʌʒʔˈˌː̩θᵻ"
#: Marks kept in place (``synth.tts.normalise`` writes every other mark into these): each piece of
#: text between them is phonemised on its own, as the phrase it is.
PUNCTUATION = ",.;"
ESPEAK_NG = "espeak-ng"
TIMEOUT_SECONDS = 60
#: Sentences remembered per (language, inventory): reading one sentence asks for its phonemes
#: several times (its step budget, the network's start, retries), each an espeak-ng process.
CACHE_SENTENCES = 4096
_cache: dict[tuple[str, str, str], str] = {}


def _espeak(pieces: list[str], language: str) -> list[str]:
    """Pieces of text without marks -> their IPA, one string each (one espeak-ng call: the pieces
    go in as paragraphs, separated by blank lines, and come out the same way)."""
    if shutil.which(ESPEAK_NG) is None:
        raise InputError("this speech model reads phonemes and needs the Debian package espeak-ng (setup.sh "
                         "installs it)")
    try:
        done = subprocess.run([ESPEAK_NG, "-q", "--ipa", "-v", language], input="\n\n".join(pieces) + "\n",
                              capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as error:
        raise InputError(f"espeak-ng took more than {TIMEOUT_SECONDS} s to phonemise {len(pieces)} pieces") from error
    if done.returncode != 0:
        raise InputError(f"espeak-ng could not phonemise {language!r} text: {done.stderr.strip()[:200]}")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", done.stdout.strip())]
    if len(paragraphs) != len(pieces):
        raise InputError(f"espeak-ng gave {len(paragraphs)} phrases for {len(pieces)} pieces of text")
    return paragraphs


def phonemise(texts: list[str], language: str = "en-us", inventory: str = PHONEMES) -> list[str]:
    """Normalised sentences -> their phonemes, one string per text, with its marks where they were
    ("hello, world." -> "həlˈoʊ, wˈɜːld."). Symbols outside ``inventory`` (a phoneme espeak-ng
    writes for some rare foreign word) are left out: the network has no embedding for them. A text
    reads the same alone or in a batch, so sentences already phonemised are taken from a cache and
    only the others go to espeak-ng (one call)."""
    missing = list(dict.fromkeys(t for t in texts if (language, inventory, t) not in _cache))
    if missing:
        if len(_cache) + len(missing) > CACHE_SENTENCES:
            _cache.clear()
        _cache.update(((language, inventory, t), p) for t, p in zip(missing, _phonemise(missing, language, inventory)))
    return [_cache[(language, inventory, t)] for t in texts]


def _phonemise(texts: list[str], language: str, inventory: str) -> list[str]:
    pieces: list[str] = []
    layouts: list[list[tuple[int | None, str]]] = []  # per text: (piece index or None, mark after it)
    for text in texts:
        parts = re.split(rf"\s*([{re.escape(PUNCTUATION)}])\s*", text.strip())  # piece, mark, piece, ...
        layout = []
        for i in range(0, len(parts), 2):
            piece, mark = parts[i].strip(), parts[i + 1] if i + 1 < len(parts) else ""
            if piece:
                layout.append((len(pieces), mark))
                pieces.append(piece)
            elif mark:
                layout.append((None, mark))
        layouts.append(layout)
    phonemes = _espeak(pieces, language) if pieces else []
    known = set(inventory)
    out = []
    for layout in layouts:
        read = ""
        for index, mark in layout:
            if index is not None:
                read += (" " if read else "") + "".join(c for c in phonemes[index] if c in known)
            read += mark
        out.append(" ".join(read.split()))
    return out
