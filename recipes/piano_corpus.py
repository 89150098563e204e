"""Recipe: the piano corpus for the piano WaveNet (data/piano).

Stages, each resumable:
  render   real scores from the music21 corpus (piano works, Bach chorales, Palestrina)
           rendered through a sampled piano with FluidSynth at 16 kHz mono, with the
           aligned conditioning rolls -> data/piano/{wav,roll,midi}/, manifest.json, LICENCES.md
  maestro  instead, a MAESTRO download (--maestro-root) -> data/piano_maestro/
  verify   check every file against the manifest's checksums

  python recipes/piano_corpus.py --stage render [--max-minutes 120] [--seed 0] [--tempo BPM]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synth.corpora import piano
from synth.corpora.manifest import verify

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "piano"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="render", choices=["render", "maestro", "verify"])
    parser.add_argument("--out", type=Path, default=None, help="corpus folder (default data/piano or data/piano_maestro)")
    parser.add_argument("--max-minutes", type=float, default=120.0, help="stop adding pieces past this much audio")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test split by piece")
    parser.add_argument("--tempo", type=float, default=None,
                        help=f"tempo for every score (default: the score's own, else {piano.score_midi.__module__}"
                             ".DEFAULT_TEMPO_BPM = 90 quarter notes per minute)")
    parser.add_argument("--sound-font", default=None, help="SoundFont (.sf2/.sf3); default: MuseScore General's piano")
    parser.add_argument("--maestro-root", type=Path, default=None, help="a MAESTRO folder (maestro-v*.json + files)")
    args = parser.parse_args()
    if args.stage == "render":
        from synth.music.render import FluidSynthRenderer

        out = args.out or OUT
        renderer = FluidSynthRenderer(sample_rate=piano.SAMPLE_RATE, sound_font=args.sound_font)
        sources = piano.music21_sources(piano.default_works(), tempo_bpm=args.tempo, cache_dir=out / "midi")
        manifest = piano.build_score_corpus(out, sources, max_minutes=args.max_minutes, renderer=renderer, seed=args.seed)
        print(manifest.stats, f"{len(manifest.skipped)} skipped")
    elif args.stage == "maestro":
        if args.maestro_root is None:
            parser.error("--stage maestro needs --maestro-root")
        manifest = piano.build_maestro_corpus(args.maestro_root, args.out or ROOT / "data" / "piano_maestro",
                                              max_minutes=args.max_minutes)
        print(manifest.stats, f"{len(manifest.skipped)} skipped")
    else:
        problems = verify(args.out or OUT)
        print("\n".join(problems) or "corpus intact")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
