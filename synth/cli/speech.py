"""Speech on the command line, as the app's Speech tab offers it: ``synth say`` (text read aloud by
the text-to-mel network, played by the vocoder or Griffin-Lim), ``synth speak`` (the speech
WaveNet) and ``synth resynthesise`` / ``synth vocode`` (a clip through the mel vocoder)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synth.cli.console import add_audio_options, bundled_help, collect, write_outputs
from synth.services.bounds import COMMAND, MAX_TEMPERATURE


def _speak(args: argparse.Namespace) -> int:
    from synth.services.speech import speak, speakers

    if args.list_speakers:
        names = speakers("speech", args.checkpoint, args.device)
        print("\n".join(f"{i}: {name}" for i, name in enumerate(names)) or "this model has one voice")
        return 0
    audio = speak(seconds=args.seconds, speaker=args.speaker, temperature=args.temperature, seed=args.seed,
                  checkpoint=args.checkpoint, device=args.device)
    write_outputs(collect(audio, "speaking", args.quiet), audio.sample_rate, args)
    return 0


def _resynthesise(args: argparse.Namespace) -> int:
    import dataclasses

    from synth.services.speech import resynthesise, spectrogram_image

    limits = dataclasses.replace(COMMAND, clip_seconds=args.max_seconds)
    audio = resynthesise(args.clip, speaker=args.speaker, seed=args.seed, temperature=args.temperature, limits=limits,
                         checkpoint=args.checkpoint, device=args.device)
    write_outputs(collect(audio, "resynthesising", args.quiet), audio.sample_rate, args)
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
    collect(stream, "saying", args.quiet)
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


def add_commands(commands) -> None:
    """``synth say``, ``synth speak``, ``synth resynthesise`` and ``synth vocode``."""
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
    say.add_argument("-t", "--temperature", type=float, default=None,
                     help=f"the vocoder's sampling temperature (0 = greedy, at most {MAX_TEMPERATURE:g}; default: the "
                          "vocoder's own, chosen by its judges)")
    say.add_argument("--max-retries", type=int, default=3, help="read a sentence again when its window stalls or skips")
    say.add_argument("-c", "--checkpoint", type=Path, default=None, help=bundled_help("tts", "text-to-mel checkpoint folder"))
    say.add_argument("--vocoder-checkpoint", type=Path, default=None, help=bundled_help("vocoder", "vocoder checkpoint folder"))
    say.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda")
    say.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    say.set_defaults(run=_say)

    formatter = argparse.ArgumentDefaultsHelpFormatter
    speak = commands.add_parser("speak", help="generate speech with the speech WaveNet (the app's Speech tab)",
                                formatter_class=formatter)
    add_audio_options(speak, bundled_help("speech"), "speech.wav")
    speak.add_argument("--speaker", default=None, help="speaker name or id (see --list-speakers); default the first")
    speak.add_argument("-s", "--seconds", type=float, default=2.0, help=f"length of speech, more than 0 and at most {COMMAND.speech_seconds:g}")
    speak.add_argument("--spectrogram", type=Path, default=None, help="also draw the spectrogram as a PNG")
    speak.add_argument("--list-speakers", action="store_true", help="print the model's speakers and stop")
    speak.set_defaults(run=_speak)

    for name in ("resynthesise", "vocode"):
        resynth = commands.add_parser(name, help="play a recorded clip back through the mel vocoder WaveNet"
                                      + (" (same as resynthesise)" if name == "vocode" else ""), formatter_class=formatter)
        resynth.add_argument("clip", type=Path, help="audio clip to resynthesise (WAV, FLAC, OGG)")
        add_audio_options(resynth, bundled_help("vocoder"), "resynthesis.wav")
        resynth.add_argument("--speaker", default=None, help="speaker name or id the vocoder is conditioned on (default the first)")
        resynth.add_argument("--max-seconds", type=float, default=COMMAND.clip_seconds, help="refuse clips longer than this")
        resynth.add_argument("--spectrogram", type=Path, default=None, help="also draw the result's spectrogram as a PNG")
        resynth.add_argument("--original-spectrogram", type=Path, default=None, help="also draw the clip's spectrogram as a PNG")
        resynth.set_defaults(run=_resynthesise)
