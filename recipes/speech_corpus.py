"""Recipe: the multi-speaker speech corpus at data/speech/ (manifest.json, LICENCES.md,
wav/<speaker>/<key>.wav at 16 kHz, 16-bit), and corpora from a user's own recordings.
Stages, each resumable (clips already in the manifest are not decoded again; Debian packages are
fetched once into data/debian/):

  asterisk  the Asterisk prompts in en, fr, it, ru, es (five voices, CC-BY(-SA)-3.0)
  fillets   the Fish Fillets voice acting in Czech and Dutch (GPL-2)
  all       asterisk, then fillets
  english   the English vocoder corpus -> data/english: Kathleen (LJSpeech-like, FLAC, one US-English
            speaker, CC0; split by prompt id) and LibriSpeech (train-* speakers for training, the
            unseen test-other speakers for testing; CC BY 4.0), from --kathleen and --librispeech
  folder    a user's folder (--source DIR): plain folder of WAV/FLAC/OGG (one speaker, or one
            per sub-folder), LJSpeech (metadata.csv + wavs/) or VCTK (wav48*/ + txt/) -> --out DIR

  python recipes/speech_corpus.py --stage asterisk|fillets|all [--out data/speech]
  python recipes/speech_corpus.py --stage english [--kathleen DIR] [--librispeech DIR] [--out data/english]
  python recipes/speech_corpus.py --stage folder --source DIR --layout auto|folder|ljspeech|vctk|librispeech --out DIR
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from synth.corpora import asterisk, speech
from synth.errors import SynthError

ROOT = Path(__file__).resolve().parents[1]
DEBIAN = ROOT / "data" / "debian"
SPEECH = ROOT / "data" / "speech"
ENGLISH = ROOT / "data" / "english"
SHARED = ROOT.parent / "shared" / "data"
KATHLEEN_LICENCE = ("speech-en-kathleen (the 'Kathleen' voice data set, rhasspy/dataset-voice-cathy; CMU ARCTIC prompts "
                    "read by one US-English speaker): CC0 1.0")
LIBRISPEECH_LICENCE = ("LibriSpeech ASR corpus (V. Panayotov, G. Chen, D. Povey, S. Khudanpur, ICASSP 2015), sample "
                       "clips: CC BY 4.0")


def stage_asterisk(out: Path, languages: list[str]) -> None:
    utterances, skipped, speakers, counts = [], [], {}, {}
    for language in languages:
        asterisk.fetch(language, DEBIAN)
        found, missing, info, counts[language] = asterisk.prompt_utterances(DEBIAN, language)
        utterances += found
        skipped += missing
        speakers[info.name] = info
    licence = ("Asterisk core sound prompts (Debian asterisk-core-sounds-{en,es,fr}-g722: CC-BY-SA-3.0; "
               "{it,ru}: CC-BY-3.0); voices of Allison Smith (en, es), June Wallack (fr), Carlo Flora (it) and "
               "an unnamed speaker provided by Maxim Topal (ru). See LICENCES.md.")
    manifest = speech.build_corpus(utterances, out, group="asterisk", speakers=speakers, licence=licence,
                                   skipped=skipped, group_stats={"transcripts": counts})
    speech.write_licences(manifest, out)
    print(speech.summary(manifest, "asterisk"))
    print("transcripts matched:", {lang: f"{c['matched']}/{c['clips']}" for lang, c in counts.items()})


def stage_fillets(out: Path) -> None:
    from synth.corpora import fillets

    manifest = fillets.build(DEBIAN, out)
    speech.write_licences(manifest, out)
    print(speech.summary(manifest, "fillets"))
    print("transcripts matched:", manifest.stats["groups"]["fillets"].get("transcripts"))


def stage_folder(source: Path, layout: str, out: Path) -> None:
    from synth.corpora import layouts

    manifest = layouts.build_from_layout(source, out, layout=layout)
    speech.write_licences(manifest, out)
    print(speech.summary(manifest))
    for s in manifest.skipped:
        print("  skipped:", s["reason"])


def stage_english(kathleen: Path, librispeech: Path, out: Path) -> None:
    from synth.corpora import layouts

    for source, layout, licence, credit in (
            (kathleen, "ljspeech", KATHLEEN_LICENCE, "Kathleen voice data set (rhasspy/dataset-voice-cathy), CC0"),
            (librispeech, "librispeech", LIBRISPEECH_LICENCE, "LibriSpeech ASR corpus, V. Panayotov, G. Chen, "
             "D. Povey, S. Khudanpur")):
        licence_name = licence.rsplit(": ", 1)[-1]
        manifest = layouts.build_from_layout(source, out, layout=layout, licence=licence, language="en",
                                             group=layout, speaker_licence=licence_name, attribution=credit,
                                             name="english")
    speech.write_licences(manifest, out)
    print(speech.summary(manifest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=["asterisk", "fillets", "all", "folder", "english"])
    parser.add_argument("--out", type=Path, default=None, help="corpus folder (default data/speech)")
    parser.add_argument("--languages", default=",".join(asterisk.LANGUAGES), help="Asterisk languages, comma-separated")
    parser.add_argument("--source", type=Path, help="folder stage: the folder holding the recordings")
    parser.add_argument("--layout", default="auto", choices=["auto", "folder", "ljspeech", "vctk", "librispeech"])
    parser.add_argument("--kathleen", type=Path, default=SHARED / "speech-en-kathleen", help="english stage: Kathleen folder")
    parser.add_argument("--librispeech", type=Path, default=SHARED / "speech-librispeech-samples",
                        help="english stage: LibriSpeech folder (train-*/, test-*/ subsets)")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.stage == "folder" and (args.source is None or args.out is None):
        parser.error("--stage folder needs --source DIR and --out DIR")
    try:
        if args.stage == "folder":
            stage_folder(args.source, args.layout, args.out)
        if args.stage == "english":
            stage_english(args.kathleen, args.librispeech, args.out or ENGLISH)
        if args.stage in ("asterisk", "all"):
            stage_asterisk(args.out or SPEECH, [lang.strip() for lang in args.languages.split(",") if lang.strip()])
        if args.stage in ("fillets", "all"):
            stage_fillets(args.out or SPEECH)
    except SynthError as error:  # bad input: one line saying what was wrong, exit status 2
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
