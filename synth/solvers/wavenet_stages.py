"""A WaveNet recipe's staged command line (r9y9's ``egs/`` stages): train, temperature (vocoders),
evaluate, sample, card, bench, lookahead, deepen, widen and sines, over the training procedure (``synth/solvers/wavenet.py``) and
its evaluation (``synth/solvers/wavenet_evaluation.py``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from synth.checkpoint import CARD, atomic_write, load_checkpoint
from synth.errors import CheckpointError, InputError
from synth.recipe import recipe_arguments, wants
from synth.solvers.wavenet import WaveNetRecipe, read_metrics, run_bench, run_train
from synth.solvers.wavenet_growth import grow_key_harmonics, grow_lookahead, grow_stacks, grow_width
from synth.solvers.wavenet_evaluation import choose_temperature, run_evaluate, run_sample


def run_stages(description: str, default: WaveNetRecipe, card: Callable[[WaveNetRecipe, dict], str], argv=None) -> None:
    """A WaveNet recipe's command line: ``--stage train|temperature|evaluate|sample|card|bench|lookahead|deepen|widen|sines|all``
    with config overrides (``all`` runs train, evaluate and sample)."""
    args, recipe = recipe_arguments(description, default, ["train", "temperature", "evaluate", "sample", "card", "bench",
                                                           "lookahead", "deepen", "widen", "sines"], argv)
    try:
        _run(args, recipe, lambda facts: card(recipe, facts))
    except (InputError, CheckpointError) as error:  # what was wrong, without a traceback
        raise SystemExit(f"error: {error}") from None


def _run(args, recipe: WaveNetRecipe, write_card: Callable[[dict], str]) -> None:
    """The stages ``args.stage`` asks for, in order."""
    if args.stage == "lookahead":  # a run trained without look-ahead goes on with the recipe's (same function)
        grown = grow_lookahead(recipe)
        print(f"{recipe.out_dir}: training state at step {grown['step']} now looks {grown['to']} frames ahead "
              f"(was {grown['from']}); resume it with --stage train")
    if args.stage == "deepen":  # a longer receptive field for a trained run: more stacks (same function)
        grown = grow_stacks(recipe)
        print(f"{recipe.out_dir}: training state at step {grown['step']} now has {grown['to']} stacks "
              f"(was {grown['from']}); resume it with --stage train")
    if args.stage == "widen":  # more residual and gate channels for a trained run (same function)
        grown = grow_width(recipe)
        print(f"{recipe.out_dir}: training state at step {grown['step']} now has {grown['to'][0]} residual / "
              f"{grown['to'][1]} gate channels (was {grown['from'][0]} / {grown['from'][1]}); resume it with --stage train")
    if args.stage == "sines":  # a piano run goes on with its held keys' sines as input too (same function)
        grown = grow_key_harmonics(recipe)
        print(f"{recipe.out_dir}: training state at step {grown['step']} now takes the sines of {grown['to']} "
              f"harmonics of the held keys (was {grown['from']}); resume it with --stage train")
    if wants(args, "train"):
        run_train(recipe, write_card)
    if args.stage == "temperature":  # vocoders: the sampling temperature, chosen on validation clips
        choose_temperature(recipe, tuple(recipe.temperatures))
    if wants(args, "evaluate"):
        run_evaluate(recipe, write_card)
    if wants(args, "sample"):
        run_sample(recipe)
    if args.stage == "bench":  # training samples/s per precision and thread count
        run_bench(recipe)
    if args.stage == "card":  # rewrite MODEL_CARD.md from the checkpoint's history and metrics.json
        model = load_checkpoint(recipe.out_dir, expect_kind="wavenet")
        history = model.metadata.get("history") or [{}]
        facts = {"record": history[-1], "metrics": read_metrics(recipe), "hardware": model.metadata.get("hardware"),
                 "sampling": model.metadata.get("sampling")}
        atomic_write(Path(recipe.out_dir) / CARD, write_card(facts).encode())
