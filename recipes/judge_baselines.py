"""Recipe: the baselines every generated sound is compared with, measured by the independent
judges of synth/judges/ on the held-out evaluation sets (free of any trained model):

  speech  original vs Griffin-Lim (64 iterations from the same 80-band log-mel a vocoder gets) on
          (a) held-out Kathleen prompts, (b) LibriSpeech test-other (unseen speakers; no transcripts,
          so word error rate is against pocketsphinx's transcript of the original), (c) the Asterisk
          English test clips of data/speech (skipped with a note when that corpus is not built):
          word error rate (pocketsphinx en-us), STOI, PESQ (wb), DNSMOS
  piano   FluidSynth's rendering of the app's example MIDI and the held-out piano works:
          basic-pitch note-onset precision / recall / F1 (pitch exact, 50 ms)
  all     both

  OMP_NUM_THREADS=1 nice -n 19 python recipes/judge_baselines.py --stage all [--clips 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from synth import judges
from synth.audio import MelFeatures

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def stage_speech(args) -> dict:
    pick = {"kathleen": lambda: judges.kathleen_heldout(args.kathleen, limit=args.clips),
            "librispeech": lambda: judges.librispeech_test_other(args.librispeech, limit=args.clips),
            "asterisk": lambda: judges.asterisk_test(args.asterisk, limit=args.clips)}
    sets = [pick[name]() for name in args.sets.split(",")]
    features, results = MelFeatures(), {}
    for chosen in sets:
        if not chosen.clips:
            print(f"\n**{chosen.name}**: {chosen.note}")
            continue
        started = time.perf_counter()
        originals = [c.audio for c in chosen.clips]
        griffin_lim = [judges.griffin_lim_resynthesis(a, features.sample_rate, features) for a in originals]
        table = judges.speech_table({"original": originals, "Griffin-Lim (64 it.) from the same mel": griffin_lim},
                                    originals, [c.text for c in chosen.clips], features.sample_rate)
        table["wall_seconds"] = time.perf_counter() - started
        print("\n" + judges.format_speech_table(table, chosen.name))
        print(f"\n{chosen.note}; licence: {chosen.licence}; {table['wall_seconds']:.0f} s")
        results[chosen.name] = table
    return results


def stage_piano(args) -> dict:
    from synth.music.render import FluidSynthRenderer

    started = time.perf_counter()
    pieces = judges.piano_evaluation_pieces(args.examples, max_seconds=args.piece_seconds)
    renderer = FluidSynthRenderer(16000)
    renderings = [renderer.render(p.midi) for p in pieces]
    table = judges.piano_table({f"FluidSynth ({renderer.sound_font.name})": renderings}, pieces, 16000)
    print("\n" + judges.format_piano_table(table))
    print("\npieces: " + "; ".join(f"{p.name} ({p.source}, {sum(len(i.notes) for i in p.midi.instruments)} notes)"
                                   for p in pieces) + f"; {time.perf_counter() - started:.0f} s")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=["speech", "piano", "all"])
    parser.add_argument("--clips", type=int, default=10, help="clips per speech set")
    parser.add_argument("--sets", default="kathleen,librispeech,asterisk", help="speech sets, comma-separated")
    parser.add_argument("--kathleen", type=Path, default=SHARED / "speech-en-kathleen")
    parser.add_argument("--librispeech", type=Path, default=SHARED / "speech-librispeech-samples")
    parser.add_argument("--asterisk", type=Path, default=ROOT / "data" / "speech", help="corpus of recipes/speech_corpus.py")
    parser.add_argument("--examples", type=Path, default=ROOT / "assets" / "examples", help="folder of example MIDI files")
    parser.add_argument("--piece-seconds", type=float, default=30.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    results = {}
    if args.stage in ("speech", "all"):
        results["speech"] = stage_speech(args)
    if args.stage in ("piano", "all"):
        results["piano"] = stage_piano(args)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
