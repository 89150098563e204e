"""Recipe: Graves's handwriting synthesis network (2013, section 5) on IAM-OnDB. Stages, each resumable:

  data      read the IAM-OnDB archives (data.root, default ../shared/data/iam-ondb), clean, normalise,
            split by writer -> data/iam/{train,valid,test}.npz + manifest.json (once)
  train     train (resumes from run_dir; the best weights by held-out NLL are kept in run_dir/best)
  evaluate  held-out NLL on the test writers, legibility by OCR, failures, speed, the style gallery
            -> run_dir/best/metrics.json, styles.json, samples/
  bench     (only when asked: --stage bench) training pen points/s per precision and thread count
  bundle    (only when asked: --stage bundle) the best checkpoint, its card and metrics, and the style gallery
            (one line from each of at least 8 test-split writers, plain JSON, as evaluated) -> bundle_dir

  python recipes/handwriting.py [--stage data|train|evaluate|bench|bundle|all] [train.steps=N model.hidden_size=H ...]

The logic lives in synth/solvers/handwriting.py (the corpus in synth/corpora/iam_ondb.py); this file
is the config and the stages.
"""
from __future__ import annotations

import torch

from synth.recipe import recipe_arguments, wants
from synth.solvers import handwriting as solver


def main() -> None:
    args, recipe = recipe_arguments(__doc__, solver.HandwritingRecipe(), ["data", "train", "evaluate", "bench", "bundle"])
    torch.set_num_threads(recipe.threads)
    if wants(args, "data") and not (solver.repository_path(recipe.data.out) / "manifest.json").is_file():
        solver.prepare_iam(recipe.data)
    if wants(args, "train"):
        solver.run_training(recipe)
    if wants(args, "evaluate"):
        solver.evaluate(recipe)
    if args.stage == "bench":
        solver.run_bench(recipe)
    if args.stage == "bundle":
        solver.bundle_with_card(recipe)


if __name__ == "__main__":
    main()
