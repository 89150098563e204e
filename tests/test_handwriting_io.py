"""Ink in and out: offsets, cleaning, IAM-OnDB files, style files, the Hershey corpus, text, and
every output format read back by an independent reader."""
import io
import json
import random
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from synth.errors import InputError
from synth.handwriting import iam
from synth.handwriting.hershey import (
    STYLES,
    build_corpus,
    handwrite,
    load_corpus,
    save_corpus,
    style_by_name,
)
from synth.handwriting.ink import Ink, clean_strokes, normalise_ink, resample_stroke
from synth.handwriting.render import (
    attention_figure,
    density_figure,
    smooth_path,
    write_ink,
)
from synth.handwriting.styles import primer_offsets, read_style_file, svg_path_strokes
from synth.handwriting.text import (
    ALPHABET,
    check_text,
    encode_text,
    random_line,
    split_lines,
)
from synth.splits import handwriting_split

IAM_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<WhiteboardCaptureSession>
  <General><Form id="a01-000u" writerID="10042"/></General>
  <Transcription><TextLine text="hi"/></Transcription>
  <StrokeSet>
    <Stroke colour="black" start_time="1.0" end_time="1.3">
      <Point x="1000" y="1200" time="1.0"/><Point x="1010" y="1180" time="1.1"/>
      <Point x="1020" y="1160" time="1.2"/><Point x="1030" y="1200" time="1.3"/>
    </Stroke>
    <Stroke colour="black" start_time="1.5" end_time="1.6">
      <Point x="1050" y="1200" time="1.5"/><Point x="1050" y="1200" time="1.55"/><Point x="1052" y="1170" time="1.6"/>
    </Stroke>
  </StrokeSet>
</WhiteboardCaptureSession>
"""


pytestmark = pytest.mark.usefixtures("one_thread")


def test_offsets_round_trip_through_strokes():
    ink = Ink([[[0, 0], [1, 2], [3, 1]], [[5, 5]], [[6, 4], [7, 7]]])
    offsets = ink.to_offsets()
    assert offsets.shape == (5, 3) and offsets[:, 2].tolist() == [0, 1, 1, 0, 1]
    back = Ink.from_offsets(offsets)
    assert len(back.strokes) == 3 and all(np.allclose(a, b) for a, b in zip(ink.strokes, back.strokes))


def test_offsets_that_continue_a_primer_do_not_draw_its_last_point():
    offsets = np.array([[5.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # a pen-up move away from the primer, then a stroke
    assert [s.tolist() for s in Ink.from_offsets(offsets, origin_is_lifted=True).strokes] == [[[5, 0], [6, 1]]]
    assert len(Ink.from_offsets(offsets).strokes[0]) == 3


def test_resampling_keeps_the_ends_and_the_spacing():
    line = np.array([[0.0, 0.0], [10.0, 0.0]])
    points = resample_stroke(line, 1.0)
    assert np.allclose(points[0], [0, 0]) and np.allclose(points[-1], [10, 0])
    assert np.allclose(np.diff(points[:, 0]), 1.0)


def test_cleaning_drops_repeats_and_splits_at_an_outlier_jump():
    stroke = np.array([[0, 0], [1, 0], [1, 0], [2, 0], [3, 0], [300, 0], [301, 0]], dtype=float)
    cleaned = clean_strokes([stroke])
    assert [len(s) for s in cleaned] == [4, 2]


def test_iam_ondb_strokes_are_read_with_text_and_writer(tmp_path):
    path = tmp_path / "a01-000u-01.xml"
    path.write_text(IAM_XML, encoding="iso-8859-1")
    ink = iam.read_strokes(path)
    assert ink.text == "hi" and ink.writer == "10042"
    assert [len(s) for s in ink.strokes] == [4, 3]
    normalised = normalise_ink(ink, target_height=1.0, spacing=0.1)
    y = normalised.points()[:, 1]
    assert np.percentile(y, 95) - np.percentile(y, 5) == pytest.approx(1.0, rel=0.05)
    assert len(normalised.strokes) == 2  # the repeated point is gone, the strokes kept


def test_iam_ondb_forms_pair_stroke_files_with_transcription_lines(tmp_path):
    (tmp_path / "a01-000u.txt").write_text("OCR:\n\nsome words\n\nCSR:\n\nhi\nyo\n")
    files = []
    for i in (1, 2):
        files.append(tmp_path / f"a01-000u-0{i}.xml")
        files[-1].write_text(IAM_XML.replace('<Transcription><TextLine text="hi"/></Transcription>', ""))
    lines = iam.read_form(files, tmp_path / "a01-000u.txt")
    assert [line.text for line in lines] == ["hi", "yo"]


def test_an_iam_ondb_tree_loads_as_normalised_lines(tmp_path):
    (tmp_path / "ascii" / "a01" / "a01-000").mkdir(parents=True)
    (tmp_path / "ascii" / "a01" / "a01-000" / "a01-000u.txt").write_text("CSR:\n\nhi\nno\u00a7\n")
    folder = tmp_path / "lineStrokes" / "a01" / "a01-000"
    folder.mkdir(parents=True)
    for i in (1, 2):
        (folder / f"a01-000u-0{i}.xml").write_text(IAM_XML)
    lines = iam.load_iam_ondb(tmp_path, line_height=1.0, spacing=0.05, alphabet=ALPHABET)
    assert [line.text for line in lines] == ["hi"]  # the line with a character outside the alphabet is left out
    assert lines[0].to_offsets().shape[1] == 3
    with pytest.raises(InputError, match="not an IAM-OnDB tree"):
        iam.load_iam_ondb(tmp_path / "ascii", line_height=1.0, spacing=0.05)


@pytest.mark.parametrize("content, message", [
    ("<StrokeSet><Stroke><Point x='1'/></Stroke></StrokeSet>", "without numeric x and y"),
    ("<Session></Session>", "no <StrokeSet>"),
    ("<StrokeSet><Stroke>", "not well-formed"),
    ("<StrokeSet></StrokeSet>", "holds no points"),
])
def test_malformed_iam_files_are_refused_clearly(tmp_path, content, message):
    path = tmp_path / "bad.xml"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        iam.read_strokes(path)


def test_a_json_style_file_is_read_and_scaled_to_the_model(tmp_path):
    path = tmp_path / "me.json"
    path.write_text(json.dumps({"text": "hi", "strokes": [[[0, 0], [0, 40], [10, 0]], [[20, 0], [20, 40]]]}))
    ink = read_style_file(path)
    offsets = primer_offsets(ink, line_height=1.0, point_spacing=0.1)
    rebuilt = Ink.from_offsets(offsets)
    assert ink.text == "hi" and len(rebuilt.strokes) == 2
    assert np.ptp(rebuilt.points()[:, 1]) == pytest.approx(1.0, rel=0.15)


def test_an_svg_path_style_file_is_read(tmp_path):
    path = tmp_path / "me.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg"><title>ok</title>'
                    '<path d="M0,0 L10,0 l0,10 M20,0 Q25,10 30,0 C31,1 32,2 33,0 Z"/></svg>')
    ink = read_style_file(path)
    assert ink.text == "ok" and len(ink.strokes) == 2
    assert np.allclose(ink.strokes[0], [[0, 0], [10, 0], [10, 10]])
    assert np.allclose(ink.strokes[1][-1], [20, 0])  # Z closes the path


@pytest.mark.parametrize("name, content, message", [
    ("a.json", "{not json", "not valid JSON"),
    ("a.json", json.dumps({"text": "x", "strokes": [[1, 2, 3]]}), "stroke 0 must be"),
    ("a.json", json.dumps({"text": "x", "strokes": "no"}), "expected"),
    ("a.json", json.dumps({"strokes": [[[0, 0], [1, 1]]]}), "text is unknown"),
    ("a.svg", "<svg><g/></svg>", "no <path"),
    ("a.svg", "<svg><path d='M 0 0 L 5'/></svg>", "needs 2 numbers"),
    ("a.txt", "hello", "unknown format"),
])
def test_malformed_style_files_are_refused_clearly(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_style_file(path)


def test_a_missing_style_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_style_file(tmp_path / "none.json")


def test_svg_path_reader_samples_curves():
    strokes = svg_path_strokes("M0 0 Q5 10 10 0", samples_per_curve=4)
    assert len(strokes) == 1 and len(strokes[0]) == 5 and np.allclose(strokes[0][-1], [10, 0])


def test_every_alphabet_character_is_written_in_every_style():
    for style in STYLES:
        ink = handwrite(ALPHABET, style, seed=0)
        assert ink.n_points > 5 * len(ALPHABET) and np.isfinite(ink.points()).all()


def test_styles_differ_and_a_seed_reproduces_a_corpus_line():
    a = handwrite("hello", STYLES[0], seed=1).to_offsets()
    assert np.array_equal(a, handwrite("hello", STYLES[0], seed=1).to_offsets())
    assert not np.array_equal(a, handwrite("hello", STYLES[0], seed=2).to_offsets())
    widths = [np.ptp(handwrite("hello", s, seed=1).points()[:, 0]) for s in STYLES]
    assert len(set(np.round(widths, 3))) == len(STYLES)
    with pytest.raises(InputError, match="bundled styles: 0 \\(flowing\\)"):
        style_by_name("gothic")


def test_the_corpus_round_trips_through_its_file(tmp_path):
    lines = build_corpus(["ab c", "dd"], seed=0, progress=False)
    save_corpus(tmp_path / "c.npz", lines)
    back = load_corpus(tmp_path / "c.npz")
    assert [l.text for l in back] == ["ab c", "dd"] and np.array_equal(back[1].offsets, lines[1].offsets)


def test_text_splits_are_by_text_and_lines_are_split_at_spaces():
    assert handwriting_split("the same text") == handwriting_split("the same text")
    splits = {handwriting_split(random_line(random.Random(i), 8, 28)) for i in range(300)}
    assert splits == {"train", "valid", "test"}
    assert split_lines("aaa bbb ccc\ndd", 7) == ["aaa bbb", "ccc", "dd"]
    assert split_lines("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_encoding_pads_and_check_text_lists_unknown_characters():
    ids, lengths = encode_text(["ab", "a"], "ab")
    assert ids.tolist() == [[0, 1], [0, 0]] and lengths.tolist() == [2, 1]
    with pytest.raises(InputError, match="'#' '~'"):
        check_text("a#~", ALPHABET)


@pytest.fixture
def lines():
    return [handwrite("Hello there", STYLES[0], seed=0), handwrite("(second) line; ok?", STYLES[2], seed=1)]


def test_svg_parses_as_xml_and_renders_in_cairo(tmp_path, lines):
    import cairosvg

    path = write_ink(tmp_path / "x.svg", lines)
    root = ET.parse(path).getroot()
    paths = [e for e in root.iter() if e.tag.endswith("path")]
    assert len(paths) == sum(len(l.strokes) for l in lines)
    png = cairosvg.svg2png(url=str(path))
    image = Image.open(io.BytesIO(png)).convert("L")
    assert np.asarray(image).min() < 128  # ink was drawn


def test_png_and_animated_gif_open_with_pillow(tmp_path, lines):
    with Image.open(write_ink(tmp_path / "x.png", lines)) as png:
        assert png.format == "PNG" and png.size[0] > png.size[1] > 0
    with Image.open(write_ink(tmp_path / "x.gif", lines)) as gif:
        assert gif.format == "GIF" and gif.n_frames > 10
        gif.seek(gif.n_frames - 1)
        assert np.asarray(gif.convert("L")).min() < 128


def test_json_output_reads_back_as_a_style(tmp_path, lines):
    path = write_ink(tmp_path / "x.json", lines)
    ink = read_style_file(path)
    assert ink.text == "Hello there" and len(ink.strokes) == len(lines[0].strokes)


def test_unknown_output_formats_are_refused(tmp_path, lines):
    with pytest.raises(InputError, match="allowed: .svg, .png, .gif, .json"):
        write_ink(tmp_path / "x.bmp", lines)


def test_smooth_paths_start_and_end_on_the_stroke():
    d = smooth_path(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [3.0, 1.0]]))
    assert d.startswith("M0.00,0.00") and d.endswith("L3.00,1.00") and "Q" in d


def test_attention_and_density_pictures_are_pngs(tmp_path, lines):
    ink = lines[0]
    phi = np.random.default_rng(0).random((50, len(ink.text) + 1))
    with Image.open(attention_figure(tmp_path / "a.png", phi, ink.text, ink)) as image:
        assert image.format == "PNG"
    T = 20
    means = ink.points()[:T, None, :].repeat(2, 1)
    with Image.open(density_figure(tmp_path / "d.png", ink, means, np.full((T, 2, 2), 0.05),
                                   np.full((T, 2), 0.5), np.zeros((T, 2)), resolution=100)) as image:
        assert image.format == "PNG"
