"""Recipe: the bundled handwriting synthesis model (assets/handwriting), Graves 2013 section 5,
trained on a synthetic corpus of pen paths from single-line Hershey fonts. Stages, each resumable:

  data      write the corpus (texts from a sentence generator, split by text) -> data/handwriting/*.npz,
            and the bundled style primers -> assets/handwriting/styles.json
  train     train the synthesis network (resumes from runs/handwriting)
  bundle    copy the latest checkpoint (weights, config, card) into assets/handwriting
  evaluate  held-out NLL / SSE, failure and retry rate over 200 lines, speed -> assets/handwriting/metrics.json
  samples   sample pictures (SVG, PNG, GIF, attention, density) beside the checkpoint

  python recipes/handwriting.py [--stage data|train|bundle|evaluate|samples|all] [--steps N]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from synth.checkpoint import CARD, CONFIG, WEIGHTS, load_checkpoint
from synth.handwriting import hershey
from synth.handwriting.dataset import fixed_batches, offset_statistics, random_batch
from synth.handwriting.text import ALPHABET, random_line, text_split
from synth.models.handwriting import HandwritingConfig, HandwritingSynthesis, handwriting_loss
from synth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "handwriting"
RUN = ROOT / "runs" / "handwriting"
OUT = ROOT / "assets" / "handwriting"
N_TEXTS, MIN_CHARS, MAX_CHARS, BATCH = 14000, 8, 28, 8
MODEL = dict(hidden_size=160, n_layers=2, n_window=10, n_mixtures=20, max_chars=80)
PRIMER_TEXTS = {0: "a quiet morning", 1: "kind words", 2: "the old river", 3: "simple things"}


def data() -> None:
    rng = random.Random(0)
    texts = sorted({random_line(rng, MIN_CHARS, MAX_CHARS) for _ in range(N_TEXTS)})
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


def model_config() -> HandwritingConfig:
    stats = json.loads((DATA / "manifest.json").read_text())["statistics"]
    return HandwritingConfig(**MODEL, alphabet=ALPHABET, offset_std=tuple(stats["offset_std"]),
                             points_per_char=stats["points_per_char"])


def card(record: dict, steps: int) -> str:
    from synth.handwriting.card import model_card

    metrics_path = OUT / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    manifest = json.loads((DATA / "manifest.json").read_text()) if (DATA / "manifest.json").is_file() else {}
    return model_card(MODEL, record, steps, metrics, manifest, BATCH)


def run_training(steps: int) -> None:
    torch.manual_seed(0)
    train_offsets, train_texts, _ = load("train")
    valid_offsets, valid_texts, _ = load("valid")
    valid = fixed_batches(valid_offsets[:64], valid_texts[:64], ALPHABET, BATCH)
    model = HandwritingSynthesis(model_config())
    train(model, loss=handwriting_loss,
          batch=lambda g: random_batch(train_offsets, train_texts, ALPHABET, BATCH, g),
          valid_batches=valid, out_dir=RUN,
          config=TrainConfig(steps=steps, learning_rate=2e-3, warmup_steps=200, grad_clip=3.0,
                             eval_every=100, checkpoint_every=100),
          card=lambda record: f"# handwriting (training run)\n\nStep {record.get('step')}: {json.dumps(record)}\n"
                              "The bundled card is written by the bundle stage.\n",
          metadata={"data": "synthetic Hershey-font handwriting corpus (recipes/handwriting.py)",
                    "hardware": "AMD EPYC VM, 2 CPU cores shared, 1 thread, no GPU"})


def bundle() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, CONFIG):
        shutil.copy(RUN / name, OUT / name)
    model = load_checkpoint(OUT, expect_kind=HandwritingSynthesis.kind)
    record = model.metadata["history"][-1] if model.metadata.get("history") else {}
    (OUT / CARD).write_text(card(record, model.metadata["train"]["steps"]))
    print(f"bundled step {model.metadata.get('step')} into {OUT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=["data", "train", "bundle", "evaluate", "samples", "all"])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.stage in ("data", "all") and not (DATA / "manifest.json").exists():
        data()
    if args.stage in ("train", "all"):
        run_training(args.steps)
    if args.stage in ("bundle", "all"):
        bundle()
    if args.stage in ("evaluate", "all"):
        from synth.handwriting.evaluation import evaluate_checkpoint

        evaluate_checkpoint(OUT, DATA / "test.npz", OUT / "metrics.json")
        bundle()  # the card picks up the new metrics
    if args.stage in ("samples", "all"):
        from synth.handwriting.evaluation import write_samples

        write_samples(OUT, OUT / "samples")


if __name__ == "__main__":
    main()
