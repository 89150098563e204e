"""The ``synth`` command's parser, a sub-command per thing it makes (each in its own module of
``synth.cli``), and ``main``, which turns the library's typed errors into one line and exit code 2."""
from __future__ import annotations

import argparse
import sys

from synth.cli import composition, handwriting, piano, scripts, speech, wavenet


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synth", description="Generate sound, handwriting and music with autoregressive models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wavenet.add_commands(commands)
    bench = commands.add_parser("bench", help="speed benchmarks").add_subparsers(dest="target", required=True, metavar="TARGET")
    wavenet.add_bench(bench)
    scripts.add_bench(bench)
    handwriting.add_commands(commands, bench)
    composition.add_commands(commands)
    speech.add_commands(commands)
    piano.add_commands(commands)
    scripts.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from synth.errors import SynthError

    parser = build_parser()
    args, passed_on = parser.parse_known_args(argv)
    if passed_on and not getattr(args, "passes_on_options", False):
        parser.error(f"unrecognized arguments: {' '.join(passed_on)}")
    args.passed_on = [a for a in passed_on if a != "--"]
    try:
        return args.run(args)
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

