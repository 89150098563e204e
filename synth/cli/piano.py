"""``synth piano``: a MIDI file played by the piano WaveNet from its piano roll (the app's Piano
tab), with FluidSynth's rendering for comparison."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synth.cli.console import add_audio_options, bundled_help, collect, write_outputs
from synth.services.bounds import COMMAND


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
    write_outputs(collect(audio, "playing", args.quiet), audio.sample_rate, args)
    return 0


def add_commands(commands) -> None:
    piano = commands.add_parser("piano", help="play a MIDI file through the piano WaveNet (and FluidSynth for comparison)",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    piano.add_argument("midi", type=Path, help="MIDI file to play (at most 4 MB)")
    add_audio_options(piano, bundled_help("piano"), "piano.wav")
    piano.add_argument("--max-seconds", type=float, default=60.0,
                       help=f"play at most this many seconds of the piece (at most {COMMAND.piano_seconds:g})")
    piano.add_argument("--fluidsynth", type=Path, default=None, help="also render the piece with FluidSynth (sampled piano) to this WAV")
    piano.add_argument("--fluidsynth-only", action="store_true", help="only the FluidSynth rendering (and the picture); no WaveNet")
    piano.add_argument("--roll-png", type=Path, default=None, help="also draw the piece's piano roll as a PNG")
    piano.add_argument("--spectrogram", type=Path, default=None, help="also draw the WaveNet audio's spectrogram as a PNG")
    piano.set_defaults(run=_piano)
