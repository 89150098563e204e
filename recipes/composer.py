"""Recipe: the LSTM composer (plain LSTM or RNN-NADE) on a polyphonic music benchmark.

Data: the four benchmarks of Boulanger-Lewandowski et al. (2012) with their published splits, read
from their MATLAB files (default folder ../shared/data/polyphonic-music beside the repository;
data.folder=... points elsewhere): data.source=jsb | nottingham | musedata | piano. Also
data.source=chorales (the music21 chorales) or data.source=midi data.folder=<a MIDI folder>.

Stages (the logic is in synth/solvers/composer.py and composer_bundle.py):
  train     train model.head=nade|independent -> runs/composer/<source>-<head>/ (resumes; the
            weights with the lowest validation NLL are kept in best/)
  evaluate  test / valid NLL and frame accuracy, per-key marginal baseline, copying, time for 32 bars
            -> runs/composer/<source>-<head>/metrics.json
  bundle    the evaluated run on data.source with the lowest validation NLL -> assets/composer-<style>/
            with its model card and a sample (MIDI, roll picture, audio)
  bench     seconds to compose 32 bars at batch 1 with every bundled composer (assets/composer*)
  table     the results table of every evaluated run beside the published figures
  all       train, then evaluate

  python recipes/composer.py --stage all data.source=nottingham model.head=nade train.steps=2000
  python recipes/composer.py --stage bundle data.source=nottingham
  python recipes/composer.py --print-config
"""
from __future__ import annotations

import shlex
import sys

from synth.recipe import recipe_arguments
from synth.solvers.composer import ROOT, ComposerRecipe, run_bench, run_evaluate, run_train
from synth.solvers.composer_bundle import results_table, run_bundle

STAGES = ["train", "evaluate", "bundle", "bench", "table"]


def main(argv=None) -> None:
    args, recipe = recipe_arguments(__doc__, ComposerRecipe(), STAGES, argv)
    command = " ".join(["python recipes/composer.py --stage all", *map(shlex.quote, args.overrides)])
    if args.stage in ("train", "all"):
        run_train(recipe, command)
    if args.stage in ("evaluate", "all"):
        run_evaluate(recipe)
    if args.stage == "bundle":
        run_bundle(recipe)
    if args.stage == "bench":
        run_bench(sorted(p.relative_to(ROOT) for p in (ROOT / "assets").glob("composer*") if (p / "config.json").is_file()))
    if args.stage == "table":
        print(results_table(recipe.runs_dir))


if __name__ == "__main__":
    main(sys.argv[1:])
