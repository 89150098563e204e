"""``synth wavenet generate|info``: any WaveNet checkpoint, and ``synth bench wavenet``: its speed."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from synth.cli.console import bundled_help, collect
from synth.services.bounds import COMMAND, MAX_TEMPERATURE, MAX_WAVENET_BATCH


def _wavenet_generate(args: argparse.Namespace) -> int:
    from synth.audio import write_audio
    from synth.services.wavenet import generate

    audio = generate(seconds=args.seconds, batch_size=args.batch, speaker=args.speaker, frames=args.frames,
                     temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                     seed=args.seed, checkpoint=args.checkpoint, device=args.device)
    waveforms = collect(audio, "generating", args.quiet, args.batch).reshape(args.batch, -1)  # (B, T)
    rate, out = audio.sample_rate, Path(args.output)
    paths = [out] if args.batch == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(args.batch)]
    for path, waveform in zip(paths, waveforms):
        write_audio(path, waveform, rate)
        print(f"wrote {path} ({waveform.shape[-1] / rate:.2f} s at {rate} Hz)")
    return 0


def _wavenet_info(args: argparse.Namespace) -> int:
    from synth.services.wavenet import describe

    print(json.dumps(describe(args.checkpoint), indent=2, default=str))
    return 0


def _bench_wavenet(args: argparse.Namespace) -> int:
    from synth.bench import bench_spread, bench_wavenet, format_wavenet

    if args.spread:
        print(json.dumps(bench_spread(args.spread)))
        return 0
    print(format_wavenet(bench_wavenet(quick=args.quick, device=args.device)))
    return 0


def add_commands(commands) -> None:
    wavenet = commands.add_parser("wavenet", help="WaveNet audio generation").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    gen = wavenet.add_parser("generate", help="generate audio and write it as WAV",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gen.add_argument("-c", "--checkpoint", type=Path, default=None, help=bundled_help("speech", "any WaveNet checkpoint folder"))
    gen.add_argument("-o", "--output", default="wavenet.wav", help="WAV file to write (name_N.wav per stream when --batch > 1)")
    gen.add_argument("-s", "--seconds", type=float, default=1.0, help=f"length of audio, more than 0 and at most {COMMAND.speech_seconds:g}")
    gen.add_argument("--speaker", default=None, help="speaker name or id, for speaker-conditioned models (default the first)")
    gen.add_argument("--frames", type=Path, default=None,
                     help=".npy array (channels, n_frames) of local conditioning features, for conditioned models")
    gen.add_argument("-b", "--batch", type=int, default=1, help=f"streams generated at once (1 to {MAX_WAVENET_BATCH})")
    gen.add_argument("-t", "--temperature", type=float, default=None,
                     help=f"sampling temperature (0 = greedy, at most {MAX_TEMPERATURE:g}; default: the checkpoint's own, "
                          "chosen by its judges, else 1)")
    gen.add_argument("--top-k", type=int, default=None, help="sample only from the k most likely classes")
    gen.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with this probability")
    gen.add_argument("--greedy", action="store_true", help="always take the most likely value")
    gen.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same audio")
    gen.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=_wavenet_generate)
    info = wavenet.add_parser("info", help="describe a WaveNet checkpoint")
    info.add_argument("-c", "--checkpoint", type=Path, default=None, help=bundled_help("speech", "any WaveNet checkpoint folder"))
    info.set_defaults(run=_wavenet_info)


def add_bench(bench) -> None:
    bench_wavenet = bench.add_parser("wavenet", help="WaveNet generation speed: naive, cached reference and fast paths, "
                                     "batch 1 and batched, configs A and B")
    bench_wavenet.add_argument("--quick", action="store_true", help="fewer steps (a rougher figure, sooner)")
    bench_wavenet.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    bench_wavenet.add_argument("--spread", type=int, default=0, metavar="N",
                               help="instead: N single runs of config A's fast path at batch 1 and 64, with median and range")
    bench_wavenet.set_defaults(run=_bench_wavenet)
