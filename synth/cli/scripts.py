"""Commands that run what the source checkout holds beside the package: ``synth app`` (app.py),
``synth recipe`` (recipes/NAME.py) and ``synth bench app`` (the load test, which starts app.py)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: The source checkout that holds app.py and recipes/.
CHECKOUT = Path(__file__).resolve().parents[2]
RECIPES = CHECKOUT / "recipes"


def _bench_app(args: argparse.Namespace) -> int:
    from synth.load_test import main as load_test

    return load_test(args.passed_on, prog="synth bench app")


def _app(args: argparse.Namespace) -> int:
    import runpy

    script = CHECKOUT / "app.py"
    if not script.is_file():
        raise SystemExit(f"error: {script} not found; `synth app` runs from a source checkout")
    os.environ["SYNTH_HOST"], os.environ["SYNTH_PORT"] = args.host, str(args.port)
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _recipe(args: argparse.Namespace) -> int:
    """Run a recipe script (recipes/NAME.py) with its own arguments, or list them."""
    import runpy

    from synth.errors import InputError

    available = sorted(p.stem for p in RECIPES.glob("*.py")) if RECIPES.is_dir() else []
    if not args.name:
        for name in available:
            doc = (RECIPES / f"{name}.py").read_text(encoding="utf-8").split('"""')
            print(f"{name:24s} {doc[1].strip().splitlines()[0] if len(doc) > 1 else ''}")
        return 0
    if args.name not in available:
        raise InputError(f"unknown recipe {args.name!r}; recipes: {', '.join(available) or f'none (no {RECIPES})'}")
    sys.argv = [str(RECIPES / f"{args.name}.py"), *args.arguments]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return 0


def add_commands(commands) -> None:
    """``synth app`` and ``synth recipe``."""
    formatter = argparse.ArgumentDefaultsHelpFormatter
    app = commands.add_parser("app", help="launch the app (Gradio) on this machine", formatter_class=formatter)
    app.add_argument("--host", default=os.environ.get("SYNTH_HOST", "127.0.0.1"), help="address to listen on")
    app.add_argument("--port", type=int, default=int(os.environ.get("SYNTH_PORT", "7860")), help="port to listen on")
    app.set_defaults(run=_app)

    recipe = commands.add_parser("recipe", help="run a recipe (recipes/NAME.py: data, training, evaluation)",
                                 formatter_class=formatter)
    recipe.add_argument("name", nargs="?", default=None, help="recipe to run; leave out to list them")
    recipe.add_argument("arguments", nargs=argparse.REMAINDER, help="the recipe's own arguments (see its --help)")
    recipe.set_defaults(run=_recipe)


def add_bench(bench) -> None:
    bench_app = bench.add_parser("app", help="load test: concurrent API clients against the app on loopback "
                                 "(latency per endpoint, failures, memory); its options: synth bench app --help", add_help=False)
    bench_app.set_defaults(run=_bench_app, passes_on_options=True)  # its options are the load test's own
