"""Graves's handwriting synthesis network (2013, section 5) trained on IAM-OnDB: the corpus
(``synth.corpora.iam_ondb``, built from the distribution's archives), training that resumes and
keeps the best weights by held-out NLL, evaluation and bundling. ``recipes/handwriting.py`` is a
staged script over this module.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.corpora.iam_ondb import LICENCE, IamData, build_iam_corpus
from synth.device import describe_machine
from synth.errors import InputError
from synth.handwriting.dataset import LineSet, fixed_batches, length_sorted_batch
from synth.handwriting.ink import Ink
from synth.models.handwriting import HandwritingConfig, HandwritingSynthesis, handwriting_loss
from synth.recipe import config_to_dict
from synth.training import TrainConfig, best_or_last, train

REPOSITORY = Path(__file__).resolve().parents[2]
STYLES_FILE = "styles.json"
#: The issue's floor: a bundled gallery holds lines of at least this many held-out writers.
MIN_GALLERY_WRITERS = 8


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


def prepare_iam(config: IamData, log=print) -> dict:
    """The data stage: the IAM-OnDB corpus (``synth.corpora.iam_ondb.build_iam_corpus``) from
    ``config.root`` into ``config.out``, both relative to the repository."""
    return build_iam_corpus(config, repository_path(config.root), repository_path(config.out), log)


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


def run_training(recipe: HandwritingRecipe, log=print) -> dict:
    """Train (resuming from ``run_dir`` when it holds a training state); the trainer keeps the best
    weights by held-out NLL in ``run_dir/best``."""
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
                   log=log)
    return result


def run_bench(recipe: HandwritingRecipe, steps: int = 6, warmup: int = 2, log=print) -> list[dict]:
    """Training pen points per second of the recipe's model on the recipe's lines: each precision
    (float32, bfloat16 autocast) and thread count (1, and the recipe's), with the trainer's own
    step (``synth.training_speed.training_speed``) on the batches training draws. Run it on a quiet machine."""
    from synth.training_speed import training_speed

    train_set = load_split(recipe.data, "train")
    config = model_config(recipe, read_manifest(recipe.data))
    order = np.argsort([len(o) for o in train_set.offsets], kind="stable")
    generator = torch.Generator().manual_seed(0)
    batches = [length_sorted_batch(train_set.offsets, train_set.texts, config.alphabet, recipe.batch_size,
                                   generator, order) for _ in range(steps + warmup)]
    results = training_speed(lambda: HandwritingSynthesis(config), handwriting_loss, batches, recipe.train,
                             lambda batch: int(batch["mask"].sum()), sorted({1, recipe.threads}), warmup=warmup,
                             unit="points", log=log)
    log(f"machine: {describe_machine()}")
    return results


def best_checkpoint(recipe: HandwritingRecipe) -> Path:
    return best_or_last(repository_path(recipe.run_dir))


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
    from synth.handwriting.legibility import FREE_TEXTS, legibility, printed_legibility
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
    ocr["printed_text"] = printed_legibility(texts)
    log(f"OCR on the same sentences in print: CER {ocr['printed_text']['cer']}")
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
    (checkpoint / "metrics.json").write_text(json.dumps(metrics, indent=1))  # kept should a later part fail
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
