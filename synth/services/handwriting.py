"""Handwriting: text to ink with Graves's synthesis network (2013), optionally in a bundled style
or in the style of the user's own line of ink; the ink drawn as the pen went, saved as SVG, PNG,
GIF or JSON, and the attention window pictured."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.handwriting.ink import Ink
from synth.handwriting.render import FORMATS, attention_figure, to_png, write_ink
from synth.handwriting.writer import DEFAULT_MAX_RETRIES, WriteResult, write_text
from synth.services import bounds
from synth.services.bounds import COMMAND, Limits
from synth.services.models import checkpoint_path, load_model

STYLES_FILE = "styles.json"
#: Suffixes of a user's own style line: IAM-OnDB XML, JSON strokes, an SVG path.
STYLE_FILE_SUFFIXES = (".xml", ".json", ".svg")


def styles(checkpoint: str | Path | None = None) -> list[dict]:
    """The bundled styles beside the handwriting checkpoint ({"id", "name", "text", "strokes"}),
    [] when it has none; CheckpointError when the styles file is damaged."""
    from synth.handwriting.styles import bundled_styles

    path = checkpoint_path("handwriting", checkpoint) / STYLES_FILE
    return bundled_styles(path) if path.is_file() else []


def data_terms(checkpoint: str | Path | None = None) -> str | None:
    """Where the handwriting model's ink came from and on what terms (for IAM-OnDB: non-commercial
    research use only): the checkpoint's ``licence`` (its config.json metadata), else its styles
    file's ``source``; None when neither says (or the model is missing: the model line says so)."""
    import json

    directory = checkpoint_path("handwriting", checkpoint)
    terms = None
    for path, read in ((directory / "config.json", lambda d: d.get("metadata", {}).get("licence")),
                       (directory / STYLES_FILE, lambda d: d.get("source"))):
        try:
            terms = read(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(terms, str) and terms.strip():
            return terms
    return None


def style_pictures(checkpoint: str | Path | None = None) -> list[tuple[str, bytes, str]]:
    """(name, PNG of its primer line, caption) of every bundled style."""
    return [(style["name"], to_png([Ink([np.asarray(s) for s in style["strokes"]], style["text"])]),
             f"{style['name']}: \"{style['text']}\"") for style in styles(checkpoint)]


def find_style(style: str | int | Path | None, text: str | None, checkpoint: str | Path | None, config) -> Ink | None:
    """A style to write in: None; a user's own line of ink (a path ending in .xml, .json or .svg,
    saying ``text`` when the file does not carry it), checked for a model with ``config`` as a
    canvas's strokes are; or a bundled style by id or name."""
    from synth.handwriting.styles import bundled_style, style_file_primer

    if style is None or style == "":
        return None
    if Path(str(style)).suffix.lower() in STYLE_FILE_SUFFIXES:
        return style_file_primer(style, text, config)
    return bundled_style(checkpoint_path("handwriting", checkpoint) / STYLES_FILE, style)


def check_ink_path(path: str | Path) -> Path:
    """An output file whose suffix says a format ink can be written in."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"--out {path}: unknown format {path.suffix!r}; allowed: {', '.join(FORMATS)}")
    return path


def write(text: str, *, style: str | int | Path | None = None, style_text: str | None = None,
          strokes: str | bytes | None = None, bias: float = 1.0,
          temperature: float = 1.0, seed: int | None = None, line_chars: int = 40,
          max_retries: int = DEFAULT_MAX_RETRIES, record: bool = False, limits: Limits = COMMAND,
          checkpoint: str | Path | None = None, device: str = "auto") -> WriteResult:
    """The text written by hand, split into lines of at most ``line_chars`` characters, in the style
    given (or, without one, in the style of the first line written). ``strokes``: the user's own
    line as strokes JSON (a canvas's), saying ``style_text``; the text continues in that hand
    (Graves 2013, 5.5). ``record`` keeps each line's attention window (``line.phi``) for
    ``attention_picture``."""
    from synth.handwriting.styles import strokes_primer

    model = load_model("handwriting", checkpoint, device)
    text = bounds.check_text(text, limits)
    if strokes is not None and style not in (None, ""):
        raise InputError("give either a style or your own strokes, not both")
    if strokes is not None:
        style_ink = strokes_primer(strokes, style_text, model.config)
    else:
        style_ink = find_style(style, style_text, checkpoint, model.config)
    return write_text(model, text, style=style_ink, line_chars=line_chars, bias=float(bias),
                      temperature=float(temperature), seed=bounds.check_seed(seed), max_retries=max_retries,
                      record=record)


def inks(result: WriteResult) -> list[Ink]:
    return [line.ink for line in result.lines]


def first_points(lines: list[Ink], n: int) -> list[Ink]:
    """The lines cut after their first ``n`` pen points (the ink as the pen has drawn it so far)."""
    out = []
    for ink in lines:
        strokes = []
        for stroke in ink.strokes:
            if n <= 0:
                break
            strokes.append(stroke[:n])
            n -= len(stroke)
        out.append(Ink(strokes or [ink.strokes[0][:1]], ink.text))
        if n <= 0:
            break
    return out


def drawing(result: WriteResult, frames: int = 4) -> list[bytes]:
    """PNGs of the ink as the pen drew it, ``frames`` times in equal shares of its points."""
    lines = inks(result)
    total = sum(ink.n_points for ink in lines)
    return [to_png(first_points(lines, total * k // frames)) for k in range(1, frames + 1)]


def save_ink(result: WriteResult, path: str | Path, **looks) -> Path:
    """The written lines as one file, its format named by the suffix (.svg, .png, .gif, .json);
    ``looks`` (stroke_width, colour) apply to the pictures."""
    path = check_ink_path(path)
    return write_ink(path, inks(result), **({} if path.suffix.lower() == ".json" else looks))


def attention_picture(result: WriteResult, path: str | Path) -> Path | None:
    """The first line's attention window as a PNG (None when it was not recorded)."""
    first = result.lines[0]
    if first.phi is None:
        return None
    if Path(path).suffix.lower() != ".png":
        raise InputError(f"--attention {path}: the attention picture is a .png")
    return attention_figure(path, first.phi, first.text, first.ink)


def speed(checkpoint: str | Path | None = None, repeats: int = 5, device: str = "cpu") -> dict:
    """The handwriting speed benchmark (``synth.handwriting.evaluation.speed``) on a role's model."""
    from synth.handwriting.evaluation import speed as measure

    return measure(load_model("handwriting", checkpoint, device), checkpoint_path("handwriting", checkpoint) / STYLES_FILE,
                   repeats=repeats)
