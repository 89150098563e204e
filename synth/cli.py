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


# --- speech, resynthesis and the piano WaveNet: the app's tabs on the command line ------------

def _audio_with_progress(chunks, total_samples: int, desc: str, quiet: bool):
    import numpy as np
    from tqdm import tqdm

    made = []
    with tqdm(total=total_samples, unit="sample", unit_scale=True, desc=desc, disable=quiet) as bar:
        for chunk in chunks:
            made.append(chunk)
            bar.update(len(chunk))
    return np.concatenate(made) if made else np.zeros(0, np.float32)


def _write_outputs(audio, rate: int, args: argparse.Namespace) -> None:
    from synth.audio import write_audio
    from synth.speech import spectrogram_image

    print(f"wrote {write_audio(args.output, audio, rate)} ({len(audio) / rate:.2f} s at {rate} Hz)")
    if getattr(args, "spectrogram", None):
        Path(args.spectrogram).parent.mkdir(parents=True, exist_ok=True)
        spectrogram_image(audio, rate).save(args.spectrogram)
        print(f"wrote {args.spectrogram}")


def _speak(args: argparse.Namespace) -> int:
    from synth.bundled import SPEECH, bundled_checkpoint
    from synth.checkpoint import load_checkpoint
    from synth.device import pick_device
    from synth.speech import check_seconds, speak, speaker_names

    model = load_checkpoint(args.checkpoint or bundled_checkpoint(SPEECH), device=pick_device(args.device),
                            expect_kind="wavenet")
    if args.list_speakers:
        print("\n".join(f"{i}: {name}" for i, name in enumerate(speaker_names(model))) or "this model has one voice")
        return 0
    rate = model.config.sample_rate
    seconds = check_seconds(args.seconds, MAX_SECONDS)
    chunks = speak(model, seconds=seconds, speaker=args.speaker, temperature=args.temperature, seed=args.seed,
                   max_seconds=MAX_SECONDS)
    _write_outputs(_audio_with_progress(chunks, round(seconds * rate), "speaking", args.quiet), rate, args)
    return 0


def _resynthesise(args: argparse.Namespace) -> int:
    from synth.bundled import VOCODER, bundled_checkpoint
    from synth.checkpoint import load_checkpoint
    from synth.device import pick_device
    from synth.speech import read_clip, vocode

    model = load_checkpoint(args.checkpoint or bundled_checkpoint(VOCODER), device=pick_device(args.device),
                            expect_kind="wavenet")
    rate, hop = model.config.sample_rate, model.config.hop_length
    clip = read_clip(args.clip, rate, max_seconds=args.max_seconds, max_bytes=2 * 1024 ** 3)
    chunks = vocode(model, clip, speaker=args.speaker, seed=args.seed, temperature=args.temperature)
    _write_outputs(_audio_with_progress(chunks, len(clip) // hop * hop, "resynthesising", args.quiet), rate, args)
    if args.original_spectrogram:
        from synth.speech import spectrogram_image

        spectrogram_image(clip, rate).save(args.original_spectrogram)
        print(f"wrote {args.original_spectrogram}")
    return 0


def _piano(args: argparse.Namespace) -> int:
    from synth.bundled import PIANO, bundled_checkpoint
    from synth.checkpoint import load_checkpoint
    from synth.device import pick_device
    from synth.music.midi import read_midi
    from synth.piano import midi_frames, play, render_fluidsynth, roll_picture
    from synth.speech import check_seconds

    midi = read_midi(args.midi)
    if args.roll_png:
        Path(args.roll_png).parent.mkdir(parents=True, exist_ok=True)
        roll_picture(midi).save(args.roll_png)
        print(f"wrote {args.roll_png}")
    if args.fluidsynth:
        from synth.audio import write_audio

        audio, rate, licence = render_fluidsynth(midi)
        print(f"wrote {write_audio(args.fluidsynth, audio, rate)} (FluidSynth; {licence})")
    if args.fluidsynth_only:
        return 0
    model = load_checkpoint(args.checkpoint or bundled_checkpoint(PIANO), device=pick_device(args.device),
                            expect_kind="wavenet")
    max_seconds = check_seconds(args.max_seconds, MAX_SECONDS)
    frames, cut = midi_frames(model, midi, max_seconds)
    if cut:
        print(f"the piece is longer than {max_seconds:g} s; playing its first {max_seconds:g} s", file=sys.stderr)
    chunks = play(model, midi, max_seconds=max_seconds, seed=args.seed, temperature=args.temperature)
    _write_outputs(_audio_with_progress(chunks, frames.shape[-1] * model.config.hop_length, "playing", args.quiet),
                   model.config.sample_rate, args)
    return 0


def _app(args: argparse.Namespace) -> int:
    import runpy

    script = Path(__file__).resolve().parents[1] / "app.py"
    if not script.is_file():
        raise SystemExit(f"error: {script} not found; `synth app` runs from a source checkout")
    os.environ["SYNTH_HOST"], os.environ["SYNTH_PORT"] = args.host, str(args.port)
    runpy.run_path(str(script), run_name="__main__")
    return 0


RECIPES = Path(__file__).resolve().parents[1] / "recipes"


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


def _add_app_parsers(commands) -> None:
    """``synth speak``, ``synth resynthesise``, ``synth piano`` and ``synth app``."""
    def common(parser, checkpoint_help: str, output: str) -> None:
        parser.add_argument("-c", "--checkpoint", type=Path, default=None, help=checkpoint_help)
        parser.add_argument("-o", "--output", type=Path, default=Path(output), help="WAV file to write")
        parser.add_argument("-t", "--temperature", type=float, default=1.0, help="sampling temperature (0 = greedy, at most 5)")
        parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same audio")
        parser.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    formatter = argparse.ArgumentDefaultsHelpFormatter
    speak = commands.add_parser("speak", help="generate speech with the speech WaveNet (the app's Speech tab)",
                                formatter_class=formatter)
    common(speak, "speech WaveNet checkpoint folder (default: the bundled wavenet-speakers, else wavenet-tiny)", "speech.wav")
    speak.add_argument("--speaker", default=None, help="speaker name or id (see --list-speakers); default the first")
    speak.add_argument("-s", "--seconds", type=float, default=2.0, help=f"length of speech, more than 0 and at most {MAX_SECONDS:g}")
    speak.add_argument("--spectrogram", type=Path, default=None, help="also draw the spectrogram as a PNG")
    speak.add_argument("--list-speakers", action="store_true", help="print the model's speakers and stop")
    speak.set_defaults(run=_speak)

    for name in ("resynthesise", "vocode"):
        resynth = commands.add_parser(name, help="play a recorded clip back through the mel vocoder WaveNet"
                                      + (" (same as resynthesise)" if name == "vocode" else ""), formatter_class=formatter)
        resynth.add_argument("clip", type=Path, help="audio clip to resynthesise (WAV, FLAC, OGG)")
        common(resynth, "vocoder checkpoint folder (default: the bundled wavenet-vocoder)", "resynthesis.wav")
        resynth.add_argument("--speaker", default=None, help="speaker name or id the vocoder is conditioned on (default the first)")
        resynth.add_argument("--max-seconds", type=float, default=600.0, help="refuse clips longer than this")
        resynth.add_argument("--spectrogram", type=Path, default=None, help="also draw the result's spectrogram as a PNG")
        resynth.add_argument("--original-spectrogram", type=Path, default=None, help="also draw the clip's spectrogram as a PNG")
        resynth.set_defaults(run=_resynthesise)

    piano = commands.add_parser("piano", help="play a MIDI file through the piano WaveNet (and FluidSynth for comparison)",
                                formatter_class=formatter)
    piano.add_argument("midi", type=Path, help="MIDI file to play (at most 4 MB)")
    common(piano, "piano WaveNet checkpoint folder (default: the bundled wavenet-piano)", "piano.wav")
    piano.add_argument("--max-seconds", type=float, default=60.0,
                       help=f"play at most this many seconds of the piece (at most {MAX_SECONDS:g})")
    piano.add_argument("--fluidsynth", type=Path, default=None, help="also render the piece with FluidSynth (sampled piano) to this WAV")
    piano.add_argument("--fluidsynth-only", action="store_true", help="only the FluidSynth rendering (and the picture); no WaveNet")
    piano.add_argument("--roll-png", type=Path, default=None, help="also draw the piece's piano roll as a PNG")
    piano.add_argument("--spectrogram", type=Path, default=None, help="also draw the WaveNet audio's spectrogram as a PNG")
    piano.set_defaults(run=_piano)

    app = commands.add_parser("app", help="launch the app (Gradio) on this machine", formatter_class=formatter)
    app.add_argument("--host", default=os.environ.get("SYNTH_HOST", "127.0.0.1"), help="address to listen on")
    app.add_argument("--port", type=int, default=int(os.environ.get("SYNTH_PORT", "7860")), help="port to listen on")
    app.set_defaults(run=_app)

    recipe = commands.add_parser("recipe", help="run a recipe (recipes/NAME.py: data, training, evaluation, load test)",
                                 formatter_class=formatter)
    recipe.add_argument("name", nargs="?", default=None, help="recipe to run; leave out to list them")
    recipe.add_argument("arguments", nargs=argparse.REMAINDER, help="the recipe's own arguments (see its --help)")
    recipe.set_defaults(run=_recipe)


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
    _add_app_parsers(commands)
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
