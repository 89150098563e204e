"""IAM-OnDB as a user downloads it (archives made here, from Hershey-font ink), the corpus it
becomes, training that resumes and keeps the best weights, and a user's own strokes as a style."""
import io
import json
import tarfile

import numpy as np
import pytest
import torch

from synth.errors import InputError
from synth.handwriting import iam
from synth.handwriting.canvas import STROKES_ELEMENT_ID, canvas_page
from synth.handwriting.dataset import LineSet, length_sorted_batch
from synth.handwriting.hershey import STYLES, handwrite
from synth.handwriting.ink import Ink, baseline_angle, normalise_ink
from synth.handwriting.styles import check_primer, ink_from_json, strokes_primer
from synth.models.handwriting import HandwritingConfig
from synth.solvers import handwriting as solver
from synth.splits import SPLITS
from synth.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["a bad cab", "dead beef", "a faded bed", "add a cab", "bead face", "dab a fee",
         "a deaf cab", "feed a dab", "cede a bed", "a bad face"]


def stroke_xml(ink: Ink, scale: float = 300.0) -> bytes:
    """An IAM-OnDB stroke file of ink, in device units (y down), 10 ms between points."""
    t, strokes = 100.0, []
    for stroke in ink.strokes:
        points = []
        for x, y in stroke * scale + 1000:
            points.append(f'<Point x="{x:.0f}" y="{y:.0f}" time="{t:.2f}"/>')
            t += 0.01
        strokes.append(f'<Stroke colour="black" start_time="0" end_time="1">{"".join(points)}</Stroke>')
    return (f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession><WhiteboardDescription/>'
            f'<StrokeSet>{"".join(strokes)}</StrokeSet></WhiteboardCaptureSession>').encode()


def _add(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    archive.addfile(info, io.BytesIO(content))


def make_distribution(folder, n_forms: int = 12, lines_per_form: int = 3, wrong_text: str | None = None):
    """lineStrokes-all.tar.xz, ascii-all.tar.gz (CR LF lines, CSR tokenised as IAM's are) and writers.tsv.
    wrong_text: the transcription of the first form's first line (not what its ink says)."""
    folder.mkdir(parents=True, exist_ok=True)
    writers = ["form_id\twriter_id"]
    with tarfile.open(folder / "lineStrokes-all.tar.xz", "w:xz") as strokes, \
            tarfile.open(folder / "ascii-all.tar.gz", "w:gz") as ascii_:
        for f in range(n_forms):
            form = f"a{f:02d}-000u"
            texts = [TEXTS[(f + i) % len(TEXTS)] for i in range(lines_per_form)]
            for i, text in enumerate(texts, start=1):
                ink = handwrite(text, STYLES[f % 4], seed=100 * f + i)
                _add(strokes, f"lineStrokes/a{f:02d}/a{f:02d}-000/{form}-{i:02d}.xml", stroke_xml(ink))
            csr = "\r\n".join(t.replace("a bad", "a bad ,") for t in texts)  # a detached comma to join back
            if f == 0 and wrong_text:
                csr = "\r\n".join([wrong_text, *csr.split("\r\n")[1:]])
            _add(ascii_, f"ascii/a{f:02d}/a{f:02d}-000/{form}.txt", f"OCR:\r\n\r\nnot this\r\n\r\nCSR: \r\n\r\n{csr}\r\n".encode())
            if f % 6:  # some forms have no known writer: they are split by form
                writers.append(f"{form}\t{10000 + f // 2}")
    (folder / "writers.tsv").write_text("\n".join(writers) + "\n")


@pytest.fixture(scope="module")
def distribution(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iam-ondb")
    make_distribution(folder)
    return folder


def data_config(distribution, out, **overrides) -> solver.IamData:
    values = dict(root=str(distribution), out=str(out), valid_percent=25, test_percent=25, min_char_count=1,
                  max_chars=40, max_points=2000, point_spacing=0.3, max_jump=50.0)
    values.update(overrides)
    return solver.IamData(**values)


def test_transcriptions_are_joined_as_written():
    assert iam.clean_transcription("A MOVE to stop Mr . Gaitskell") == "A MOVE to stop Mr. Gaitskell"
    assert iam.clean_transcription("I 'm sure , he said  !") == "I'm sure, he said!"
    assert iam.clean_transcription('"Yes" ( quietly )') == '"Yes" ( quietly)'


def test_the_fast_stroke_reader_matches_the_xml_reader():
    content = stroke_xml(handwrite("a bad cab", STYLES[0], seed=1))
    fast, slow = iam.read_strokes_fast(content), iam.read_strokes(content)
    assert len(fast.strokes) == len(slow.strokes) > 1
    assert all(np.array_equal(a, b) for a, b in zip(fast.strokes, slow.strokes))


def test_the_archives_are_read_line_by_line_with_the_csr_texts(distribution):
    lines, left_out = iam.read_iam_ondb(distribution / "lineStrokes-all.tar.xz", distribution / "ascii-all.tar.gz")
    assert len(lines) == 36 and left_out == []
    first = next(line for line in lines if line.line_id == "a00-000u-01")
    assert first.form_id == "a00-000u" and first.text == "a bad , cab"
    assert iam.read_writers(distribution / "writers.tsv")["a01-000u"] == "10000"


def test_a_form_whose_files_and_lines_disagree_is_left_out_by_name(tmp_path):
    make_distribution(tmp_path, n_forms=2)
    with tarfile.open(tmp_path / "ascii-all.tar.gz", "w:gz") as ascii_:
        _add(ascii_, "ascii/a00/a00-000/a00-000u.txt", b"CSR:\r\n\r\none line only\r\n")
        _add(ascii_, "ascii/a01/a01-000/a01-000u.txt", b"CSR:\r\n\r\na\r\nb\r\nc\r\n")
    lines, left_out = iam.read_iam_ondb(tmp_path / "lineStrokes-all.tar.xz", tmp_path / "ascii-all.tar.gz")
    assert len(lines) == 3 and len(left_out) == 1 and left_out[0].startswith("a00-000u: 1 text lines")


def test_the_corpus_is_split_by_writer_with_its_vocabulary_and_statistics(distribution, tmp_path):
    manifest = solver.prepare_iam(data_config(distribution, tmp_path / "data"), log=lambda _: None)
    splits = {name: LineSet.load(tmp_path / "data" / f"{name}.npz") for name in SPLITS}
    writers = [set(s.writers) for s in splits.values()]
    assert not (writers[0] & writers[1]) and not (writers[0] & writers[2]) and not (writers[1] & writers[2])
    assert sum(len(s) for s in splits.values()) == 36 and len(splits["train"]) > 0
    assert any(w.startswith("form:") for s in splits.values() for w in s.writers)
    assert set(manifest["alphabet"]) == set("".join(splits["train"].texts))
    assert all(" ," not in t for s in splits.values() for t in s.texts)  # "a bad , cab" -> "a bad, cab"
    train = splits["train"]
    rows = np.concatenate(train.offsets)
    assert manifest["statistics"]["offset_std"] == pytest.approx([rows[:, 0].std(), rows[:, 1].std()], rel=1e-5)
    config = solver.model_config(solver.HandwritingRecipe(data=data_config(distribution, tmp_path / "data")), manifest)
    assert config.alphabet == manifest["alphabet"] and config.align_baseline and config.point_spacing == 0.3


def test_a_line_whose_ink_and_text_disagree_is_left_out(tmp_path):
    make_distribution(tmp_path / "iam", n_forms=6, wrong_text="a bad cab " * 6)
    manifest = solver.prepare_iam(data_config(tmp_path / "iam", tmp_path / "data", max_chars=80), log=lambda _: None)
    assert manifest["left_out"]["points per character outside the band (text and ink disagree)"] == 1
    ids = [i for name in SPLITS for i in LineSet.load(tmp_path / "data" / f"{name}.npz").line_ids]
    assert len(ids) == 17 and "a00-000u-01" not in ids


def test_a_line_set_round_trips_through_its_file_without_pickles(tmp_path):
    rng = np.random.default_rng(0)
    lines = LineSet([rng.normal(size=(n, 3)).astype(np.float32) for n in (5, 2, 9)], ["ab", "c", "d e"],
                    ["1", "2", "form:x"], ["l1", "l2", "l3"])
    lines.save(tmp_path / "s.npz")
    back = LineSet.load(tmp_path / "s.npz")
    assert back.texts == lines.texts and back.writers == lines.writers and back.line_ids == lines.line_ids
    assert all(np.array_equal(a, b) for a, b in zip(back.offsets, lines.offsets))


def test_batches_hold_lines_of_similar_length_and_depend_only_on_the_generator():
    offsets = [np.zeros((n, 3), np.float32) for n in range(1, 101)]
    texts = ["a"] * 100
    a = length_sorted_batch(offsets, texts, "a", 8, torch.Generator().manual_seed(3))
    b = length_sorted_batch(offsets, texts, "a", 8, torch.Generator().manual_seed(3))
    assert torch.equal(a["mask"], b["mask"])
    lengths = a["mask"].sum(1)
    assert lengths.max() - lengths.min() == 7  # eight neighbours in length


def test_a_tilted_line_is_turned_level():
    ink = handwrite("a bad cab", STYLES[1], seed=0, augment=False)
    angle = 0.2
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    tilted = Ink([s @ rotation for s in ink.strokes], ink.text)
    assert abs(baseline_angle(tilted.points())) > 0.15
    level = normalise_ink(tilted, target_height=1.0, spacing=0.05, align=True)
    assert abs(baseline_angle(level.points())) < 0.05  # resampling reweights the points a little


def small_recipe(distribution, tmp_path, steps: int) -> solver.HandwritingRecipe:
    return solver.HandwritingRecipe(
        data=data_config(distribution, tmp_path / "data"), model=solver.ModelSize(hidden_size=12, n_mixtures=3, n_window=2),
        batch_size=4, valid_lines=8, run_dir=str(tmp_path / "run"), bundle_dir=str(tmp_path / "bundle"),
        train=TrainConfig(steps=steps, learning_rate=5e-3, warmup_steps=2, eval_every=2, checkpoint_every=2, ema_decay=0.9))


def test_training_resumes_and_keeps_the_weights_with_the_lowest_heldout_loss(distribution, tmp_path):
    from synth.checkpoint import load_checkpoint

    solver.prepare_iam(data_config(distribution, tmp_path / "data"), log=lambda _: None)
    solver.run_training(small_recipe(distribution, tmp_path, steps=4), log=lambda _: None)
    result = solver.run_training(small_recipe(distribution, tmp_path, steps=6), log=lambda _: None)
    history = result["history"]
    assert [r["step"] for r in history] == [2, 4, 6]
    best = load_checkpoint(tmp_path / "run" / "best", expect_kind="handwriting-synthesis")
    lowest = min(history, key=lambda r: r["valid_loss"])
    assert best.metadata["best"] == {"step": lowest["step"], "valid_loss": lowest["valid_loss"]}
    assert best.metadata["step"] == lowest["step"]
    assert solver.best_checkpoint(small_recipe(distribution, tmp_path, 6)) == tmp_path / "run" / "best"


def test_the_bench_stage_times_training_on_the_recipes_lines_in_pen_points(distribution, tmp_path):
    recipe = small_recipe(distribution, tmp_path, steps=1)
    solver.prepare_iam(recipe.data, log=lambda _: None)
    lines = []
    rows = solver.run_bench(recipe, steps=2, warmup=1, log=lines.append)
    assert [(r["threads"], r["precision"]) for r in rows] == [(1, "float32"), (1, "bfloat16")]
    assert all(r["points_per_second"] > 0 and r["steps_per_second"] > 0 for r in rows)
    assert lines[-1].startswith("machine: ")


def test_the_gallery_takes_one_line_from_each_held_out_writer():
    offsets = [np.tile([[0.1, 0.0, 0.0], [0.0, 0.1, 1.0]], (20, 1)).astype(np.float32) for _ in range(7)]
    lines = LineSet(offsets, ["a" * 20, "b" * 25, "c" * 30, "d" * 20, "e" * 5, "f" * 22, "1. 2. 3. 4. 5. 6. 7. 8."],
                    ["1", "1", "2", "form:x", "3", "3", "4"], [f"l{i}" for i in range(7)])
    styles = solver.gallery(lines, 10)
    assert len(styles) == 4 and {s["writer"] for s in styles} == {"1", "2", "3", "form:x"}  # "4" wrote only numbers
    assert [s["writer"] for s in styles][-1] == "form:x"  # known writers first
    assert {s["text"] for s in styles if s["writer"] == "1"} == {"b" * 25}  # the longest line that fits


def prepared_splits(out, test_writers: int) -> None:
    """data/iam as the data stage leaves it: train and valid lines by some writers, one 20-character
    test line by each of ``test_writers`` others, and the manifest."""
    rng = np.random.default_rng(0)

    def lines(writers):
        offsets = [np.concatenate([rng.normal(0, 0.2, (60, 2)), (rng.random((60, 1)) < 0.1)], 1).astype(np.float32)
                   for _ in writers]
        return LineSet(offsets, ["a bad cab fed a bead"] * len(writers), list(writers), [f"{w}-01" for w in writers])

    out.mkdir(parents=True, exist_ok=True)
    lines(["1", "2", "3"]).save(out / "train.npz")
    lines(["4"]).save(out / "valid.npz")
    lines([str(100 + i) for i in range(test_writers)]).save(out / "test.npz")
    (out / "manifest.json").write_text(json.dumps({"alphabet": " abcdef", "splits": {}, "statistics": {}, "left_out": {}}))


def gallery_recipe(tmp_path) -> solver.HandwritingRecipe:
    return solver.HandwritingRecipe(data=solver.IamData(out=str(tmp_path / "data")), run_dir=str(tmp_path / "run"),
                                    bundle_dir=str(tmp_path / "bundle"))


def test_the_bundle_holds_eight_or_more_held_out_writers_lines_as_plain_json(tmp_path):
    from PIL import Image

    from synth.checkpoint import save_checkpoint
    from synth.models.handwriting import HandwritingSynthesis
    from synth.services.handwriting import style_pictures, styles

    prepared_splits(tmp_path / "data", test_writers=12)
    recipe = gallery_recipe(tmp_path)
    save_checkpoint(HandwritingSynthesis(CONFIG), tmp_path / "run" / "best", metadata={"licence": solver.LICENCE})
    solver.write_styles(tmp_path / "run" / "best" / solver.STYLES_FILE, solver.held_out_styles(recipe))  # the evaluate stage
    out = solver.bundle_with_card(recipe, log=lambda _: None)
    data = json.loads((out / "styles.json").read_text())
    held_out = {str(100 + i) for i in range(12)}
    assert len(data["styles"]) == recipe.evaluation.gallery_writers == 10
    assert {s["writer"] for s in data["styles"]} <= held_out  # none of them wrote a training line
    assert all(s["text"] == "a bad cab fed a bead" and s["strokes"] for s in data["styles"])
    assert "non-commercial research" in data["source"]
    assert "non-commercial research use only" in (out / "MODEL_CARD.md").read_text()
    assert [s["name"] for s in styles(out)] == [s["name"] for s in data["styles"]]  # what the app lists
    name, png, caption = style_pictures(out)[0]
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG" and picture.width > picture.height
    assert caption == f'{name}: "a bad cab fed a bead"'


def test_a_gallery_of_fewer_than_eight_held_out_writers_is_refused(tmp_path):
    prepared_splits(tmp_path / "data", test_writers=7)
    with pytest.raises(InputError, match="the test split has 7 writers .* at least 8 are needed"):
        solver.held_out_styles(gallery_recipe(tmp_path))


def test_bundling_refuses_a_gallery_the_evaluate_stage_did_not_measure(tmp_path):
    from synth.checkpoint import save_checkpoint
    from synth.models.handwriting import HandwritingSynthesis

    prepared_splits(tmp_path / "data", test_writers=9)
    save_checkpoint(HandwritingSynthesis(CONFIG), tmp_path / "run" / "best")
    with pytest.raises(InputError, match="run --stage evaluate before bundling"):
        solver.bundle_with_card(gallery_recipe(tmp_path), log=lambda _: None)


@pytest.mark.parametrize("content, message", [
    ("{nope", "damaged styles file"),
    (json.dumps({"styles": [{"id": 0, "name": "x", "text": "ab"}]}), "style 0 needs an id, a name, a text"),
    (json.dumps({"styles": [{"id": 0, "name": "x", "text": "ab", "strokes": [[[0, 0, 1]]]}]}), "finite \\[x, y\\] points"),
])
def test_a_damaged_styles_file_is_refused_by_what_is_wrong(tmp_path, content, message):
    from synth.errors import CheckpointError
    from synth.handwriting.styles import bundled_styles

    (tmp_path / "styles.json").write_text(content)
    with pytest.raises(CheckpointError, match=message):
        bundled_styles(tmp_path / "styles.json")


# -- a user's own strokes -------------------------------------------------------------------------

#: At this spacing Hershey ink has about 11 points a character: near the model's 10.
CONFIG = HandwritingConfig(hidden_size=8, n_layers=1, alphabet=" abcdef", points_per_char=10.0,
                           line_height=1.0, point_spacing=0.25)


def timed_strokes(text: str, scale: float = 40.0) -> list:
    ink = handwrite(text, STYLES[0], seed=0)
    t, out = 0.0, []
    for stroke in ink.strokes:
        out.append([[float(x), float(y), (t := t + 8.0)] for x, y in stroke * scale])
    return out


def test_timed_points_are_read_in_time_order():
    ink = ink_from_json({"text": "ab", "strokes": [[[0, 0, 0], [2, 2, 20], [1, 1, 10]]]})
    assert ink.strokes[0].tolist() == [[0, 0], [1, 1], [2, 2]] and ink.text == "ab"


def test_a_line_of_strokes_that_fits_its_text_is_a_primer_at_the_models_scale():
    raw = {"text": "", "strokes": timed_strokes("a bad cab")}
    ink = strokes_primer(json.dumps(raw), " a bad  cab ", CONFIG)
    assert ink.text == "a bad cab" and ink.at_model_scale
    expected = check_primer(ink_from_json(dict(raw, text="a bad cab")), CONFIG)
    assert expected.shape[1] == 3 and len(expected) > 20
    np.testing.assert_allclose(ink.to_offsets(), expected, atol=1e-5)  # what the network will read


@pytest.mark.parametrize("strokes, text, message", [
    ("", "ab", "no strokes; write a line"),
    ("{nope", "ab", "not valid JSON"),
    (json.dumps({"strokes": [[[0, 0, 0]]]}), "ab", "in one place"),
    (json.dumps({"strokes": [[[0, 0, 0], [0, 2, 5]], [[1, 0, 9], [1.5, 1, 12]]]}), "ab", "too little ink"),
    (json.dumps({"strokes": [[[0, 0, 0], [300, 0, 5]]]}), "ab", "almost flat"),
    (json.dumps({"strokes": timed_strokes("a bad cab")}), "", "the words the strokes say are missing"),
    (json.dumps({"strokes": timed_strokes("a bad cab")}), ("a bad cab " * 8).strip(), "type exactly what you wrote"),
    (json.dumps({"strokes": timed_strokes("a bad cab a bad cab a bad cab")}), "ab", "type exactly what you wrote"),
    (json.dumps({"strokes": timed_strokes("a bad cab")}), "a bad cab!", "outside the model's vocabulary"),
    (json.dumps({"strokes": [[[0, 0, 0]] * 50_001]}), "ab", "more than 50000 pen points"),
    (json.dumps({"strokes": [[0, 1, 2]]}), "ab", "stroke 0 must be"),
])
def test_strokes_that_cannot_prime_are_refused_with_what_to_do(strokes, text, message):
    with pytest.raises(InputError, match=message):
        strokes_primer(strokes, text, CONFIG)


@pytest.mark.parametrize("strokes, text", [
    ("", "ab"),
    ("{nope", "ab"),
    (json.dumps({"strokes": [[[0, 0, 0], [0, 2, 5]], [[1, 0, 9], [1.5, 1, 12]]]}), "ab"),
    (json.dumps({"strokes": timed_strokes("a bad cab")}), ""),
    (json.dumps({"strokes": timed_strokes("a bad cab")}), ("a bad cab " * 8).strip()),
    (json.dumps({"strokes": timed_strokes("a bad cab")}), "a bad cab!"),
    (json.dumps({"strokes": [[[0, 0, 0]] * 50_001]}), "ab"),
    ("x" * (2 * 1024 ** 2 + 1), "ab"),
], ids=["empty", "not-json", "too-little-ink", "no-text", "text-too-long-for-the-ink", "unwritable", "too-many-points",
        "too-large"])
def test_a_strokes_file_for_the_command_meets_the_canvas_checks_word_for_word(tmp_path, strokes, text):
    from synth.handwriting.styles import style_file_primer

    path = tmp_path / "mine.json"
    path.write_text(strokes)
    with pytest.raises(InputError) as canvas:
        strokes_primer(strokes, text, CONFIG)
    with pytest.raises(InputError) as command:
        style_file_primer(path, text or None, CONFIG)
    assert "your strokes" in str(canvas.value)  # each face names its own source, in the same words
    assert str(command.value) == str(canvas.value).replace("your strokes", f"style file {path}", 1)


def test_a_strokes_file_that_fits_its_own_text_primes_as_the_canvas_does(tmp_path):
    from synth.handwriting.styles import style_file_primer

    data = {"text": "a bad cab", "strokes": timed_strokes("a bad cab")}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    from_file = style_file_primer(path, None, CONFIG)
    from_canvas = strokes_primer(json.dumps(dict(data, text="")), "a bad cab", CONFIG)
    assert from_file.text == from_canvas.text == "a bad cab"
    np.testing.assert_array_equal(from_file.to_offsets(), from_canvas.to_offsets())


def test_the_canvas_page_names_the_field_it_writes():
    page = canvas_page()
    assert f"id='{STROKES_ELEMENT_ID}'" in page and "getCoalescedEvents" in page and "pointerdown" in page
