"""Recipe: the bundled handwriting synthesis model (assets/handwriting), Graves 2013 section 5,
trained on a synthetic corpus of pen paths from single-line Hershey fonts. Stages, each resumable:

  data      write the corpus (texts from a sentence generator, split by text) -> data/handwriting/*.npz,
            and the bundled style primers -> assets/handwriting/styles.json
  train     train the synthesis network (resumes from runs/handwriting)
  bundle    copy the latest checkpoint (weights, config, card) into assets/handwriting
  evaluate  held-out NLL / SSE, failure and retry rate over 200 lines, speed -> assets/handwriting/metrics.json
  samples   sample pictures (SVG, PNG, GIF, attention, density) beside the checkpoint

  python recipes/handwriting.py [--stage data|train|bundle|evaluate|samples|all] [train.steps=N ...]
"""
from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.handwriting import hershey
from synth.handwriting.dataset import fixed_batches, offset_statistics, random_batch
from synth.handwriting.text import ALPHABET, random_line, text_split
from synth.models.handwriting import HandwritingConfig, HandwritingSynthesis, handwriting_loss
from synth.recipe import recipe_arguments, wants
from synth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "handwriting"
RUN = ROOT / "runs" / "handwriting"
OUT = ROOT / "assets" / "handwriting"
PRIMER_TEXTS = {0: "a quiet morning", 1: "kind words", 2: "the old river", 3: "simple things"}


@dataclasses.dataclass
class DataConfig:
    n_texts: int = 14000
    min_chars: int = 8
    max_chars: int = 28


@dataclasses.dataclass
class ModelSize:
    hidden_size: int = 160
    n_layers: int = 2
    n_window: int = 10
    n_mixtures: int = 20
    max_chars: int = 80


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelSize = dataclasses.field(default_factory=ModelSize)
    batch_size: int = 8
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(
        steps=2200, learning_rate=2e-3, warmup_steps=200, grad_clip=3.0, ema_decay=0.995,
        eval_every=100, checkpoint_every=100))


def data(config: Config) -> None:
    rng = random.Random(0)
    texts = sorted({random_line(rng, config.data.min_chars, config.data.max_chars) for _ in range(config.data.n_texts)})
    rng.shuffle(texts)
    DATA.mkdir(parents=True, exist_ok=True)
    splits = {name: [t for t in texts if text_split(t) == name] for name in ("train", "valid", "test")}
    manifest = {"source": hershey.ATTRIBUTION, "synthetic": True, "splits": {}}
    for i, (name, split_texts) in enumerate(splits.items()):
        lines = hershey.build_corpus(split_texts, seed=1 + i)
        hershey.save_corpus(DATA / f"{name}.npz", lines)
        manifest["splits"][name] = {"lines": len(lines), "points": int(sum(len(l.offsets) for l in lines))}
    train_lines = hershey.load_corpus(DATA / "train.npz")
    manifest["statistics"] = offset_statistics([l.offsets for l in train_lines], [l.text for l in train_lines])
    (DATA / "manifest.json").write_text(json.dumps(manifest, indent=1))
    write_styles()
    print(json.dumps(manifest, indent=1))


def write_styles() -> None:
    """One primer line per bundled style (its text is in none of the corpus splits' training texts)."""
    styles = []
    for style in hershey.STYLES:
        text = PRIMER_TEXTS[style.id]
        ink = hershey.handwrite(text, style, seed=10_000 + style.id)
        styles.append({"id": style.id, "name": style.name, "face": style.face, "text": text,
                       "strokes": [np.round(s, 4).tolist() for s in ink.strokes]})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "styles.json").write_text(json.dumps({"source": hershey.ATTRIBUTION, "styles": styles}))


def load(split: str):
    lines = hershey.load_corpus(DATA / f"{split}.npz")
    return [l.offsets for l in lines], [l.text for l in lines], [l.style for l in lines]


def model_config(config: Config) -> HandwritingConfig:
    stats = json.loads((DATA / "manifest.json").read_text())["statistics"]
    return HandwritingConfig(**dataclasses.asdict(config.model), alphabet=ALPHABET, offset_std=tuple(stats["offset_std"]),
                             points_per_char=stats["points_per_char"])


def card(config: Config, record: dict) -> str:
    from synth.handwriting.card import model_card

    metrics_path = OUT / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    manifest = json.loads((DATA / "manifest.json").read_text()) if (DATA / "manifest.json").is_file() else {}
    return model_card(dataclasses.asdict(config.model), record, config.train, metrics, manifest, config.batch_size)


def run_training(config: Config) -> None:
    torch.manual_seed(0)
    train_offsets, train_texts, _ = load("train")
    valid_offsets, valid_texts, _ = load("valid")
    valid = fixed_batches(valid_offsets[:64], valid_texts[:64], ALPHABET, 8)
    model = HandwritingSynthesis(model_config(config))
    train(model, loss=handwriting_loss,
          batch=lambda g: random_batch(train_offsets, train_texts, ALPHABET, config.batch_size, g),
          valid_batches=valid, out_dir=RUN, config=config.train,
          card=lambda record: f"# handwriting (training run)\n\n{json.dumps(record)}\n"
                              "The bundled card is written by the bundle stage.\n",
          metadata={"data": "synthetic Hershey-font handwriting corpus (recipes/handwriting.py)",
                    "hardware": "AMD EPYC VM, 2 CPU cores shared, 1 thread, no GPU"})


def bundle(config: Config) -> None:
    """The latest exported checkpoint (EMA weights) into assets/, with its card; the
    optimizer state stays in runs/."""
    model = load_checkpoint(RUN, expect_kind=HandwritingSynthesis.kind)
    history = model.metadata.get("history") or [{}]
    save_checkpoint(model, OUT, card=card(config, history[-1]), metadata=model.metadata)
    print(f"bundled step {model.metadata.get('step')} into {OUT}")


def main() -> None:
    args, config = recipe_arguments(__doc__, Config(), ["data", "train", "bundle", "evaluate", "samples"])
    torch.set_num_threads(1)
    if wants(args, "data") and not (DATA / "manifest.json").exists():
        data(config)
    if wants(args, "train"):
        run_training(config)
    if wants(args, "bundle"):
        bundle(config)
    if wants(args, "evaluate"):
        from synth.handwriting.evaluation import evaluate_checkpoint

        evaluate_checkpoint(OUT, DATA / "test.npz", OUT / "metrics.json")
        bundle(config)  # the card picks up the new metrics
    if wants(args, "samples"):
        from synth.handwriting.evaluation import write_samples

        write_samples(OUT, OUT / "samples")


if __name__ == "__main__":
    main()
