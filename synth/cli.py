"""The ``synth`` command."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

#: Bundled checkpoints and data (the repository's assets/ folder, or $SYNTH_ASSETS).
ASSETS = Path(os.environ.get("SYNTH_ASSETS", Path(__file__).resolve().parents[1] / "assets"))
DEFAULT_WAVENET = ASSETS / "wavenet-tiny"
MAX_SECONDS = 600.0


def _wavenet_generate(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from synth.audio import write_audio
    from synth.checkpoint import load_checkpoint
    from synth.device import pick_device
    from synth.models.wavenet import generate_waveform
    from synth.sampling.policies import make_policy

    model = load_checkpoint(args.checkpoint, device=pick_device(args.device), expect_kind="wavenet")
    rate = model.config.sample_rate
    frames = None
    if args.frames is not None:
        try:
            frames = torch.from_numpy(np.load(args.frames, allow_pickle=False)).float()
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: {args.frames}: not a readable .npy array of conditioning frames ({exc})")
    policy = make_policy(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy)
    total = round(args.seconds * rate)
    chunks = []
    with tqdm(total=total * args.batch, unit="sample", unit_scale=True, desc="generating",
              disable=args.quiet) as bar:
        for chunk in generate_waveform(model, seconds=args.seconds, batch_size=args.batch, speaker=args.speaker,
                                       frames=frames, policy=policy, seed=args.seed, max_seconds=MAX_SECONDS):
            chunks.append(chunk)
            bar.update(chunk.numel())
    audio = torch.cat(chunks, dim=1)  # (B, T)
    out = Path(args.output)
    paths = [out] if args.batch == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(args.batch)]
    for path, waveform in zip(paths, audio):
        write_audio(path, waveform, rate)
        print(f"wrote {path} ({waveform.shape[-1] / rate:.2f} s at {rate} Hz)")
    return 0


def _wavenet_info(args: argparse.Namespace) -> int:
    from synth.checkpoint import load_checkpoint

    model = load_checkpoint(args.checkpoint, expect_kind="wavenet")
    c = model.config
    print(json.dumps({
        "checkpoint": str(args.checkpoint), "parameters": sum(p.numel() for p in model.parameters()),
        "receptive_field_samples": c.receptive_field,
        "receptive_field_ms": round(1000 * c.receptive_field / c.sample_rate, 1),
        "speakers": c.n_speakers, "conditioning_channels": c.cond_channels, "hop_length": c.hop_length,
        "config": model.config.__dict__, "metadata": model.metadata,
    }, indent=2, default=str))
    return 0


def _bench_wavenet(args: argparse.Namespace) -> int:
    from synth.bench import bench_spread, bench_wavenet, format_wavenet

    if args.spread:
        print(json.dumps(bench_spread(args.spread)))
        return 0
    print(format_wavenet(bench_wavenet(quick=args.quick, device=args.device)))
    return 0


DEFAULT_HANDWRITING = ASSETS / "handwriting"


def _write_handwriting(args: argparse.Namespace) -> int:
    """synth write: text to handwriting (SVG, PNG, GIF or JSON), optionally with the attention picture."""
    import torch

    from synth.checkpoint import load_checkpoint
    from synth.errors import InputError
    from synth.handwriting.render import FORMATS, attention_figure, write_ink
    from synth.handwriting.styles import bundled_style, read_style_file
    from synth.handwriting.writer import write_text
    from synth.models.handwriting import HandwritingSynthesis

    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise InputError(f"--out {out}: unknown format {out.suffix!r}; allowed: {', '.join(FORMATS)}")
    if args.attention is not None and Path(args.attention).suffix.lower() != ".png":
        raise InputError(f"--attention {args.attention}: the attention picture is a .png")
    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.checkpoint, expect_kind=HandwritingSynthesis.kind)
    style = None
    if args.style is not None:
        if Path(args.style).suffix.lower() in (".xml", ".json", ".svg"):
            style = read_style_file(args.style, text=args.style_text)
        else:
            style = bundled_style(Path(args.checkpoint) / "styles.json", args.style)
    result = write_text(model, args.text, style=style, line_chars=args.line_chars, bias=args.bias,
                        temperature=args.temperature, seed=args.seed, max_retries=args.max_retries,
                        record=args.attention is not None)
    looks = {} if out.suffix.lower() == ".json" else {"stroke_width": args.stroke_width, "colour": args.colour}
    write_ink(out, [line.ink for line in result.lines], **looks)
    if args.attention is not None:
        first = result.lines[0]
        attention_figure(args.attention, first.phi, first.text, first.ink)
    failed = [line.text for line in result.lines if line.failure]
    print(f"wrote {out}: {len(result.lines)} line(s) in {result.seconds:.2f} s, {result.retries} retried"
          + (f"; still failed after {args.max_retries} retries: {failed}" if failed else ""))
    return 0


def _bench_handwriting(args: argparse.Namespace) -> int:
    import torch

    from synth.checkpoint import load_checkpoint
    from synth.handwriting.evaluation import speed
    from synth.models.handwriting import HandwritingSynthesis

    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.checkpoint, expect_kind=HandwritingSynthesis.kind)
    print(json.dumps(speed(model, Path(args.checkpoint) / "styles.json", repeats=args.repeats), indent=1))
    return 0


def _add_handwriting_commands(commands, bench) -> None:
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
    write.add_argument("-c", "--checkpoint", type=Path, default=DEFAULT_HANDWRITING, help="checkpoint folder")
    write.set_defaults(run=_write_handwriting)
    bench_hand = bench.add_parser("handwriting", help="handwriting speed: a 40-character line at batch 1, lines/s at batch 16")
    bench_hand.add_argument("-c", "--checkpoint", type=Path, default=DEFAULT_HANDWRITING, help="checkpoint folder")
    bench_hand.add_argument("--repeats", type=int, default=5, help="runs per batch-1 figure (median reported)")
    bench_hand.add_argument("--threads", type=int, default=1, help="CPU threads")
    bench_hand.set_defaults(run=_bench_handwriting)
DEFAULT_COMPOSER = ASSETS / "composer"


def _compose(args: argparse.Namespace) -> int:
    """``synth compose``: pieces from the LSTM composer as MIDI (and audio, and a picture)."""
    from tqdm import tqdm

    from synth.audio import write_audio
    from synth.checkpoint import load_checkpoint
    from synth.music.composition import compose, primer_roll, render_audio
    from synth.music.midi import write_midi
    from synth.music.picture import save_roll_png

    model = load_checkpoint(args.checkpoint, expect_kind="composer")
    c = model.config
    primer = primer_roll(args.primer, c.steps_per_quarter, args.primer_bars, c.beats_per_bar) if args.primer else None
    with tqdm(total=args.bars * c.steps_per_bar, unit="frame", desc="composing", disable=args.quiet) as bar:
        pieces = compose(model, bars=args.bars, batch_size=args.batch, temperature=args.temperature, seed=args.seed,
                         primer=primer, tempo_bpm=args.tempo, max_silent_bars=args.max_silent_bars,
                         max_held_bars=args.max_held_bars, progress=lambda done, total: bar.update(done - bar.n))

    def named(path: Path | None, i: int) -> Path | None:
        if path is None or args.batch == 1:
            return path
        return path.with_name(f"{path.stem}_{i}{path.suffix}")

    for i, piece in enumerate(pieces):
        midi = piece.to_midi()
        print(f"wrote {write_midi(midi, named(args.out, i))} ({len(piece.roll) // c.steps_per_bar} bars, "
              f"{piece.primer_steps // c.steps_per_bar} of them the primer, {args.tempo:g} bpm)")
        if args.roll_png:
            print(f"wrote {save_roll_png(piece.roll, named(args.roll_png, i), primer_steps=piece.primer_steps, beats_per_bar=c.beats_per_bar)}")
        if args.wav:
            print(f"wrote {write_audio(named(args.wav, i), render_audio(midi, args.renderer, args.sample_rate), args.sample_rate)}")
    return 0


def _add_compose_parser(commands) -> None:
    from synth.music.composition import MAX_BARS, MAX_BATCH

    compose = commands.add_parser("compose", help="compose piano music (MIDI) with the LSTM composer",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    compose.add_argument("-c", "--checkpoint", type=Path, default=DEFAULT_COMPOSER, help="composer checkpoint folder")
    compose.add_argument("--bars", type=int, default=16, help=f"new bars to compose (1 to {MAX_BARS})")
    compose.add_argument("-t", "--temperature", type=float, default=1.0, help="sampling temperature (0 = greedy)")
    compose.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same piece")
    compose.add_argument("--primer", type=Path, default=None, help="MIDI file to continue (its first bars open the piece)")
    compose.add_argument("--primer-bars", type=int, default=None, help="bars of the primer to use (default: all, up to 64)")
    compose.add_argument("--tempo", type=float, default=90.0, help="tempo in quarter notes per minute")
    compose.add_argument("-b", "--batch", type=int, default=1, help=f"pieces composed at once (1 to {MAX_BATCH}); files get _N")
    compose.add_argument("--max-silent-bars", type=float, default=1.0, help="after this much silence notes are pushed to sound (0 = off)")
    compose.add_argument("--max-held-bars", type=float, default=2.0, help="a key held this long is released (0 = off)")
    compose.add_argument("-o", "--out", type=Path, default=Path("composition.mid"), help="MIDI file to write")
    compose.add_argument("--wav", type=Path, default=None, help="also render audio to this file")
    compose.add_argument("--renderer", default="fluidsynth", help="how audio is rendered (fluidsynth: a sampled piano)")
    compose.add_argument("--sample-rate", type=int, default=22050, help="sample rate of the rendered audio")
    compose.add_argument("--roll-png", type=Path, default=None, help="also draw the piano roll as a PNG")
    compose.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    compose.set_defaults(run=_compose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synth", description="Generate sound, handwriting and music with autoregressive models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    wavenet = commands.add_parser("wavenet", help="WaveNet audio generation").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    gen = wavenet.add_parser("generate", help="generate audio and write it as WAV",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gen.add_argument("-c", "--checkpoint", type=Path, default=DEFAULT_WAVENET, help="checkpoint folder")
    gen.add_argument("-o", "--output", default="wavenet.wav", help="WAV file to write (name_N.wav per stream when --batch > 1)")
    gen.add_argument("-s", "--seconds", type=float, default=1.0, help=f"length of audio, up to {MAX_SECONDS:g}")
    gen.add_argument("--speaker", type=int, default=None, help="speaker id, for speaker-conditioned models")
    gen.add_argument("--frames", type=Path, default=None,
                     help=".npy array (channels, n_frames) of local conditioning features, for conditioned models")
    gen.add_argument("-b", "--batch", type=int, default=1, help="streams generated at once")
    gen.add_argument("-t", "--temperature", type=float, default=1.0, help="sampling temperature (0 = greedy)")
    gen.add_argument("--top-k", type=int, default=None, help="sample only from the k most likely classes")
    gen.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with this probability")
    gen.add_argument("--greedy", action="store_true", help="always take the most likely value")
    gen.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same audio")
    gen.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=_wavenet_generate)
    info = wavenet.add_parser("info", help="describe a WaveNet checkpoint")
    info.add_argument("-c", "--checkpoint", type=Path, default=DEFAULT_WAVENET, help="checkpoint folder")
    info.set_defaults(run=_wavenet_info)

    bench = commands.add_parser("bench", help="speed benchmarks").add_subparsers(dest="target", required=True, metavar="TARGET")
    bench_wavenet = bench.add_parser("wavenet", help="WaveNet generation speed: naive, cached reference and fast paths, "
                                     "batch 1 and batched, configs A and B")
    bench_wavenet.add_argument("--quick", action="store_true", help="fewer steps (a rougher figure, sooner)")
    bench_wavenet.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    bench_wavenet.add_argument("--spread", type=int, default=0, metavar="N",
                               help="instead: N single runs of config A's fast path at batch 1 and 64, with median and range")
    bench_wavenet.set_defaults(run=_bench_wavenet)
    _add_handwriting_commands(commands, bench)
    _add_compose_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from synth.errors import SynthError

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
