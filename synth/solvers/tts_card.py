"""The model card of a text-to-mel checkpoint, from its metadata and the evaluate stage's
metrics.json: what it is, its data and licence, its training, and the measured numbers."""
from __future__ import annotations

from synth.solvers.tts import TTSRecipe
from synth.solvers.tts_evaluation import format_judged


def model_card(recipe: TTSRecipe, facts: dict, *, command: str, sound: str = "", training_note: str = "") -> str:
    """The card of a text-to-mel checkpoint: what it is, its data and licence, its training, and
    the measured numbers (held-out, free-running); ``sound``: how it sounds, said plainly after
    listening; ``training_note``: how its runs went (steps, wall time, machine of each)."""
    meta, metrics = facts.get("metadata", {}), facts.get("metrics", {})
    record = meta.get("record") or (meta.get("history") or [{}])[-1]
    c, t = recipe.model, recipe.train
    counts = (meta.get("corpus") or {}).get("counts", {})
    reads = (f"Text -> espeak-ng's {c.phonemes} phonemes (`synth.models.phonemes`, stress marked, commas and full stops "
             "kept)" if c.phonemes else "Characters")
    unit = "phoneme" if c.phonemes else "character"
    weights = "the run's last weights" if recipe.bundled_weights == "last" else "weights with the best validation loss"
    return f"""# {recipe.name}: text to log-mel spectrogram, read with Graves's Gaussian window

{reads} -> 80-band log-mel frames (16 kHz, hop 256: exactly `synth.audio.MelFeatures`, the
vocoder's features), an end-of-speech output, and the attention window over the text. Played by
the WaveNet vocoder (streamed), or by Griffin-Lim as a check of this model apart from the vocoder.

## Model
Encoder: {c.embedding_size}-dim {unit} embedding ({len(c.characters)} symbols), {c.encoder_convs} convolutions (kernel {c.encoder_kernel}),
bidirectional LSTM ({c.encoder_size}). Attention: Graves's window (K = {c.n_window} Gaussians, GMM attention).
Decoder: prenet {list(c.prenet_sizes)} (dropout {c.prenet_dropout}, kept on at inference), attention LSTM
{c.attention_size} (zoneout {c.zoneout}), decoder LSTM {c.decoder_size} (dropout {c.dropout}), {c.reduction} frames per
step, L1 on per-band standardised log-mel, end-of-speech cross-entropy (positive weight {c.stop_weight}).
Why each choice: the docstring of `synth/models/tts.py`.

## Data and licence
{(meta.get('corpus') or {}).get('path', recipe.data.corpus)}: the "Kathleen" voice data set (one US-English
female speaker reading CMU ARCTIC prompts), {(meta.get('corpus') or {}).get('licence', 'CC0 1.0')}. Split by prompt
id, so held-out sentences were never heard in training: {_counts(counts)}.

## Training
- Step {record.get('step', meta.get('step', '?'))} of {t.steps} ({weights}, EMA {t.ema_decay or 'off'}),
  batch {recipe.data.batch_size} utterances of similar length, AdamW lr {t.learning_rate} (warm-up {t.warmup_steps}, cosine),
  clip {t.grad_clip}; validation loss {record.get('valid_loss', '?')}, wall time {record.get('wall_seconds', '?')} s.

## Held-out measurements
- Test loss (teacher-forced L1 + end-of-speech, {metrics.get('test_utterances', '?')} utterances): {metrics.get('test_loss', 'not yet measured')}.

{alignment_section(metrics.get('alignment'), recipe.max_retries)}

{judged_section(metrics.get('judged'))}

{speed_section(metrics.get('speed'))}

Samples (per judged sentence: WaveNet and Griffin-Lim audio of the same mels, the mel and the
attention pictures): `samples/`. Every reading is seeded (seed {metrics.get('seed', recipe.eval_seed)}).

## How it sounds
{sound or "Not yet listened to."}
{training_note}
## Reproduce
`{command}`
"""


def _counts(counts: dict) -> str:
    return "; ".join(f"{split} {c['utterances']} utterances of {c['prompts']} prompts ({c['seconds'] / 60:.1f} min)"
                     for split, c in counts.items()) or "not recorded"


def alignment_section(alignment: dict | None, max_retries: int) -> str:
    """The card's alignment table: sentences failing (and why) on the first attempt and after retry."""
    if not alignment:
        return "Alignment failures: not yet measured (run the evaluate stage)."
    sources = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in alignment["sources"].items())
    lines = [f"Alignment over {alignment['sentences']} free-running sentences ({sources}): a sentence fails when its "
             "window stalls, skips characters or spends its step budget, and is then read again with another seed. An "
             "early end-of-speech (before the last characters) is not believed by the stopping rule; it is counted, "
             "not failed.", "",
             "| | sentences failed | share | stalled | skipped | over budget | early end-of-speech |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, failed, rate, kinds in (
            ("first attempt", "failed_first_attempt", "failure_rate_first_attempt", "first_attempt_kinds"),
            (f"after up to {max_retries} retries", "failed_after_retry", "failure_rate_after_retry", "after_retry_kinds")):
        k = alignment[kinds]
        lines.append(f"| {label} | {alignment[failed]} | {100 * alignment[rate]:.1f}% | {k['stalled']} | {k['skipped']} | "
                     f"{k['over_budget']} | {k['early_stop']} |")
    return "\n".join(lines)


def judged_section(judged: dict | None) -> str:
    """The card's word error rate and DNSMOS tables, one per set, from metrics.json."""
    if not judged:
        return "Word error rate and DNSMOS: not yet measured (run the evaluate stage)."
    parts = ["Word error rate of pocketsphinx (en-us, offline) against the normalised text, and DNSMOS P.835 "
             "(1-5), free-running. Every row reads the same normalised words: the network's mels played by the "
             "WaveNet vocoder (as `synth say` streams them) and by Griffin-Lim (the acoustic model judged apart "
             "from the vocoder), espeak-ng (the baseline), and for held-out prompts the speaker's recording. "
             "Judges: `synth/judges/`."]
    for table in judged.values():
        parts.append(format_judged(table, table.get("title", "")))
        if table.get("reading_failures"):
            parts.append(f"({table['reading_failures']} of these readings still failed their alignment after retries.)")
    return "\n\n".join(parts)


def speed_section(speed_: dict | None) -> str:
    """The card's speed lines: the streamed path with the vocoder, and the acoustic model alone."""
    if not speed_:
        return "Speed: not yet measured (run the evaluate stage)."
    lines = [f"Speed on {speed_.get('machine', 'this CPU')}, {speed_['threads']} thread, for \"{speed_['sentence']}\" ({speed_.get('words', '?')} words):"]
    vocoder = speed_.get("vocoder")
    if vocoder:
        lines.append(f"- Text-to-mel streamed into the WaveNet vocoder (the `synth say` path): first audio after "
                     f"{vocoder['first_audio_seconds']} s, real-time factor {vocoder['real_time_factor']} "
                     f"({vocoder['wall_seconds']} s for {vocoder['audio_seconds']} s of audio; below 1 is faster than real time).")
    lines.append(f"- The acoustic model alone: first frames after {speed_['first_frames_seconds']} s, real-time factor "
                 f"{speed_['real_time_factor']}.")
    return "\n".join(lines)

