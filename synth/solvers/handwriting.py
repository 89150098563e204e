"""Graves's handwriting synthesis network (2013, section 5) trained on IAM-OnDB: the corpus built
from the distribution's archives, training that resumes and keeps the best weights by held-out
NLL, evaluation and bundling. ``recipes/handwriting.py`` is a staged script over this module.

Corpus preparation follows Graves (2013, section 4.1: steps longer than a threshold removed, the
offsets normalised) and sjvasquez/handwriting-synthesis (the baseline's slope turned level,
lines whose ink and text disagree left out), with one difference: strokes are resampled at a
fixed spacing along the pen path, so that a line costs about ten network steps a character
whatever the digitiser's rate, and a user's own strokes (from a browser canvas or a file) are
brought to the same form by the same function (``synth.handwriting.ink.normalise_ink``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.device import describe_machine
from synth.errors import CheckpointError, InputError
from synth.handwriting import iam
from synth.handwriting.dataset import LineSet, fixed_batches, length_sorted_batch, offset_statistics
from synth.handwriting.ink import Ink, normalise_ink
from synth.models.handwriting import HandwritingConfig, HandwritingSynthesis, handwriting_loss
from synth.recipe import config_to_dict
from synth.splits import SPLITS, handwriting_split
from synth.training import TrainConfig, train

REPOSITORY = Path(__file__).resolve().parents[2]
LICENCE = ("IAM On-Line Handwriting Database (M. Liwicki and H. Bunke, \"IAM-OnDB - an On-Line English Sentence "
           "Database Acquired from Handwritten Text on a Whiteboard\", ICDAR 2005): non-commercial research use "
           "only. A model trained on it inherits these terms.")
#: Forms whose transcription is a placeholder ("Please Enter Transcription here"): a known-bad form
#: that sjvasquez/handwriting-synthesis also leaves out.
KNOWN_BAD_FORMS = frozenset({"z01-000z", "z01-000"})
#: IAM-OnDB's transcribers mark illegible or struck-out words with '#': such a line's text is not its ink.
ILLEGIBLE_MARK = "#"
BEST = "best"
STYLES_FILE = "styles.json"
#: The issue's floor: a bundled gallery holds lines of at least this many held-out writers.
MIN_GALLERY_WRITERS = 8


@dataclasses.dataclass
class IamData:
    root: str = "../shared/data/iam-ondb"  # the distribution's folder, relative to the repository
    out: str = "data/iam"  # where the prepared splits go (gitignored)
    valid_percent: int = 5  # of the writers (of the forms where the writer is unknown)
    test_percent: int = 6
    line_height: float = 1.0  # a line's 5-95 percentile height after normalisation
    point_spacing: float = 0.16  # between resampled pen points, in line heights (about 10 a character)
    max_chars: int = 64  # longer lines are left out of training (the model writes up to model.max_chars)
    max_points: int = 540
    min_char_count: int = 10  # characters seen fewer times in the training lines are not in the vocabulary
    points_per_char_band: tuple[float, float] = (0.4, 2.5)  # kept: this times the median points per character
    max_jump: float = 6.0  # a pen-up move longer than this many line heights is a stray mark: the line is left out


@dataclasses.dataclass
class ModelSize:
    """3 x 256 rather than the paper's 3 x 400: one training step (16 lines of about 290 points) takes
    1.15 CPU seconds against 2.19 (and 3 x 256 costs only 9% more than 2 x 256, as the first layer's
    step-by-step window loop dominates), so a few hours on one thread see twice the epochs.
    Sampling 400 steps (a 40-character line) at batch 1 costs 0.66 CPU seconds (3 x 400: 1.2; 2 x 256:
    0.44), so a line stays near the 1 s target; ``model.n_layers=2`` is the faster choice if it must."""
    hidden_size: int = 256
    n_layers: int = 3
    n_window: int = 10  # K
    n_mixtures: int = 20  # M
    max_chars: int = 80


@dataclasses.dataclass
class EvaluationSize:
    heldout_lines: int = 0  # test-writer lines scored for NLL (0 = all)
    gallery_writers: int = 10  # held-out writers whose lines become the bundled styles
    ocr_texts: int = 20  # free-written sentences (FREE_TEXTS) read by the OCR per setting
    ocr_real_lines: int = 60  # real held-out lines read by the OCR (its baseline)
    failure_lines: int = 200


@dataclasses.dataclass
class HandwritingRecipe:
    data: IamData = dataclasses.field(default_factory=IamData)
    model: ModelSize = dataclasses.field(default_factory=ModelSize)
    batch_size: int = 16
    valid_lines: int = 128  # held-out lines (validation writers) scored at every evaluation
    evaluation: EvaluationSize = dataclasses.field(default_factory=EvaluationSize)
    run_dir: str = "runs/handwriting-iam"
    bundle_dir: str = "assets/handwriting"
    threads: int = 1
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(
        steps=9000, learning_rate=1e-3, warmup_steps=300, grad_clip=3.0, ema_decay=0.995,
        eval_every=250, checkpoint_every=250, log_every=25))


def repository_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else REPOSITORY / path


def _archive(root: Path, stem: str) -> Path:
    """``stem``.tar.xz / .tar.gz / .tgz / .tar, or the extracted folder, whichever is there."""
    for candidate in (root / f"{stem}-all.tar.xz", root / f"{stem}-all.tar.gz", root / f"{stem}-all.tgz",
                      root / f"{stem}-all.tar", root / stem):
        if candidate.exists():
            return candidate
    raise InputError(f"{root}: neither {stem}-all.tar.gz (or .tar.xz) nor an extracted {stem}/ folder; "
                     "give the IAM-OnDB folder with data.root=PATH")


def prepare_iam(config: IamData, log=print) -> dict:
    """Read, clean, normalise and split IAM-OnDB; write ``{train,valid,test}.npz`` and
    ``manifest.json`` (vocabulary, statistics, what was left out and why) to ``config.out``."""
    root = repository_path(config.root)
    out = repository_path(config.out)
    writers = iam.read_writers(root / "writers.tsv") if (root / "writers.tsv").is_file() else {}
    lines, left_out_forms = iam.read_iam_ondb(_archive(root, "lineStrokes"), _archive(root, "ascii"))
    log(f"read {len(lines)} lines ({len(left_out_forms)} forms could not be paired)")
    dropped: Counter = Counter()
    kept = []
    for line in lines:
        text = iam.clean_transcription(line.text)
        if line.form_id in KNOWN_BAD_FORMS:
            dropped["known bad form"] += 1
        elif not text or ILLEGIBLE_MARK in text:
            dropped["illegible mark (#) or empty text"] += 1
        elif len(text) > config.max_chars:
            dropped[f"over {config.max_chars} characters"] += 1
        else:
            try:
                ink = normalise_ink(line.ink, target_height=config.line_height, spacing=config.point_spacing, align=True)
            except InputError:  # no points, or flat
                dropped["unusable ink (empty or flat)"] += 1
                continue
            offsets = ink.to_offsets() if ink.n_points >= 2 else None
            if offsets is None or len(offsets) > config.max_points:
                dropped[f"over {config.max_points} points"] += 1
                continue
            if np.abs(offsets[:, :2]).max() > config.max_jump * config.line_height:
                dropped["pen jump longer than max_jump line heights"] += 1
                continue
            writer = writers.get(line.form_id)
            key = f"writer {writer}" if writer else f"form {line.form_id}"
            kept.append((handwriting_split(key, config.valid_percent, config.test_percent), text, offsets,
                         writer or f"form:{line.form_id}", line.line_id))
    # Ink and text that disagree (a line's strokes paired with the wrong text, half a line
    # missing): far from the median points per character.
    ratios = np.array([len(o) / len(t) for _, t, o, _, _ in kept])
    median = float(np.median(ratios))
    low, high = config.points_per_char_band
    in_band = (ratios >= low * median) & (ratios <= high * median)
    dropped["points per character outside the band (text and ink disagree)"] += int((~in_band).sum())
    kept = [k for k, ok in zip(kept, in_band) if ok]
    counts = Counter(c for split, text, *_ in kept if split == "train" for c in text)
    alphabet = "".join(sorted(c for c, n in counts.items() if n >= config.min_char_count))
    rare = Counter()
    splits = {name: LineSet([], [], [], []) for name in SPLITS}
    for split, text, offsets, writer, line_id in kept:
        outside = set(text) - set(alphabet)
        if outside:
            rare.update(outside)
            dropped["characters outside the vocabulary"] += 1
            continue
        s = splits[split]
        s.offsets.append(offsets)
        s.texts.append(text)
        s.writers.append(writer)
        s.line_ids.append(line_id)
    if not splits["train"].offsets:
        raise InputError(f"{root}: no training lines left after cleaning ({dict(dropped)}); check data.* settings")
    out.mkdir(parents=True, exist_ok=True)
    for name, s in splits.items():
        s.save(out / f"{name}.npz")
    train_set = splits["train"]
    statistics = offset_statistics(train_set.offsets, train_set.texts)
    manifest = {
        "source": str(root), "licence": LICENCE, "data": config_to_dict(config), "alphabet": alphabet,
        "statistics": {**statistics, "line_height": config.line_height, "point_spacing": config.point_spacing},
        "splits": {name: {"lines": len(s), "writers": len(set(s.writers)), "points": int(sum(len(o) for o in s.offsets)),
                          "characters": int(sum(len(t) for t in s.texts))} for name, s in splits.items()},
        "left_out": {**dict(dropped), "forms that could not be paired": len(left_out_forms)},
        "characters_left_out_of_the_vocabulary": dict(sorted(rare.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log(json.dumps({k: manifest[k] for k in ("splits", "left_out", "statistics", "alphabet")}, indent=1))
    return manifest


def read_manifest(data: IamData) -> dict:
    path = repository_path(data.out) / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: the corpus is not prepared; run the data stage first")
    return json.loads(path.read_text())


def load_split(data: IamData, name: str) -> LineSet:
    return LineSet.load(repository_path(data.out) / f"{name}.npz")


def model_config(recipe: HandwritingRecipe, manifest: dict) -> HandwritingConfig:
    """The network's config with the corpus's vocabulary and statistics (so the checkpoint carries them)."""
    stats = manifest["statistics"]
    return HandwritingConfig(**dataclasses.asdict(recipe.model), alphabet=manifest["alphabet"],
                             offset_std=tuple(stats["offset_std"]), points_per_char=stats["points_per_char"],
                             line_height=stats["line_height"], point_spacing=stats["point_spacing"],
                             align_baseline=True)


def keep_best(run_dir: Path, log=print) -> dict | None:
    """Copy the run's exported model to ``run_dir/best`` when its held-out loss (from the export's
    own history) is the lowest so far. Reads only what is on disk, so it is right whenever it is
    called (after every evaluation, and on resume after a kill)."""
    try:
        current = load_checkpoint(run_dir, expect_kind=HandwritingSynthesis.kind)
    except CheckpointError:
        return None
    step = current.metadata.get("step")
    record = next((r for r in current.metadata.get("history", []) if r.get("step") == step), None)
    if record is None or "valid_loss" not in record:
        return None
    best_dir = run_dir / BEST
    best = None
    if (best_dir / "config.json").is_file():
        best = json.loads((best_dir / "config.json").read_text())["metadata"].get("best")
    if best is not None and best["valid_loss"] <= record["valid_loss"]:
        return best
    best = {"step": step, "valid_loss": record["valid_loss"]}
    card = (run_dir / "MODEL_CARD.md").read_text() if (run_dir / "MODEL_CARD.md").is_file() else None
    save_checkpoint(current, best_dir, card=card, metadata=dict(current.metadata, best=best))
    log(f"best so far: step {step}, held-out NLL {record['valid_loss']} nats per point -> {best_dir}")
    return best


def run_training(recipe: HandwritingRecipe, log=print) -> dict:
    """Train (resuming from ``run_dir`` when it holds a training state) and keep the best weights."""
    torch.set_num_threads(recipe.threads)
    torch.manual_seed(recipe.train.seed)
    manifest = read_manifest(recipe.data)
    train_set, valid_set = load_split(recipe.data, "train"), load_split(recipe.data, "valid")
    config = model_config(recipe, manifest)
    order = np.argsort([len(o) for o in train_set.offsets], kind="stable")
    if not len(valid_set):
        raise InputError(f"{recipe.data.out}: the validation split is empty; raise data.valid_percent and rerun the data stage")
    pick = np.random.default_rng(0).permutation(len(valid_set))[:recipe.valid_lines]
    pick = sorted(pick, key=lambda i: len(valid_set.offsets[i]))  # batches of similar length
    valid = fixed_batches([valid_set.offsets[i] for i in pick], [valid_set.texts[i] for i in pick],
                          config.alphabet, recipe.batch_size)
    run_dir = repository_path(recipe.run_dir)
    keep_best(run_dir, log)  # a kill between an export and its copy

    def logged(message: str) -> None:
        log(message)
        if message.startswith("{"):
            keep_best(run_dir, log)  # the export of the previous evaluation is on disk by now

    model = HandwritingSynthesis(config)
    mean_points = float(np.mean([len(o) for o in train_set.offsets]))
    result = train(model, loss=handwriting_loss,
                   batch=lambda g: length_sorted_batch(train_set.offsets, train_set.texts, config.alphabet,
                                                       recipe.batch_size, g, order),
                   valid_batches=valid, out_dir=run_dir, config=recipe.train,
                   units_per_batch=int(mean_points * recipe.batch_size),
                   card=lambda record: f"# handwriting (IAM-OnDB training run)\n\n{json.dumps(record)}\n\n{LICENCE}\n",
                   metadata={"data": "IAM-OnDB (recipes/handwriting.py)", "licence": LICENCE,
                             "corpus": {k: manifest[k] for k in ("splits", "statistics", "left_out")},
                             "recipe": config_to_dict(recipe), "hardware": describe_machine()},
                   log=logged)
    keep_best(run_dir, log)
    return result


def best_checkpoint(recipe: HandwritingRecipe) -> Path:
    run_dir = repository_path(recipe.run_dir)
    best = run_dir / BEST
    if (best / "config.json").is_file():
        return best
    if (run_dir / "config.json").is_file():
        return run_dir
    raise InputError(f"{run_dir}: no trained model yet; run the train stage first")


def bundle(recipe: HandwritingRecipe, card: str, extra_files: dict[str, Path] | None = None, log=print) -> Path:
    """The best checkpoint (by held-out NLL) into ``bundle_dir`` with its card and files (styles.json, metrics)."""
    source = best_checkpoint(recipe)
    model = load_checkpoint(source, expect_kind=HandwritingSynthesis.kind)
    out = repository_path(recipe.bundle_dir)
    save_checkpoint(model, out, card=card, metadata=model.metadata)
    for name, path in (extra_files or {}).items():
        if Path(path).resolve() != (out / name).resolve():
            shutil.copyfile(path, out / name)
    log(f"bundled {source} (step {model.metadata.get('step')}) into {out}")
    return out


# -- evaluation ----------------------------------------------------------------------------------

def gallery(test_set: LineSet, n_writers: int, min_chars: int = 18, max_chars: int = 40,
            max_points: int = 450, min_letter_share: float = 0.85) -> list[dict]:
    """One line from each of ``n_writers`` held-out writers (known writers first, one line each,
    in a fixed order): the styles a user can pick, each with its own text (Graves 2013, 5.5).
    A line must be mostly words (letters and spaces): a row of numbers shows little of a hand."""
    by_writer: dict[str, list[int]] = {}
    for i, (text, writer, offsets) in enumerate(zip(test_set.texts, test_set.writers, test_set.offsets)):
        words = sum(c.isalpha() or c == " " for c in text) / max(1, len(text))
        if min_chars <= len(text) <= max_chars and len(offsets) <= max_points and words >= min_letter_share:
            by_writer.setdefault(writer, []).append(i)
    writers = sorted(by_writer, key=lambda w: (w.startswith("form:"), hashlib.sha256(w.encode()).hexdigest()))
    styles = []
    for writer in writers[:n_writers]:
        i = max(by_writer[writer], key=lambda j: len(test_set.texts[j]))  # the longest fitting line
        ink = Ink.from_offsets(test_set.offsets[i], test_set.texts[i], at_model_scale=True)
        styles.append({"id": len(styles), "name": f"writer {writer}" if not writer.startswith("form:") else writer,
                       "writer": writer, "line_id": test_set.line_ids[i], "text": test_set.texts[i],
                       "strokes": [np.round(s, 4).tolist() for s in ink.strokes]})
    return styles


def held_out_styles(recipe: HandwritingRecipe) -> list[dict]:
    """The style gallery, picked from the test-writer split (``gallery``) and checked: at least
    ``MIN_GALLERY_WRITERS`` writers, none of whom wrote a training or validation line."""
    test_set = load_split(recipe.data, "test")
    styles = gallery(test_set, recipe.evaluation.gallery_writers)
    if len(styles) < MIN_GALLERY_WRITERS:
        raise InputError(f"{recipe.data.out}: the test split has {len(styles)} writers with a line that fits the "
                         f"gallery; at least {MIN_GALLERY_WRITERS} are needed (raise data.test_percent and rerun the "
                         "data stage, or lower evaluation.gallery_writers no further than that)")
    seen = set(load_split(recipe.data, "train").writers) | set(load_split(recipe.data, "valid").writers)
    assert not seen & {s["writer"] for s in styles}, "the splits are by writer: a test writer cannot be in training"
    return styles


def write_styles(path: Path, styles: list[dict]) -> Path:
    """The gallery as JSON (no pickles: it is read from an untrusted bundle), with its licence."""
    path.write_text(json.dumps({"source": LICENCE, "styles": styles}))
    return path


def evaluate(recipe: HandwritingRecipe, log=print) -> dict:
    """Held-out NLL on the test writers, the style gallery, legibility by OCR (free-written
    sentences at bias 0, 1, 2 unprimed and at bias 1 in every style, beside the OCR on real
    held-out lines), failures and speed -> metrics.json, styles.json and samples/ beside the best
    checkpoint."""
    from synth.handwriting.evaluation import failure_rate, heldout_metrics, speed, write_samples
    from synth.handwriting.legibility import FREE_TEXTS, legibility
    from synth.handwriting.styles import bundled_style
    from synth.handwriting.writer import write_lines

    size = recipe.evaluation
    checkpoint = best_checkpoint(recipe)
    model = load_checkpoint(checkpoint, expect_kind=HandwritingSynthesis.kind)
    test_set = load_split(recipe.data, "test")
    metrics: dict = {"step": model.metadata.get("step"), "checkpoint": str(checkpoint)}
    n = size.heldout_lines or len(test_set)
    metrics["heldout_test"] = heldout_metrics(model, test_set.offsets[:n], test_set.texts[:n])
    metrics["heldout_test"]["writers"] = len(set(test_set.writers[:n]))
    metrics["heldout_test"]["graves_2013_nll_per_line"] = -1096.9
    log(json.dumps(metrics["heldout_test"]))
    styles = held_out_styles(recipe)
    styles_path = write_styles(checkpoint / STYLES_FILE, styles)
    corpus_texts = set(load_split(recipe.data, "train").texts) | set(test_set.texts)
    texts = [t for t in FREE_TEXTS if not any(t in c for c in corpus_texts)][:size.ocr_texts]  # none is IAM-OnDB text
    real = [Ink.from_offsets(o, t, at_model_scale=True) for o, t in zip(test_set.offsets, test_set.texts)]
    real = real[:: max(1, len(real) // max(1, size.ocr_real_lines))][:size.ocr_real_lines]
    ocr = {"real_heldout_lines": legibility(real)}
    log(f"OCR on real held-out lines: CER {ocr['real_heldout_lines']['cer']}")
    for bias in (0.0, 1.0, 2.0):
        result = write_lines(model, texts, bias=bias, seed=0)
        key = f"unprimed_bias{bias:g}"
        ocr[key] = legibility([line.ink for line in result.lines], texts)
        log(f"OCR unprimed bias {bias:g}: CER {ocr[key]['cer']}")
    for style in styles:
        result = write_lines(model, texts, style=bundled_style(styles_path, style["id"]), bias=1.0, seed=0)
        key = f"style{style['id']}_bias1"
        ocr[key] = legibility([line.ink for line in result.lines], texts)
        log(f"OCR style {style['id']} ({style['name']}) bias 1: CER {ocr[key]['cer']}")
    metrics["legibility"] = ocr
    failure_texts = [t for t in test_set.texts if len(t) <= model.config.max_chars][:size.failure_lines]
    metrics["failures"] = [failure_rate(model, failure_texts, styles_path, bias=b) for b in (0.0, 1.0)]
    log(json.dumps(metrics["failures"]))
    metrics["speed"] = speed(model, styles_path)
    log(json.dumps(metrics["speed"]))
    (checkpoint / "metrics.json").write_text(json.dumps(metrics, indent=1))
    write_samples(checkpoint, checkpoint / "samples")
    return metrics


def bundle_with_card(recipe: HandwritingRecipe, note: str = "", log=print) -> Path:
    """The best checkpoint with its card, metrics and samples into ``bundle_dir``, and the style
    gallery picked from the test-writer split (``held_out_styles``) as ``styles.json``. The
    gallery must be the one the evaluate stage measured (its OCR figures are per style)."""
    from synth.handwriting.card import model_card

    source = best_checkpoint(recipe)
    model = load_checkpoint(source, expect_kind=HandwritingSynthesis.kind)
    styles = held_out_styles(recipe)
    evaluated = source / STYLES_FILE
    if not evaluated.is_file() or json.loads(evaluated.read_text()).get("styles") != styles:
        raise InputError(f"{source}: the evaluate stage has not measured this gallery of held-out writers; "
                         "run --stage evaluate before bundling")
    metrics = json.loads((source / "metrics.json").read_text()) if (source / "metrics.json").is_file() else {}
    history = model.metadata.get("history") or [{}]
    record = next((r for r in history if r.get("step") == model.metadata.get("step")), history[-1])
    card = model_card(dataclasses.asdict(model.config), record, recipe.train, metrics, read_manifest(recipe.data),
                      recipe.batch_size, styles, note)
    out = bundle(recipe, card, {"metrics.json": source / "metrics.json"} if metrics else {}, log)
    write_styles(out / STYLES_FILE, styles)
    log(f"{len(styles)} styles from held-out writers: {', '.join(s['name'] for s in styles)}")
    if (source / "samples").is_dir():
        shutil.copytree(source / "samples", out / "samples", dirs_exist_ok=True)
    return out
