"""``synth compose``: piano music (MIDI, and audio and a picture) from the LSTM composer in a style."""
from __future__ import annotations

import argparse
from pathlib import Path

from synth.cli.console import progress_bar
from synth.services.bounds import COMMAND


def _compose(args: argparse.Namespace) -> int:
    """``synth compose``: pieces from the LSTM composer as MIDI (and audio, and a picture)."""
    from synth.audio import write_audio
    from synth.services.composition import compose, render_audio

    with progress_bar(0, "composing", args.quiet, unit="frame") as bar:
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


def add_commands(commands) -> None:
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
