"""IAM On-Line Handwriting Database (IAM-OnDB) files: the stroke XML

  <WhiteboardCaptureSession>
    <WhiteboardDescription> <SensorLocation corner="top_left"/> ... </WhiteboardDescription>
    <StrokeSet> <Stroke colour="black" start_time=".." end_time=".."> <Point x="1073" y="1058" time=".."/> ...

and the line transcriptions (``ascii/.../a01-000u.txt``: a header, then ``CSR:`` and one text line
per stroke file line). Writer ids come from the forms' metadata (``writerID`` or the file's
``<Form writerID=..>``) when present.
"""
from __future__ import annotations

import dataclasses
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
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


_STROKE = re.compile(rb"<Stroke\b.*?</Stroke>", re.DOTALL)
_POINT = re.compile(rb'<Point\s+x="([-+0-9.eE]+)"\s+y="([-+0-9.eE]+)"\s+time="([-+0-9.eE]+)"\s*/>')


def read_strokes_fast(content: bytes) -> Ink:
    """``read_strokes`` for the distribution's own files (12,195 of them), about ten times faster:
    the points by a regular expression. Anything it does not recognise (other attribute order,
    a transcription or writer inside, declarations) goes to ``read_strokes``."""
    if b"<!" in content or b"<Transcription" in content or b"writerID" in content:
        return read_strokes(content)
    strokes = []
    for stroke in _STROKE.findall(content):
        points = np.array(_POINT.findall(stroke), dtype=np.float64).reshape(-1, 3)  # (N, 3) x, y, time
        if len(points) != stroke.count(b"<Point"):
            return read_strokes(content)
        if len(points):
            strokes.append(points[np.argsort(points[:, 2], kind="stable"), :2])  # time order
    if not strokes or not all(np.isfinite(s).all() for s in strokes):
        return read_strokes(content)
    return Ink(strokes)


def read_transcription(path: str | Path) -> list[str]:
    """Text lines of an IAM-OnDB ascii file (the lines after ``CSR:``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return parse_transcription(path.read_bytes(), str(path))


def parse_transcription(content: bytes | str, what: str) -> list[str]:
    """The lines after ``CSR:`` of an ascii file's content (IAM-OnDB's files are Latin-1)."""
    if isinstance(content, bytes):
        content = content.decode("latin-1")
    match = re.search(r"^CSR:[ \t\r]*$", content, flags=re.MULTILINE)  # the distribution's files end lines with CR LF
    if match is None:
        raise InputError(f"{what}: no 'CSR:' section; an IAM-OnDB transcription lists its lines after 'CSR:'")
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


# -- the distribution as a user downloads it -----------------------------------------------------

@dataclasses.dataclass
class IamLine:
    """One transcribed line of IAM-OnDB in raw device coordinates (y down)."""

    line_id: str  # a01-000u-01 (the stroke file's name)
    form_id: str  # a01-000u (the ascii file's name; writers.tsv's key)
    text: str  # the CSR transcription, as written in the file
    ink: Ink


def _files(source: str | Path, suffix: str) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every ``suffix`` file in a tar archive (any compression tarfile reads:
    .tar.gz, .tar.xz, ...) or below a folder, in archive / sorted order."""
    source = Path(source)
    if source.is_dir():
        for path in sorted(source.rglob(f"*{suffix}")):
            yield path.name, path.read_bytes()
        return
    if not source.is_file():
        raise InputError(f"{source}: no such archive or folder")
    try:
        with tarfile.open(source, mode="r:*") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(suffix):
                    if member.size > MAX_FILE_BYTES:
                        raise InputError(f"{source}: {member.name} is {member.size} bytes, too large for IAM-OnDB")
                    yield Path(member.name).name, archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InputError(f"{source}: not a readable tar archive ({error})") from None


def read_writers(path: str | Path) -> dict[str, str]:
    """``writers.tsv`` (form_id TAB writer_id, with a header line) -> {form_id: writer_id}."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (form_id<TAB>writer_id lines)")
    writers = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split("\t")
        if number == 1 and fields[0] == "form_id" or not line.strip():
            continue
        if len(fields) != 2:
            raise InputError(f"{path}, line {number}: expected form_id<TAB>writer_id, got {line!r}")
        writers[fields[0].strip()] = fields[1].strip()
    return writers


def read_iam_ondb(strokes: str | Path, ascii: str | Path) -> tuple[list[IamLine], list[str]]:
    """Every transcribed line of the distribution: ``lineStrokes-all.tar.*`` (or its extracted
    folder) and ``ascii-all.tar.*`` (or folder). Line ``-NN`` of a form is the NN-th line after
    its transcription's ``CSR:``. Returns the lines and the forms left out, with why (a form whose
    count of stroke files and text lines differ cannot be paired)."""
    transcriptions = {}
    for name, content in _files(ascii, ".txt"):
        try:
            transcriptions[name[:-4]] = parse_transcription(content, name)
        except InputError:
            transcriptions[name[:-4]] = None
    inks: dict[str, dict[int, Ink]] = {}
    for name, content in _files(strokes, ".xml"):
        form_id, _, number = name[:-4].rpartition("-")
        if not number.isdigit():
            continue
        ink = read_strokes_fast(content)
        ink.strokes = [s.astype(np.float32) for s in ink.strokes]
        inks.setdefault(form_id, {})[int(number)] = ink
    lines, left_out = [], []
    for form_id in sorted(inks):
        texts, numbered = transcriptions.get(form_id), inks[form_id]
        if texts is None:
            left_out.append(f"{form_id}: no transcription with a CSR: section")
            continue
        if sorted(numbered) != list(range(1, len(texts) + 1)):
            left_out.append(f"{form_id}: {len(texts)} text lines but stroke files {sorted(numbered)}")
            continue
        for number, text in enumerate(texts, start=1):
            ink = numbered[number]
            ink.text = text
            lines.append(IamLine(f"{form_id}-{number:02d}", form_id, text, ink))
    if not lines:
        raise InputError(f"{strokes}, {ascii}: no transcribed lines found (expected IAM-OnDB's lineStrokes and ascii)")
    return lines, left_out


#: CSR transcriptions separate punctuation like tokens ("Mr . Foot", "it 's"); the ink does not.
_DETACHED = re.compile(r" +([.,;:?!)]|'(?=[a-zA-Z]))")


def clean_transcription(text: str) -> str:
    """A CSR line as it was written: no space before punctuation or a contraction's apostrophe,
    single spaces."""
    text = " ".join(text.split())
    return _DETACHED.sub(r"\1", text)
