"""A synthetic handwriting corpus from single-line (Hershey) fonts.

No real online handwriting can be had offline, so the training corpus is made of pen paths from
single-line fonts (A. V. Hershey's fonts, via the PyPI package Hershey-Fonts), laid out as lines
and augmented so that they look and move like handwriting: slant, scale, baseline drift, smooth
wobble, jitter, letter spacing, varying pen speed, and strokes joined where the pen would not
lift. It has a handful of styles, not hundreds of writers.

Hershey font licence: the fonts were made by Dr. A. V. Hershey at the U.S. National Bureau of
Standards; use is free provided the origin is acknowledged (see the package's licence).
"""
from __future__ import annotations

import dataclasses
import functools
import random

import numpy as np

from synth.errors import InputError
from synth.handwriting.ink import Ink, resample_stroke
from synth.handwriting.text import ALPHABET

ATTRIBUTION = ("Hershey fonts by Dr. A. V. Hershey (U.S. National Bureau of Standards), "
               "via the PyPI package Hershey-Fonts; free use with acknowledgement of the origin")
#: Hershey units: x-height is about 9, capitals about 21; lines are scaled so the capital height is 1.
CAP_HEIGHT_UNITS = 21.0


@dataclasses.dataclass(frozen=True)
class HandStyle:
    """One writing style of the corpus: a single-line font face and the habits of its writer."""

    id: int
    name: str
    face: str  # a Hershey-Fonts face with single-line glyphs
    slant: float  # shear: x += slant * height above the baseline
    width: float  # horizontal scale of the glyphs
    letter_spacing: float  # extra space between letters, Hershey units
    word_spacing: float  # extra space between words, Hershey units
    spacing: float  # pen-point spacing (Hershey units); smaller = slower pen, more points
    wobble: float  # amplitude of the smooth wobble, Hershey units
    join_distance: float  # strokes whose ends are this close are joined (no pen lift)


STYLES = (
    HandStyle(0, "flowing", "scripts", slant=0.30, width=1.00, letter_spacing=0.0, word_spacing=2.0,
              spacing=5.0, wobble=0.5, join_distance=3.0),
    HandStyle(1, "upright", "cursive", slant=0.02, width=1.12, letter_spacing=1.0, word_spacing=4.0,
              spacing=5.5, wobble=0.35, join_distance=2.0),
    HandStyle(2, "print", "futural", slant=0.12, width=0.92, letter_spacing=1.5, word_spacing=3.0,
              spacing=4.7, wobble=0.4, join_distance=1.0),
    HandStyle(3, "narrow", "rowmans", slant=0.38, width=0.72, letter_spacing=-0.5, word_spacing=1.0,
              spacing=4.3, wobble=0.6, join_distance=4.0),
)


def style_by_name(name: str | int) -> HandStyle:
    for style in STYLES:
        if str(name) in (style.name, str(style.id)):
            return style
    raise InputError(f"unknown style {name!r}; bundled styles: "
                     + ", ".join(f"{s.id} ({s.name})" for s in STYLES))


@functools.lru_cache(maxsize=None)
def _glyphs(face: str) -> dict[str, tuple[int, int, list[np.ndarray]]]:
    """char -> (left_offset, char_width, strokes in glyph coordinates) for every char of ALPHABET."""
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font(face)
    table = {}
    for char in ALPHABET:
        glyphs = list(font.glyphs_for_text(char))
        if not glyphs:
            raise InputError(f"the Hershey face {face!r} has no glyph for {char!r}")
        glyph = glyphs[0]
        table[char] = (glyph.left_offset, glyph.char_width,
                       [np.asarray(s, dtype=np.float64) for s in glyph.strokes if len(s)])
    return table


def layout(text: str, style: HandStyle, rng: random.Random | None = None) -> list[np.ndarray]:
    """The font's strokes for ``text`` set on a line (Hershey units, baseline at y = 9)."""
    table = _glyphs(style.face)
    strokes, cursor = [], 0.0
    for char in text:
        left, width, glyph_strokes = table[char]
        extra = style.word_spacing if char == " " else style.letter_spacing
        if rng is not None:
            extra += rng.gauss(0.0, 0.6)
        x0 = cursor - left
        strokes.extend(s + np.array([x0, 0.0]) for s in glyph_strokes)
        cursor += width + extra
    return strokes


def join_strokes(strokes: list[np.ndarray], distance: float) -> list[np.ndarray]:
    """Join a stroke to the one before when it starts within ``distance`` of where that one ended
    (a writer would not lift the pen)."""
    joined: list[np.ndarray] = []
    for stroke in strokes:
        if joined and np.linalg.norm(stroke[0] - joined[-1][-1]) <= distance:
            joined[-1] = np.concatenate([joined[-1], stroke[1:] if np.allclose(stroke[0], joined[-1][-1]) else stroke])
        else:
            joined.append(stroke)
    return joined


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, wavelength: float, n_waves: int = 3) -> np.ndarray:
    """A smooth random function of t: a sum of sinusoids around ``wavelength``, unit-ish amplitude."""
    out = np.zeros_like(t)
    for _ in range(n_waves):
        frequency = 2 * np.pi / (wavelength * rng.uniform(0.6, 1.6))
        out += rng.normal() * np.sin(frequency * t + rng.uniform(0, 2 * np.pi)) / np.sqrt(n_waves)
    return out


def handwrite(text: str, style: HandStyle, seed: int, *, augment: bool = True) -> Ink:
    """Write ``text`` as a line of pen strokes in ``style``, with this line's own random
    variation (same seed, same line). The result is scaled so that the capital height is 1."""
    unknown = sorted(set(text) - set(ALPHABET))
    if unknown:
        raise InputError(f"characters {unknown} are not in the corpus alphabet {ALPHABET!r}")
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    strokes = layout(text, style, rng if augment else None)
    if not strokes:
        raise InputError(f"nothing to write for {text!r}")
    strokes = join_strokes(strokes, style.join_distance)
    slant = style.slant + (rng.gauss(0.0, 0.06) if augment else 0.0)
    width = style.width * (rng.uniform(0.92, 1.08) if augment else 1.0)
    line_length = max(float(np.concatenate(strokes)[:, 0].max()), 1.0)
    out = []
    # Baseline drift: a slow curve over the whole line plus a slight tilt.
    drift = [noise.normal(0, 1.2), noise.uniform(0.5, 1.5) * line_length, noise.uniform(0, 2 * np.pi),
             noise.normal(0, 0.02)] if augment else [0.0, 1.0, 0.0, 0.0]
    for stroke in strokes:
        x, y = stroke[:, 0].copy(), stroke[:, 1].copy()
        height_above_baseline = 9.0 - y
        x = x * width + slant * height_above_baseline
        y = y + drift[0] * np.sin(2 * np.pi * x / drift[1] + drift[2]) + drift[3] * x
        points = np.stack([x, y], axis=1)
        if augment:
            # Pen speed varies smoothly along the stroke: the spacing of samples follows it.
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
            speed = np.clip(1.0 + 0.25 * _smooth_noise(noise, arc, 25.0), 0.55, 1.6)
            points = resample_stroke(points, style.spacing * rng.uniform(0.9, 1.1) * speed)
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
            # Smooth wobble along the path, then a little jitter on every point.
            points = points + style.wobble * np.stack([_smooth_noise(noise, arc, 18.0), _smooth_noise(noise, arc, 18.0)], 1)
            points = points + noise.normal(0, 0.12, points.shape)
        else:
            points = resample_stroke(points, style.spacing)
        out.append(points)
    scale = (rng.uniform(0.9, 1.1) if augment else 1.0) / CAP_HEIGHT_UNITS
    return Ink([p * scale for p in out], text, writer=style.name)


@dataclasses.dataclass
class CorpusLine:
    text: str
    style: int
    offsets: np.ndarray  # (T, 3) dx, dy, end_of_stroke


def build_corpus(texts: list[str], seed: int = 0, progress: bool = True) -> list[CorpusLine]:
    """Each text written once in a style drawn at random (seeded), as offsets."""
    from tqdm import tqdm

    rng = random.Random(seed)
    lines = []
    for i, text in enumerate(tqdm(texts, desc="writing corpus", unit="line", disable=not progress)):
        style = STYLES[rng.randrange(len(STYLES))]
        ink = handwrite(text, style, seed=seed * 1_000_003 + i)
        lines.append(CorpusLine(text, style.id, ink.to_offsets()))
    return lines


def save_corpus(path, lines: list[CorpusLine]) -> None:
    lengths = np.array([len(line.offsets) for line in lines], dtype=np.int64)
    np.savez_compressed(path, offsets=np.concatenate([line.offsets for line in lines]), lengths=lengths,
                        styles=np.array([line.style for line in lines], dtype=np.int64),
                        texts=np.array([line.text for line in lines]))


def load_corpus(path) -> list[CorpusLine]:
    with np.load(path, allow_pickle=False) as f:
        offsets, lengths, styles, texts = f["offsets"], f["lengths"], f["styles"], f["texts"]
    pieces = np.split(offsets, np.cumsum(lengths)[:-1])
    return [CorpusLine(str(t), int(s), o) for t, s, o in zip(texts, styles, pieces)]
