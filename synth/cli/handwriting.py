"""``synth write``: text to handwriting (Graves's synthesis network), and ``synth bench handwriting``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from synth.cli.console import bundled_help


def _write_handwriting(args: argparse.Namespace) -> int:
    """synth write: text to handwriting (SVG, PNG, GIF or JSON), optionally with the attention picture."""
    from synth.device import use_threads
    from synth.services import handwriting

    out = handwriting.check_ink_path(args.out)
    if args.attention is not None and Path(args.attention).suffix.lower() != ".png":
        from synth.errors import InputError

        raise InputError(f"--attention {args.attention}: the attention picture is a .png")
    use_threads(args.threads)
    result = handwriting.write(args.text, style=args.style, style_text=args.style_text, line_chars=args.line_chars,
                               bias=args.bias, temperature=args.temperature, seed=args.seed,
                               max_retries=args.max_retries, record=args.attention is not None,
                               checkpoint=args.checkpoint, device="cpu")
    handwriting.save_ink(result, out, stroke_width=args.stroke_width, colour=args.colour)
    if args.attention is not None:
        handwriting.attention_picture(result, args.attention)
    failed = [line.text for line in result.lines if line.failure]
    print(f"wrote {out}: {len(result.lines)} line(s) in {result.seconds:.2f} s, {result.retries} retried"
          + (f"; still failed after {args.max_retries} retries: {failed}" if failed else ""))
    return 0


def _bench_handwriting(args: argparse.Namespace) -> int:
    from synth.device import use_threads
    from synth.services.handwriting import speed

    use_threads(args.threads)
    print(json.dumps(speed(args.checkpoint, repeats=args.repeats), indent=1))
    return 0


def add_commands(commands, bench) -> None:
    write = commands.add_parser("write", help="write text as handwriting (Graves's synthesis network)",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    write.add_argument("text", help="the text; long text is split into lines")
    write.add_argument("-o", "--out", default="handwriting.svg", help="output file: .svg, .png, .gif (animated) or .json")
    write.add_argument("--style", default=None,
                       help="a bundled style id or name, or your own line of ink: .xml (IAM-OnDB), .json strokes, .svg path")
    write.add_argument("--style-text", default=None, help="what your style file says (when the file does not carry it)")
    write.add_argument("-b", "--bias", type=float, default=1.0, help="sampling bias (Graves 5.4): 0 = as trained, higher = neater")
    write.add_argument("-t", "--temperature", type=float, default=1.0, help="sampling temperature")
    write.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same ink")
    write.add_argument("--attention", default=None, help="also write a .png of the attention window of the first line")
    write.add_argument("--line-chars", type=int, default=40, help="longest line when splitting text")
    write.add_argument("--max-retries", type=int, default=3, help="resample a failed line up to this many times")
    write.add_argument("--stroke-width", type=float, default=2.0, help="pen width in pixels")
    write.add_argument("--colour", default="#1a237e", help="ink colour")
    write.add_argument("--threads", type=int, default=1, help="CPU threads")
    write.add_argument("-c", "--checkpoint", type=Path, default=None, help=bundled_help("handwriting"))
    write.set_defaults(run=_write_handwriting)
    bench_hand = bench.add_parser("handwriting", help="handwriting speed: a 40-character line at batch 1, lines/s at batch 16")
    bench_hand.add_argument("-c", "--checkpoint", type=Path, default=None, help=bundled_help("handwriting"))
    bench_hand.add_argument("--repeats", type=int, default=5, help="runs per batch-1 figure (median reported)")
    bench_hand.add_argument("--threads", type=int, default=1, help="CPU threads")
    bench_hand.set_defaults(run=_bench_handwriting)
