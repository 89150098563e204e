"""What the commands share on the console: the help line of a bundled-checkpoint option, progress
bars over an ``AudioStream``, the options of every audio-generating command, and the "wrote ..."
lines of the audio (and spectrogram) they write."""
from __future__ import annotations

import argparse
from pathlib import Path

from synth.services.bounds import MAX_TEMPERATURE


def bundled_help(role: str, what: str = "checkpoint folder") -> str:
    from synth.services.models import ROLES

    return f"{what} (default: the bundled {' else '.join(ROLES[role].folders)} in assets/ or $SYNTH_ASSETS)"


def progress_bar(total: int, desc: str, quiet: bool, unit: str = "sample"):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, disable=quiet)


def collect(audio, desc: str, quiet: bool, streams: int = 1):
    """The whole waveform of an ``AudioStream``, with a progress bar over all its streams."""
    with progress_bar(audio.total_samples * streams, desc, quiet) as bar:
        for chunk in audio:
            bar.update(chunk.size)
    return audio.audio()


def write_outputs(audio, rate: int, args: argparse.Namespace) -> None:
    """The audio as ``args.output`` and, when asked, its spectrogram as ``args.spectrogram``."""
    from synth.audio import write_audio
    from synth.services.speech import spectrogram_image

    print(f"wrote {write_audio(args.output, audio, rate)} ({len(audio) / rate:.2f} s at {rate} Hz)")
    if getattr(args, "spectrogram", None):
        Path(args.spectrogram).parent.mkdir(parents=True, exist_ok=True)
        spectrogram_image(audio, rate).save(args.spectrogram)
        print(f"wrote {args.spectrogram}")


def add_audio_options(parser, checkpoint_help: str, output: str) -> None:
    """The options of ``synth speak``, ``synth resynthesise`` and ``synth piano``."""
    parser.add_argument("-c", "--checkpoint", type=Path, default=None, help=checkpoint_help)
    parser.add_argument("-o", "--output", type=Path, default=Path(output), help="WAV file to write")
    parser.add_argument("-t", "--temperature", type=float, default=None,
                        help=f"sampling temperature (0 = greedy, at most {MAX_TEMPERATURE:g}; default: the checkpoint's "
                             "own, chosen by its judges, else 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same audio")
    parser.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
