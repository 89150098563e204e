"""Independent judges of generated audio: what a listener would notice, measured by models that
ship inside their PyPI wheels and never saw this project's data.

- ``asr``: speech intelligibility, ``word_error_rate`` (pocketsphinx's bundled en-us acoustic
  model, dictionary and language model; ``jiwer`` for the alignment), with both texts normalised by
  ``normalise_text``.
- ``quality``: speech quality without a reference, ``dnsmos`` (Microsoft DNSMOS P.835 via
  ``speechmos``: overall / signal / background on a 1-5 scale; Reddy et al., ICASSP 2022); and
  against the original, ``stoi_pesq`` (``synth.evaluation.pesq_stoi``).
- ``piano``: ``note_onset_f1``, Spotify's basic-pitch transcription (Bittner et al., ICASSP 2022;
  its ONNX model runs on onnxruntime) scored by ``mir_eval`` against the MIDI that was played
  (pitch exact, 50 ms onset tolerance, offsets ignored); the pieces a renderer is judged on and
  their table.
- ``baselines``: what a user would otherwise pick. For a vocoder, ``griffin_lim_from_mel`` inverts
  the same log-mel the vocoder is given (Griffin & Lim 1984, 64 iterations, librosa); for a whole
  text-to-speech system, ``espeak_ng`` reads the same text with the espeak-ng synthesiser (the
  Debian package, which setup.sh installs).
- ``speech``: ``speech_table`` scores rows of audio (original, Griffin-Lim, a vocoder, ...) on the
  same clips and ``format_speech_table`` prints it as one markdown table. The held-out evaluation
  sets are picked from paths by ``kathleen_heldout``, ``librispeech_test_other`` and
  ``asterisk_test``; the Kathleen prompt split is ``synth.splits.prompt_split`` /
  ``heldout_prompt`` (a stable hash of the prompt id), re-exported here.

Every name is importable from ``synth.judges``. The judges are optional (the ``judges`` extra, and
basic-pitch installed ``--no-deps`` by setup.sh): a missing one raises InputError naming what to
install (``runtime``). ONNX sessions run with $OMP_NUM_THREADS threads (the CPU is shared with
training).
"""
from synth.judges.asr import corpus_word_error_rate, normalise_text, number_words, transcribe, word_error_rate
from synth.judges.baselines import (ESPEAK_NG, ESPEAK_TIMEOUT_SECONDS, ESPEAK_VOICE, GRIFFIN_LIM_ITERATIONS, espeak_ng,
                                    griffin_lim_from_mel, griffin_lim_resynthesis)
from synth.judges.piano import (ONSET_TOLERANCE_SECONDS, PITCH_TOLERANCE_CENTS, EvaluationPiece, format_piano_table,
                                note_onset_f1, piano_corpus_pieces, piano_evaluation_pieces, piano_table,
                                transcribe_notes)
from synth.judges.quality import dnsmos, stoi_pesq
from synth.judges.runtime import INSTALL_HINT, JUDGE_SAMPLE_RATE
from synth.judges.speech import (KATHLEEN_LICENCE, LIBRISPEECH_LICENCE, MEASURES, SPEECH_COLUMNS, EvaluationClip,
                                 EvaluationSet, asterisk_test, format_speech_table, kathleen_heldout,
                                 librispeech_test_other, speech_table)
from synth.splits import (  # noqa: F401  (re-exported: recipes name synth.judges.prompt_split)
    KATHLEEN_TEST_PERCENT,
    KATHLEEN_VALID_PERCENT,
    heldout_prompt,
    prompt_id,
    prompt_split,
)

__all__ = [
    "INSTALL_HINT", "JUDGE_SAMPLE_RATE",
    "corpus_word_error_rate", "normalise_text", "number_words", "transcribe", "word_error_rate",
    "dnsmos", "stoi_pesq",
    "ESPEAK_NG", "ESPEAK_TIMEOUT_SECONDS", "ESPEAK_VOICE", "GRIFFIN_LIM_ITERATIONS", "espeak_ng",
    "griffin_lim_from_mel", "griffin_lim_resynthesis",
    "KATHLEEN_LICENCE", "LIBRISPEECH_LICENCE", "MEASURES", "SPEECH_COLUMNS", "EvaluationClip", "EvaluationSet",
    "asterisk_test", "format_speech_table", "kathleen_heldout", "librispeech_test_other", "speech_table",
    "ONSET_TOLERANCE_SECONDS", "PITCH_TOLERANCE_CENTS", "EvaluationPiece", "format_piano_table", "note_onset_f1",
    "piano_corpus_pieces", "piano_evaluation_pieces", "piano_table", "transcribe_notes",
    "KATHLEEN_TEST_PERCENT", "KATHLEEN_VALID_PERCENT", "heldout_prompt", "prompt_id", "prompt_split",
]
