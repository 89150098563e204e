"""The ``synth`` command: it parses options, asks the service for the thing (``synth.services``,
under the command's limits, ``bounds.COMMAND``) and prints progress and what it wrote.

A module per thing the command makes: ``speech`` (say, speak, resynthesise / vocode), ``piano``,
``composition`` (compose), ``handwriting`` (write), ``wavenet`` (any WaveNet checkpoint), and
``scripts`` (the app, the recipes and the app's load test, run from the source checkout);
``console`` holds what they share on the console, ``command`` the parser and ``main``.
"""
from synth.cli.command import build_parser, main

__all__ = ["build_parser", "main"]
