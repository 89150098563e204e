"""Styles to prime the synthesis network with (Graves 2013, section 5.5): the bundled ones, or a
user's own line of ink (IAM-OnDB XML, a JSON list of strokes, or an SVG path), with its text.

A user's own strokes pass one gate whichever face they come through: ``strokes_primer`` takes the
strokes JSON (``STROKES_FORMAT``) that the app's canvas makes and that ``synth write --style
FILE.json`` reads, with the same size limit, the same parsing and the same checks
(``check_primer``); ``style_file_primer`` sends a .json file through it, and an .xml or .svg file
through the same checks."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from synth.errors import CheckpointError, InputError
from synth.handwriting import iam
from synth.handwriting.ink import Ink, normalise_ink

MAX_STYLE_BYTES = 5 * 1024 ** 2
#: Largest strokes JSON accepted, from a page or a file (a line of writing is well under 1 MB).
MAX_STROKES_JSON_BYTES = 2 * 1024 ** 2
#: A primer is cut to this many points (priming costs one network step per point).
MAX_PRIMER_POINTS = 1500


def bundled_styles(path: str | Path) -> list[dict]:
    """The styles of a bundle's ``styles.json`` ({"source": ..., "styles": [{"id", "name", "text",
    "strokes", ...}]}: plain JSON, never a pickle), each checked for the fields a face reads;
    a damaged file is refused (CheckpointError) by what is wrong."""
    try:
        return _checked_styles(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"{path}: damaged styles file ({exc})") from None


def _checked_styles(data) -> list[dict]:
    styles = data.get("styles") if isinstance(data, dict) else None
    if not isinstance(styles, list):
        raise ValueError("expected {\"styles\": [...]}")
    for i, style in enumerate(styles):
        if not (isinstance(style, dict) and isinstance(style.get("id"), (int, str)) and isinstance(style.get("name"), str)
                and isinstance(style.get("text"), str) and isinstance(style.get("strokes"), list) and style["strokes"]):
            raise ValueError(f"style {i} needs an id, a name, a text and a non-empty list of strokes")
        for stroke in style["strokes"]:
            array = np.asarray(stroke, dtype=np.float64)
            if array.ndim != 2 or array.shape[1] != 2 or not len(array) or not np.isfinite(array).all():
                raise ValueError(f"style {i} ({style['name']}): every stroke must be a list of finite [x, y] points")
    return styles


def bundled_style(path: str | Path, name: str | int) -> Ink:
    """A bundled style by id or name (``styles.json`` beside the checkpoint)."""
    styles = bundled_styles(path)
    for style in styles:
        if str(name) in (str(style["id"]), style["name"]):
            return Ink([np.asarray(s) for s in style["strokes"]], style["text"], style["name"], at_model_scale=True)
    raise InputError(f"unknown style {name!r}; bundled styles: " + ", ".join(f"{s['id']} ({s['name']})" for s in styles)
                     + "; or give a file: IAM-OnDB .xml, .json strokes or .svg path")


def read_style_file(path: str | Path, text: str | None = None) -> Ink:
    """A user's line of ink and what it says. ``text`` overrides the text the file carries."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"style file {path}: no such file")
    if path.stat().st_size > MAX_STYLE_BYTES:
        raise InputError(f"style file {path}: {path.stat().st_size} bytes; at most {MAX_STYLE_BYTES}")
    suffix = path.suffix.lower()
    if suffix == ".xml":
        ink = iam.read_strokes(path)
    elif suffix == ".json":
        ink = _read_json(path)
    elif suffix == ".svg":
        ink = _read_svg(path)
    else:
        raise InputError(f"style file {path}: unknown format {suffix!r}; allowed: .xml (IAM-OnDB), "
                         ".json ({{\"text\": ..., \"strokes\": [[[x, y], ...], ...]}}), .svg (paths, text in <title>)")
    if text is not None:
        ink.text = text
    if not ink.text.strip():
        raise InputError(f"style file {path}: the primer's text is unknown; the file must carry it "
                         "(IAM <TextLine text=..>, JSON \"text\", SVG <title>) or it must be given")
    return ink


def _read_json(path: Path) -> Ink:
    with path.open("rb") as f:
        return parse_strokes_json(f.read(MAX_STROKES_JSON_BYTES + 1), f"style file {path}")


def parse_strokes_json(strokes_json: str | bytes, what: str = "your strokes") -> Ink:
    """Strokes JSON (``STROKES_FORMAT``) as text or bytes -> a line of ink with the JSON's text;
    refused by name when empty, too large, not JSON, or not strokes."""
    if not isinstance(strokes_json, (str, bytes)) or not strokes_json.strip():
        raise InputError(f"{what}: no strokes; write a line (with the mouse, a finger or a pen) first")
    size = len(strokes_json.encode() if isinstance(strokes_json, str) else strokes_json)
    if size > MAX_STROKES_JSON_BYTES:
        raise InputError(f"{what}: the strokes JSON is over {MAX_STROKES_JSON_BYTES} bytes; at most "
                         f"{MAX_STROKES_JSON_BYTES} (one line of a few words is well under that)")
    try:
        data = json.loads(strokes_json)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what}: not valid JSON ({exc}); expected {STROKES_FORMAT}") from None
    return ink_from_json(data, what)


def strokes_primer(strokes_json: str | bytes, text: str | None, config, what: str = "your strokes") -> Ink:
    """The one gate for a user's own hand as strokes JSON, from the app's canvas and from
    ``synth write --style FILE.json``: the JSON and the words it says (``text``; when None or
    blank, the JSON's own "text") -> the primer at the model's scale, for a model with ``config``.
    Refused with what was wrong and what is allowed: no strokes, over the size limit, not JSON,
    not strokes, too many raw points, no text, text the model cannot write, too little ink, too
    much, or ink that does not fit the text."""
    return checked_primer(parse_strokes_json(strokes_json, what), text, config, what)


def style_file_primer(path: str | Path, text: str | None, config) -> Ink:
    """A user's style file (.json strokes through ``strokes_primer``; .xml or .svg through the
    same checks) -> the primer at the model's scale."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise InputError(f"style file {path}: no such file")
        with path.open("rb") as f:
            return strokes_primer(f.read(MAX_STROKES_JSON_BYTES + 1), text, config, what=f"style file {path}")
    ink = read_style_file(path, text=text or None)
    return checked_primer(ink, None, config, what=f"style file {path}")


def checked_primer(ink: Ink, text: str | None, config, what: str) -> Ink:
    """A user's line of ink (with ``text`` replacing its own when given) checked by
    ``check_primer`` -> the primer as the model will read it: at the model's scale and spacing."""
    if isinstance(text, str) and text.strip():
        ink.text = text
    ink.text = " ".join(ink.text.split()) if isinstance(ink.text, str) else ""
    if not ink.text:
        raise InputError(f"{what}: the words the strokes say are missing; type them exactly as written "
                         "(beside the canvas, or as the JSON's \"text\" or --style-text)")
    offsets = check_primer(ink, config, what=what)
    return Ink.from_offsets(offsets, ink.text, at_model_scale=True)


#: The strokes a user gives (a file, or a browser canvas) are raw device points: at most this many.
MAX_RAW_POINTS = 50_000
#: A primer shorter than this (after resampling at the model's spacing) shows too little of a hand.
MIN_PRIMER_POINTS = 20
#: The primer's ink per character of its text, as a multiple of the model's mean: outside this
#: band the text typed is not what was written (words missing or extra).
INK_PER_CHAR_BAND = (0.3, 3.0)
STROKES_FORMAT = ('{"text": "what the strokes say", "strokes": [[[x, y], ...], ...]} (points may be [x, y, t] '
                  'with t in milliseconds; y points down), or a list of strokes')


def ink_from_json(data, what: str = "strokes") -> Ink:
    """A line of ink from its JSON form (parsed): ``{"text": ..., "strokes": [[[x, y] or [x, y, t],
    ...], ...]}``, a bare list of strokes, or the ``{"lines": [...]}`` that synth writes (its first
    line). Timed points are put in time order within a stroke. Shape errors are refused by name."""
    if isinstance(data, dict) and "lines" in data and data["lines"]:
        data = data["lines"][0]  # the format synth writes
    if isinstance(data, list):
        data = {"strokes": data}
    if not isinstance(data, dict) or not isinstance(data.get("strokes"), list):
        raise InputError(f"{what}: expected {STROKES_FORMAT}")
    strokes, total = [], 0
    for i, stroke in enumerate(data["strokes"]):
        try:
            array = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{what}: stroke {i} is not a list of [x, y] numbers") from None
        if array.ndim != 2 or array.shape[1] not in (2, 3) or len(array) == 0 or not np.isfinite(array).all():
            raise InputError(f"{what}: stroke {i} must be a non-empty list of finite [x, y] or [x, y, t] points")
        total += len(array)
        if total > MAX_RAW_POINTS:
            raise InputError(f"{what}: more than {MAX_RAW_POINTS} pen points; write one line of a few words")
        if array.shape[1] == 3:
            array = array[np.argsort(array[:, 2], kind="stable"), :2]
        strokes.append(array)
    if not strokes:
        raise InputError(f"{what}: no strokes")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise InputError(f"{what}: \"text\" must be a string")
    return Ink(strokes, text)


def check_primer(ink: Ink, config, what: str = "your strokes") -> np.ndarray:
    """A user's line of ink and its text, checked as a style primer for a model with ``config``
    (a HandwritingConfig) -> its offsets (P, 3) at the model's scale. Refused with what was wrong:
    text the model cannot write, too few points, too many, or ink that does not fit the text."""
    from synth.handwriting.text import check_text

    check_text(ink.text, config.alphabet, max_chars=config.max_chars, what=f"the text of {what}")
    if ink.n_points < 2 or len(ink.points()) and np.ptp(ink.points(), axis=0).max() <= 0:
        raise InputError(f"{what}: {ink.n_points} pen point(s) in one place; write the words of the text")
    offsets = primer_offsets(ink, line_height=config.line_height, point_spacing=config.point_spacing,
                             align=getattr(config, "align_baseline", False), what=what)
    if len(offsets) < MIN_PRIMER_POINTS:
        raise InputError(f"{what}: too little ink ({len(offsets)} points at the model's spacing, at least "
                         f"{MIN_PRIMER_POINTS}); write the whole text in one line")
    per_char = len(offsets) / len(ink.text) / config.points_per_char
    low, high = INK_PER_CHAR_BAND
    if not low <= per_char <= high:
        guess = len(offsets) / config.points_per_char
        raise InputError(f"{what}: the ink looks like about {guess:.0f} characters of writing but the text has "
                         f"{len(ink.text)} ({ink.text!r}); type exactly what you wrote")
    return offsets


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def svg_path_strokes(d: str, samples_per_curve: int = 8) -> list[np.ndarray]:
    """Strokes of an SVG path's data: M/L/H/V/C/Q/Z (absolute and relative); curves are sampled."""
    tokens = re.findall(rf"[MmLlHhVvCcQqZz]|{_NUMBER}", d)
    strokes: list[list] = []
    pos, start, i, command = np.zeros(2), np.zeros(2), 0, None
    t = np.linspace(0, 1, samples_per_curve + 1)[1:, None]

    def numbers(n):
        nonlocal i
        values = tokens[i:i + n]
        if len(values) < n or any(v.isalpha() for v in values):
            raise InputError(f"SVG path data: command {command!r} needs {n} numbers near token {i}")
        i += n
        return np.asarray(values, dtype=np.float64)

    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
        elif command is None:
            raise InputError("SVG path data must start with a command (M)")
        relative = command.islower()
        base = pos if relative else np.zeros(2)
        c = command.upper()
        if c == "M":
            pos = base + numbers(2)
            start = pos.copy()
            strokes.append([pos.copy()])
            command = "l" if relative else "L"  # further pairs are lines
        elif c in "LHV":
            if c == "L":
                pos = base + numbers(2)
            elif c == "H":
                pos = np.array([(pos[0] if relative else 0) + numbers(1)[0], pos[1]])
            else:
                pos = np.array([pos[0], (pos[1] if relative else 0) + numbers(1)[0]])
            strokes[-1].append(pos.copy()) if strokes else strokes.append([pos.copy()])
        elif c == "Q":
            control, end = base + numbers(2), base + numbers(2)
            curve = (1 - t) ** 2 * pos + 2 * (1 - t) * t * control + t ** 2 * end
            strokes[-1].extend(curve)
            pos = end
        elif c == "C":
            c1, c2, end = base + numbers(2), base + numbers(2), base + numbers(2)
            curve = (1 - t) ** 3 * pos + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t ** 2 * c2 + t ** 3 * end
            strokes[-1].extend(curve)
            pos = end
        elif c == "Z":
            if strokes:
                strokes[-1].append(start.copy())
            pos = start.copy()
        else:
            raise InputError(f"SVG path data: unsupported command {command!r}; supported: M L H V C Q Z")
    return [np.asarray(s) for s in strokes if len(s)]


def _read_svg(path: Path) -> Ink:
    try:
        data = path.read_bytes()
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise InputError(f"style file {path}: SVG with a DOCTYPE or ENTITY declaration is refused")
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"style file {path}: not well-formed SVG/XML ({exc})") from None
    strokes = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "path" and element.attrib.get("d"):
            strokes.extend(svg_path_strokes(element.attrib["d"]))
    if not strokes:
        raise InputError(f"style file {path}: no <path d=...> with points")
    title = next((e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "title" and e.text), "")
    return Ink(strokes, title.strip())


def primer_offsets(ink: Ink, *, line_height: float, point_spacing: float, align: bool = False,
                   what: str = "the style primer") -> np.ndarray:
    """A primer line as offsets (P, 3) in the scale the model was trained at (``align``: turned
    level as the corpus's lines were)."""
    normalised = normalise_ink(ink, target_height=line_height, spacing=point_spacing, align=align)
    offsets = normalised.to_offsets()
    if len(offsets) > MAX_PRIMER_POINTS:
        raise InputError(f"{what}: {len(offsets)} points after resampling; at most {MAX_PRIMER_POINTS} "
                         "(write one short line)")
    return offsets
