"""IAM On-Line Handwriting Database (IAM-OnDB) files: the stroke XML

  <WhiteboardCaptureSession>
    <WhiteboardDescription> <SensorLocation corner="top_left"/> ... </WhiteboardDescription>
    <StrokeSet> <Stroke colour="black" start_time=".." end_time=".."> <Point x="1073" y="1058" time=".."/> ...

and the line transcriptions (``ascii/.../a01-000u.txt``: a header, then ``CSR:`` and one text line
per stroke file line). Writer ids come from the forms' metadata (``writerID`` or the file's
``<Form writerID=..>``) when present.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.handwriting.ink import Ink

#: Largest stroke file accepted (IAM-OnDB's are a few hundred kB).
MAX_FILE_BYTES = 20 * 1024 ** 2


def _parse_xml(source: str | Path | bytes, what: str) -> ET.Element:
    try:
        if isinstance(source, bytes):
            data = source
        else:
            path = Path(source)
            if not path.is_file():
                raise InputError(f"{path}: no such file")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise InputError(f"{path}: {path.stat().st_size} bytes is too large for a stroke file")
            data = path.read_bytes()
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise InputError(f"{what}: XML with a DOCTYPE or ENTITY declaration is refused")
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"{what}: not well-formed XML ({exc})") from None


def read_strokes(source: str | Path | bytes, text: str = "", writer: str | None = None) -> Ink:
    """One IAM-OnDB stroke file -> Ink (raw device coordinates, y down). Text and writer come from
    the file when it holds them (a ``<Transcription><TextLine text=..>`` or a ``writerID``)."""
    what = "IAM-OnDB stroke data" if isinstance(source, bytes) else str(source)
    root = _parse_xml(source, what)
    stroke_set = root if root.tag == "StrokeSet" else root.find(".//StrokeSet")
    if stroke_set is None:
        raise InputError(f"{what}: no <StrokeSet> element; an IAM-OnDB stroke file holds "
                         "<StrokeSet><Stroke><Point x=.. y=.. time=../></Stroke></StrokeSet>")
    strokes = []
    for index, stroke in enumerate(stroke_set.findall("Stroke")):
        points = []
        for point in stroke.findall("Point"):
            try:
                points.append((float(point.attrib["x"]), float(point.attrib["y"]), float(point.attrib.get("time", "nan"))))
            except (KeyError, ValueError):
                raise InputError(f"{what}: stroke {index} has a <Point> without numeric x and y: {point.attrib}") from None
        if points:
            array = np.asarray(points)
            if not np.isfinite(array[:, :2]).all():
                raise InputError(f"{what}: stroke {index} has non-finite coordinates")
            if np.isfinite(array[:, 2]).all():
                array = array[np.argsort(array[:, 2], kind="stable")]  # time order
            strokes.append(array[:, :2])
    if not strokes:
        raise InputError(f"{what}: the <StrokeSet> holds no points")
    if not text:
        line = root.find(".//Transcription/TextLine")
        text = line.attrib.get("text", "") if line is not None else ""
    if writer is None:
        form = root.find(".//Form")
        writer = root.attrib.get("writerID") or (form.attrib.get("writerID") if form is not None else None)
    return Ink(strokes, text, writer)


def read_transcription(path: str | Path) -> list[str]:
    """Text lines of an IAM-OnDB ascii file (the lines after ``CSR:``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    content = path.read_text(encoding="utf-8", errors="replace")
    match = re.search(r"^CSR:\s*$", content, flags=re.MULTILINE)
    if match is None:
        raise InputError(f"{path}: no 'CSR:' section; an IAM-OnDB transcription lists its lines after 'CSR:'")
    return [line.strip() for line in content[match.end():].splitlines() if line.strip()]


def read_form(stroke_files: list[str | Path], transcription: str | Path, writer: str | None = None) -> list[Ink]:
    """The lines of one form: stroke files (one per line, in order, e.g. a01-000u-01.xml ...) paired
    with the lines of its transcription."""
    texts = read_transcription(transcription)
    files = sorted(stroke_files, key=lambda p: str(p))
    if len(files) != len(texts):
        raise InputError(f"{transcription}: {len(texts)} text lines but {len(files)} stroke files")
    return [read_strokes(f, text, writer) for f, text in zip(files, texts)]


def load_iam_ondb(root: str | Path, *, line_height: float, spacing: float, alphabet: str | None = None) -> list[Ink]:
    """Every line of an IAM-OnDB tree in its standard layout

      root/lineStrokes/a01/a01-000/a01-000u-01.xml ...   (one stroke file per line)
      root/ascii/a01/a01-000/a01-000u.txt                (the form's transcription)

    cleaned, scaled to ``line_height`` and resampled at ``spacing`` (``normalise_ink``). Lines with
    characters outside ``alphabet`` are left out (their number is in the error if none remain)."""
    from synth.handwriting.ink import normalise_ink

    root = Path(root)
    strokes_root, ascii_root = root / "lineStrokes", root / "ascii"
    if not strokes_root.is_dir() or not ascii_root.is_dir():
        raise InputError(f"{root}: not an IAM-OnDB tree (expected lineStrokes/ and ascii/ folders)")
    lines, skipped = [], 0
    for transcription in sorted(ascii_root.rglob("*.txt")):
        form = transcription.stem  # a01-000u
        folder = strokes_root / transcription.relative_to(ascii_root).parent
        files = sorted(folder.glob(f"{form}-*.xml"))
        if not files:
            continue
        for ink in read_form(files, transcription):
            if alphabet is not None and set(ink.text) - set(alphabet):
                skipped += 1
                continue
            lines.append(normalise_ink(ink, target_height=line_height, spacing=spacing))
    if not lines:
        raise InputError(f"{root}: no usable lines ({skipped} left out for characters outside the alphabet)")
    return lines
