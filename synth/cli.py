"""The ``synth`` command: it parses options, asks the service for the thing (``synth.services``,
under the command's limits, ``bounds.COMMAND``) and prints progress and what it wrote."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from synth.services.bounds import COMMAND, MAX_TEMPERATURE, MAX_WAVENET_BATCH


def _bundled_help(role: str, what: str = "checkpoint folder") -> str:
    from synth.services.models import ROLES

    return f"{what} (default: the bundled {' else '.join(ROLES[role].folders)} in assets/ or $SYNTH_ASSETS)"


def _progress_bar(total: int, desc: str, quiet: bool, unit: str = "sample"):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, disable=quiet)


def _collect(audio, desc: str, quiet: bool, streams: int = 1):
    """The whole waveform of an ``AudioStream``, with a progress bar over all its streams."""
    with _progress_bar(audio.total_samples * streams, desc, quiet) as bar:
        for chunk in audio:
            bar.update(chunk.size)
    return audio.audio()


def _wavenet_generate(args: argparse.Namespace) -> int:
    from synth.audio import write_audio
    from synth.services.wavenet import generate

    audio = generate(seconds=args.seconds, batch_size=args.batch, speaker=args.speaker, frames=args.frames,
                     temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                     seed=args.seed, checkpoint=args.checkpoint, device=args.device)
    waveforms = _collect(audio, "generating", args.quiet, args.batch).reshape(args.batch, -1)  # (B, T)
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


def _bench_app(args: argparse.Namespace) -> int:
    from synth.load_test import main as load_test

    return load_test(args.passed_on, prog="synth bench app")


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
    write.add_argument("-c", "--checkpoint", type=Path, default=None, help=_bundled_help("handwriting"))
    write.set_defaults(run=_write_handwriting)
    bench_hand = bench.add_parser("handwriting", help="handwriting speed: a 40-character line at batch 1, lines/s at batch 16")
    bench_hand.add_argument("-c", "--checkpoint", type=Path, default=None, help=_bundled_help("handwriting"))
    bench_hand.add_argument("--repeats", type=int, default=5, help="runs per batch-1 figure (median reported)")
    bench_hand.add_argument("--threads", type=int, default=1, help="CPU threads")
    bench_hand.set_defaults(run=_bench_handwriting)


def _compose(args: argparse.Namespace) -> int:
    """``synth compose``: pieces from the LSTM composer as MIDI (and audio, and a picture)."""
    from synth.audio import write_audio
    from synth.services.composition import compose, render_audio

    with _progress_bar(0, "composing", args.quiet, unit="frame") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        made = compose(style=args.style, bars=args.bars, batch_size=args.batch, temperature=args.temperature, seed=args.seed,
                       primer=args.primer, primer_bars=args.primer_bars, tempo_bpm=args.tempo,
                       max_silent_bars=args.max_silent_bars, max_held_bars=args.max_held_bars,
                       checkpoint=args.checkpoint, progress=progress)

    def named(path: Path | None, i: int) -> Path | None:
        if path is None or args.batch == 1:
            return path
        return path.with_name(f"{path.stem}_{i}{path.suffix}")

    for i in range(len(made.pieces)):
        print(f"wrote {made.save_midi(named(args.out, i), i)} ({made.bars(i)} bars, "
              f"{made.primer_bars(i)} of them the primer, {made.tempo_bpm:g} bpm)")
        if args.roll_png:
            print(f"wrote {made.save_picture(named(args.roll_png, i), i)}")
        if args.wav:
            audio = render_audio(made.midi(i), args.renderer, args.sample_rate)
            print(f"wrote {write_audio(named(args.wav, i), audio, args.sample_rate)}")
    return 0


def _add_compose_parser(commands) -> None:
    from synth.services.composition import DEFAULT_STYLE, styles
    from synth.services.piano import RENDERERS

    compose = commands.add_parser("compose", help="compose piano music (MIDI) with the LSTM composer",
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    compose.add_argument("--style", default=DEFAULT_STYLE, metavar="NAME",
                         help="the style, each with its own bundled composer (assets/composer-<style>/) and tempo: "
                              + "; ".join(f"{s.name} ({s.title}, {s.tempo_bpm:g} bpm)" for s in styles()))
    compose.add_argument("-c", "--checkpoint", type=Path, default=None,
                         help="composer checkpoint folder (default: the style's bundled one in assets/ or $SYNTH_ASSETS)")
    compose.add_argument("--bars", type=int, default=16, help=f"new bars to compose (1 to {COMMAND.composer_bars})")
    compose.add_argument("-t", "--temperature", type=float, default=1.0, help="sampling temperature (0 = greedy)")
    compose.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same piece")
    compose.add_argument("--primer", type=Path, default=None, help="MIDI file to continue (its first bars open the piece)")
    compose.add_argument("--primer-bars", type=int, default=None, help="bars of the primer to use (default: all, up to 64)")
    compose.add_argument("--tempo", type=float, default=None,
                         help="tempo in quarter notes per minute (default: the composer's own, else the style's)")
    compose.add_argument("-b", "--batch", type=int, default=1,
                         help=f"pieces composed at once (1 to {COMMAND.composer_batch}); files get _N")
    compose.add_argument("--max-silent-bars", type=float, default=1.0, help="after this much silence notes are pushed to sound (0 = off)")
    compose.add_argument("--max-held-bars", type=float, default=2.0, help="a key held this long is released (0 = off)")
    compose.add_argument("-o", "--out", type=Path, default=Path("composition.mid"), help="MIDI file to write")
    compose.add_argument("--wav", type=Path, default=None, help="also render audio to this file")
    compose.add_argument("--renderer", default="fluidsynth",
                         help=f"how audio is rendered: {' or '.join(RENDERERS)} (fluidsynth: a sampled piano)")
    compose.add_argument("--sample-rate", type=int, default=22050, help="sample rate of the rendered audio")
    compose.add_argument("--roll-png", type=Path, default=None, help="also draw the piano roll as a PNG")
    compose.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    compose.set_defaults(run=_compose)


# --- speech, resynthesis and the piano WaveNet: the app's tabs on the command line ------------

def _write_outputs(audio, rate: int, args: argparse.Namespace) -> None:
    from synth.audio import write_audio
    from synth.services.speech import spectrogram_image

    print(f"wrote {write_audio(args.output, audio, rate)} ({len(audio) / rate:.2f} s at {rate} Hz)")
    if getattr(args, "spectrogram", None):
        Path(args.spectrogram).parent.mkdir(parents=True, exist_ok=True)
        spectrogram_image(audio, rate).save(args.spectrogram)
        print(f"wrote {args.spectrogram}")


def _speak(args: argparse.Namespace) -> int:
    from synth.services.speech import speak, speakers

    if args.list_speakers:
        names = speakers("speech", args.checkpoint, args.device)
        print("\n".join(f"{i}: {name}" for i, name in enumerate(names)) or "this model has one voice")
        return 0
    audio = speak(seconds=args.seconds, speaker=args.speaker, temperature=args.temperature, seed=args.seed,
                  checkpoint=args.checkpoint, device=args.device)
    _write_outputs(_collect(audio, "speaking", args.quiet), audio.sample_rate, args)
    return 0


def _resynthesise(args: argparse.Namespace) -> int:
    import dataclasses

    from synth.services.speech import resynthesise, spectrogram_image

    limits = dataclasses.replace(COMMAND, clip_seconds=args.max_seconds)
    audio = resynthesise(args.clip, speaker=args.speaker, seed=args.seed, temperature=args.temperature, limits=limits,
                         checkpoint=args.checkpoint, device=args.device)
    _write_outputs(_collect(audio, "resynthesising", args.quiet), audio.sample_rate, args)
    if args.original_spectrogram:
        spectrogram_image(audio.original, audio.sample_rate).save(args.original_spectrogram)
        print(f"wrote {args.original_spectrogram}")
    return 0


def _say(args: argparse.Namespace) -> int:
    """``synth say``: text read aloud by the text-to-mel network, played by the vocoder (or Griffin-Lim)."""
    from synth.errors import InputError
    from synth.services.tts import say_stream

    for option, path in (("--mel-png", args.mel_png), ("--attention-png", args.attention_png)):
        if path is not None and path.suffix.lower() != ".png":
            raise InputError(f"{option} {path}: the picture is written as a .png")
    stream = say_stream(args.text, seed=args.seed, use=args.vocoder, speaker=args.speaker, temperature=args.temperature,
                        max_retries=args.max_retries, checkpoint=args.checkpoint,
                        vocoder_checkpoint=args.vocoder_checkpoint, device=args.device)
    _collect(stream, "saying", args.quiet)
    speech = stream.result()
    seconds = len(speech.audio) / speech.sample_rate
    print(f"wrote {speech.write_wav(args.output)} ({seconds:.2f} s at {speech.sample_rate} Hz, "
          f"{len(speech.sentences)} sentence(s) through {speech.vocoder} in {speech.seconds:.1f} s, first audio after "
          f"{speech.first_audio_seconds:.2f} s; {speech.retries} retried)")
    if speech.failed_sentences:
        print(f"still imperfect after {args.max_retries} retries: {speech.failed_sentences}", file=sys.stderr)
    if args.mel_png:
        print(f"wrote {speech.write_mel_png(args.mel_png)}")
    if args.attention_png:
        print(f"wrote {speech.write_attention_png(args.attention_png)}")
    return 0


def _add_say_parser(commands) -> None:
    from synth.services.tts import USES

    say = commands.add_parser("say", help="read text aloud (text-to-mel network with Graves's window, WaveNet vocoder)",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    say.add_argument("text", help=f"the text (at most {COMMAND.tts_chars} characters; long text is read a sentence at a time)")
    say.add_argument("-o", "--output", type=Path, default=Path("say.wav"), help="WAV file to write")
    say.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same audio")
    say.add_argument("--mel-png", type=Path, default=None, help="also draw the mel spectrogram read as a PNG")
    say.add_argument("--attention-png", type=Path, default=None,
                     help="also draw the attention window (which character is read at each step) as a PNG")
    say.add_argument("--vocoder", default="wavenet", metavar="|".join(USES),
                     help="what plays the mel: the WaveNet vocoder (streamed), or Griffin-Lim (no vocoder: the "
                          "acoustic model heard alone)")
    say.add_argument("--speaker", default=None, help="the vocoder's speaker name or id, for a vocoder with speakers")
    say.add_argument("-t", "--temperature", type=float, default=1.0,
                     help=f"the vocoder's sampling temperature (0 = greedy, at most {MAX_TEMPERATURE:g})")
    say.add_argument("--max-retries", type=int, default=3, help="read a sentence again when its window stalls or skips")
    say.add_argument("-c", "--checkpoint", type=Path, default=None, help=_bundled_help("tts", "text-to-mel checkpoint folder"))
    say.add_argument("--vocoder-checkpoint", type=Path, default=None, help=_bundled_help("vocoder", "vocoder checkpoint folder"))
    say.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    say.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    say.set_defaults(run=_say)


def _piano(args: argparse.Namespace) -> int:
    from synth.services.piano import play, read_piece, render_fluidsynth, roll_picture

    midi = read_piece(args.midi, name=str(args.midi))
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
    audio = play(midi, max_seconds=args.max_seconds, seed=args.seed, temperature=args.temperature,
                 checkpoint=args.checkpoint, device=args.device)
    if audio.cut:
        print(f"the piece is longer than {args.max_seconds:g} s; playing its first {args.max_seconds:g} s", file=sys.stderr)
    _write_outputs(_collect(audio, "playing", args.quiet), audio.sample_rate, args)
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
        parser.add_argument("-t", "--temperature", type=float, default=1.0, help=f"sampling temperature (0 = greedy, at most {MAX_TEMPERATURE:g})")
        parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same audio")
        parser.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    formatter = argparse.ArgumentDefaultsHelpFormatter
    speak = commands.add_parser("speak", help="generate speech with the speech WaveNet (the app's Speech tab)",
                                formatter_class=formatter)
    common(speak, _bundled_help("speech"), "speech.wav")
    speak.add_argument("--speaker", default=None, help="speaker name or id (see --list-speakers); default the first")
    speak.add_argument("-s", "--seconds", type=float, default=2.0, help=f"length of speech, more than 0 and at most {COMMAND.speech_seconds:g}")
    speak.add_argument("--spectrogram", type=Path, default=None, help="also draw the spectrogram as a PNG")
    speak.add_argument("--list-speakers", action="store_true", help="print the model's speakers and stop")
    speak.set_defaults(run=_speak)

    for name in ("resynthesise", "vocode"):
        resynth = commands.add_parser(name, help="play a recorded clip back through the mel vocoder WaveNet"
                                      + (" (same as resynthesise)" if name == "vocode" else ""), formatter_class=formatter)
        resynth.add_argument("clip", type=Path, help="audio clip to resynthesise (WAV, FLAC, OGG)")
        common(resynth, _bundled_help("vocoder"), "resynthesis.wav")
        resynth.add_argument("--speaker", default=None, help="speaker name or id the vocoder is conditioned on (default the first)")
        resynth.add_argument("--max-seconds", type=float, default=COMMAND.clip_seconds, help="refuse clips longer than this")
        resynth.add_argument("--spectrogram", type=Path, default=None, help="also draw the result's spectrogram as a PNG")
        resynth.add_argument("--original-spectrogram", type=Path, default=None, help="also draw the clip's spectrogram as a PNG")
        resynth.set_defaults(run=_resynthesise)

    piano = commands.add_parser("piano", help="play a MIDI file through the piano WaveNet (and FluidSynth for comparison)",
                                formatter_class=formatter)
    piano.add_argument("midi", type=Path, help="MIDI file to play (at most 4 MB)")
    common(piano, _bundled_help("piano"), "piano.wav")
    piano.add_argument("--max-seconds", type=float, default=60.0,
                       help=f"play at most this many seconds of the piece (at most {COMMAND.piano_seconds:g})")
    piano.add_argument("--fluidsynth", type=Path, default=None, help="also render the piece with FluidSynth (sampled piano) to this WAV")
    piano.add_argument("--fluidsynth-only", action="store_true", help="only the FluidSynth rendering (and the picture); no WaveNet")
    piano.add_argument("--roll-png", type=Path, default=None, help="also draw the piece's piano roll as a PNG")
    piano.add_argument("--spectrogram", type=Path, default=None, help="also draw the WaveNet audio's spectrogram as a PNG")
    piano.set_defaults(run=_piano)

    app = commands.add_parser("app", help="launch the app (Gradio) on this machine", formatter_class=formatter)
    app.add_argument("--host", default=os.environ.get("SYNTH_HOST", "127.0.0.1"), help="address to listen on")
    app.add_argument("--port", type=int, default=int(os.environ.get("SYNTH_PORT", "7860")), help="port to listen on")
    app.set_defaults(run=_app)

    recipe = commands.add_parser("recipe", help="run a recipe (recipes/NAME.py: data, training, evaluation)",
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
    gen.add_argument("-c", "--checkpoint", type=Path, default=None, help=_bundled_help("speech", "any WaveNet checkpoint folder"))
    gen.add_argument("-o", "--output", default="wavenet.wav", help="WAV file to write (name_N.wav per stream when --batch > 1)")
    gen.add_argument("-s", "--seconds", type=float, default=1.0, help=f"length of audio, more than 0 and at most {COMMAND.speech_seconds:g}")
    gen.add_argument("--speaker", default=None, help="speaker name or id, for speaker-conditioned models (default the first)")
    gen.add_argument("--frames", type=Path, default=None,
                     help=".npy array (channels, n_frames) of local conditioning features, for conditioned models")
    gen.add_argument("-b", "--batch", type=int, default=1, help=f"streams generated at once (1 to {MAX_WAVENET_BATCH})")
    gen.add_argument("-t", "--temperature", type=float, default=1.0, help=f"sampling temperature (0 = greedy, at most {MAX_TEMPERATURE:g})")
    gen.add_argument("--top-k", type=int, default=None, help="sample only from the k most likely classes")
    gen.add_argument("--top-p", type=float, default=None, help="nucleus sampling: smallest set with this probability")
    gen.add_argument("--greedy", action="store_true", help="always take the most likely value")
    gen.add_argument("--seed", type=int, default=None, help="random seed; the same seed gives the same audio")
    gen.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=_wavenet_generate)
    info = wavenet.add_parser("info", help="describe a WaveNet checkpoint")
    info.add_argument("-c", "--checkpoint", type=Path, default=None, help=_bundled_help("speech", "any WaveNet checkpoint folder"))
    info.set_defaults(run=_wavenet_info)

    bench = commands.add_parser("bench", help="speed benchmarks").add_subparsers(dest="target", required=True, metavar="TARGET")
    bench_wavenet = bench.add_parser("wavenet", help="WaveNet generation speed: naive, cached reference and fast paths, "
                                     "batch 1 and batched, configs A and B")
    bench_wavenet.add_argument("--quick", action="store_true", help="fewer steps (a rougher figure, sooner)")
    bench_wavenet.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    bench_wavenet.add_argument("--spread", type=int, default=0, metavar="N",
                               help="instead: N single runs of config A's fast path at batch 1 and 64, with median and range")
    bench_wavenet.set_defaults(run=_bench_wavenet)
    bench_app = bench.add_parser("app", help="load test: concurrent API clients against the app on loopback "
                                 "(latency per endpoint, failures, memory); its options: synth bench app --help", add_help=False)
    bench_app.set_defaults(run=_bench_app, passes_on_options=True)  # its options are the load test's own
    _add_handwriting_commands(commands, bench)
    _add_compose_parser(commands)
    _add_say_parser(commands)
    _add_app_parsers(commands)
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


if __name__ == "__main__":
    sys.exit(main())
