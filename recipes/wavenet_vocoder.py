"""Recipe: the speech vocoder: a WaveNet that turns an 80-band log-mel spectrogram into speech,
modelling the excitation of a 16th-order LPC filter read off the same mel (ExcitNet, Song et al.
2019; LPCNet, Valin and Skoglund 2019; synth/lpc.py), trained on real English speech: Kathleen
(one US-English speaker, CC0, split by prompt) and LibriSpeech's 251 train-clean-100 speakers, so
it plays voices it never heard (the unseen test-other speakers are its test set). The corpus:
`python recipes/speech_corpus.py --stage english` -> data/english.

Stages (each resumable):
  train     train to train.steps (resumes from runs/wavenet-vocoder/training_state.safetensors)
  temperature  the sampling temperature (candidates: temperatures=[...]) chosen by the judges on
            validation clips (never the test clips), written into the checkpoint's metadata
  evaluate  held-out bits per sample, resynthesis distances, and one table per held-out set of
            free-running resynthesis judged offline (pocketsphinx word error rate, STOI, PESQ,
            DNSMOS) beside the original and Griffin-Lim from the same mel -> metrics.json, MODEL_CARD.md
  sample    sample.wav: a held-out clip resynthesised from its mel spectrogram
  bench     training samples/s per precision (float32, bf16 autocast) and thread count
  card      rewrite MODEL_CARD.md from the checkpoint and metrics.json
  lookahead give the run's training state the recipe's conditioning look-ahead (model.cond_lookahead),
            computing what it computed before, so a run trained without it goes on with it
  deepen    give the run's training state the recipe's model.n_stacks (more stacks: a longer receptive
            field), computing what it computed before (the new layers' skip outputs start at zero)
  widen     give the run's training state the recipe's model.residual_channels and model.gate_channels
            (more of either), computing what it computed before (the new channels' outputs start at zero)

  python recipes/wavenet_vocoder.py [--stage train|temperature|evaluate|sample|bench|card|lookahead|deepen|widen] [--config x.yaml] [field=value ...]
"""
from __future__ import annotations

import sys

from synth.audio import MelFeatures
from synth.models.wavenet import WaveNetConfig
from synth.solvers.wavenet import WaveNetData, WaveNetRecipe, model_card
from synth.solvers.wavenet_stages import run_stages
from synth.training import TrainConfig

DEFAULT = WaveNetRecipe(
    name="wavenet-vocoder", out_dir="assets/wavenet-vocoder", threads=2,
    # ExcitNet / LPCNet: the network models the excitation of a 16th-order LPC filter read off the
    # mel (synth.lpc), after pre-emphasis 0.85; no speaker input, so it plays voices it never heard.
    # Its conditioning looks 2 frames (32 ms) ahead: the samples of frame f see the mel up to f + 2.
    # 3 stacks of 10 layers: a 3,070-sample (192 ms) receptive field (the third stack came at step 82,250).
    model=WaveNetConfig(n_stacks=3, layers_per_stack=10, residual_channels=32, gate_channels=64, skip_channels=64,
                        cond_hidden_channels=64, cond_frame_kernel=5, cond_lookahead=2, upsample_scales=(16, 16),
                        lpc_order=16, pre_emphasis=0.85),
    train=TrainConfig(steps=100000, learning_rate=2e-3, min_learning_rate=1e-4, warmup_steps=300, eval_every=250,
                      checkpoint_every=250, ema_decay=0.999, precision="bfloat16"),
    data=WaveNetData(corpus="data/english", conditioning="mel", speaker_conditioned=False, crop_samples=4096,
                     batch_size=4, judged_clips=30),
    mel=MelFeatures(sample_rate=16000, hop_length=256),
    # The temperature stage writes the mel-envelope correction (synth.envelope) into the checkpoint with
    # the temperature, chosen on the corrected audio.
    envelope=1.0,
)

#: How the bundled checkpoint sounds, written after judging its free-running samples
#: (samples/*_original.wav, *_griffin_lim.wav, *_vocoder.wav) and looking at their spectrograms.
NOTES = ("Rough speech whose words mostly come through. Judged free-running at step 40,000, the end of the schedule "
         "(held-out clips, pocketsphinx / STOI / DNSMOS): on Kathleen's held-out prompts word error rate 0.44 against "
         "Griffin-Lim's 0.35 from the same mel, STOI 0.85 against 0.95, DNSMOS 2.41, above Griffin-Lim's 2.23 (its "
         "signal and background scores, 3.00 and 3.28, are cleaner than at step 12,250: 2.71 and 3.07); on the Asterisk "
         "English clips 0.41 / 0.82 / 2.21 against 0.31 / 0.95 / 2.55; the unseen LibriSpeech voices come out hoarser "
         "(0.61 / 0.78 / 1.87 against 0.38 / 0.94 / 2.28). The formants follow the original (the LPC filter puts them "
         "there) and the harmonics of voiced sounds show, but the pitch is not fully steady, so STOI stays 0.10 short of "
         "Griffin-Lim on every set. The first bundled vocoder (a waveform WaveNet) was broadband noise (word error rate "
         "1.00, STOI 0.42, DNSMOS 1.12). Progress on Kathleen: 0.50 / 0.64 / 1.13 at step 4,000, 0.33 / 0.75 / 2.07 at "
         "12,250 (on clips drawn before the re-split at 14,500), 0.42 / 0.85 / 2.40 at 36,250, 0.44 / 0.85 / 2.41 at 40,000. "
         "Sampled at temperature 0.9 (chosen on validation clips, see Sampling), the same test clips and seeds come out "
         "cleaner and a little less intelligible (the tables above): Kathleen 0.49 / 0.84 / 2.50, Asterisk 0.48 / 0.82 / "
         "2.31, LibriSpeech 0.71 / 0.75 / 2.10: DNSMOS rises by 0.1-0.2 everywhere, the word error rate by 0.05-0.10. "
         "These weights (step 47,250, temperature 0.9, the tables above) sound much the same, a little clearer on "
         "Kathleen: 0.40 / 0.85 / 2.49 there, Asterisk 0.51 / 0.82 / 2.37, LibriSpeech 0.67 / 0.76 / 2.10: still "
         "behind Griffin-Lim on word error rate and STOI. These weights (step 75,750, conditioning that looks 2 frames "
         "ahead, temperature 0.9; the tables above) score better on every set by STOI, PESQ and DNSMOS: STOI "
         "0.89 / 0.80 / 0.86 (Kathleen / LibriSpeech / Asterisk) against 0.85 / 0.76 / 0.82 at step 47,250, DNSMOS "
         "2.59 / 2.21 / 2.46 against 2.49 / 2.10 / 2.37, PESQ 1.79 / 1.47 / 1.43 against 1.61 / 1.34 / 1.32; but "
         "pocketsphinx finds more word errors on Kathleen (0.46 against 0.40) and the Asterisk prompts (0.67 against "
         "0.51), about as many on LibriSpeech (0.65 against 0.67) and on the 10 Kathleen validation clips (0.27 "
         "against 0.24). The bundled weights are step 80,000's, the end of that schedule (the tables above, temperature 0.9 "
         "as chosen at 75,750): better than step 47,250 on every judge on every set but Kathleen's word error rate "
         "(0.43 against 0.40): word error rate / STOI / DNSMOS / PESQ Kathleen 0.43 / 0.89 / 2.61 / 1.84, LibriSpeech "
         "0.54 / 0.79 / 2.20 / 1.43, Asterisk 0.41 / 0.86 / 2.41 / 1.45. Still behind Griffin-Lim on word error rate "
         "(0.08-0.16) and STOI (0.06-0.15); above it on DNSMOS on Kathleen. The bundled weights are now step 97,250's, "
         "with a third stack (temperature 0.9, chosen again on the validation clips: word error rate / STOI / DNSMOS "
         "0.25 / 0.89 / 2.55 against 0.25 / 0.87 / 2.66 at 0.7 and 0.29 / 0.88 / 2.55 at 0.8; the two-stack step "
         "80,000 gave 0.25 / 0.88 / 2.49 on the same clips and seeds): the tables above. Against step 80,000 on the "
         "test sets: the unseen LibriSpeech voices are better on every judge (0.53 / 0.82 / 2.29 / 1.61 against "
         "0.54 / 0.79 / 2.20 / 1.43; DNSMOS now level with Griffin-Lim's 2.28), Kathleen about the same (0.43 / 0.90 / "
         "2.58 / 1.90 against 0.43 / 0.89 / 2.61 / 1.84), and on the Asterisk prompts pocketsphinx finds 5 more word "
         "errors in 61 words (0.49 against 0.41; STOI 0.86 and DNSMOS 2.43 against 0.86 and 2.41). Held-out bits per "
         "sample 4.747 against 4.760. It still sounds like rough speech whose words mostly come through, a little "
         "steadier in pitch on unseen voices; it is behind Griffin-Lim on word error rate and STOI on every set. "
         "Generation at batch 1 on one thread of the AMD EPYC VM (fused kernel plus the LPC synthesis, beside a training "
         "job on the other core; six 5 s Kathleen clips resynthesised): 4.1 times faster than real time, "
         "against 5.5 for the two-stack network. Since 2026-12-07 the same weights play through the mel-envelope "
         "correction (synth/envelope.py: the generated audio's mel band energies pulled to the mel it plays, at most 4x "
         "either way, the WaveNet's phase kept; written into the checkpoint with temperature 0.9 by the temperature "
         "stage): clear speech in the speaker's voice with a light breathy texture, unseen voices still a little hoarse. "
         "By the judges (the tables above, 30 clips per set; each set's last row is the network without it) it is "
         "ahead of Griffin-Lim on Kathleen's held-out prompts (word error rate 0.25 against 0.26, STOI 0.951 against "
         "0.948, DNSMOS 2.86 against 2.28), about level on the Asterisk prompts' words (0.55 against 0.54) but below on "
         "STOI (0.93 against 0.95), cleaner (DNSMOS 2.61 against 2.46); unseen LibriSpeech voices 0.51 / 0.91 / 2.47 "
         "against Griffin-Lim's 0.46 / 0.94 / 2.23.")

#: How this checkpoint's run differed from a plain rerun of the command.
TRAINING_NOTE = ("- This run (2026-11-24): 12,250 of 40,000 steps in 2.1 h on an AMD EPYC VM with 2 cores and no GPU: "
                 "steps 0-2,750 with 2 torch threads (2.7 steps/s, ~44,000 samples/s), then 1 thread (1.6 steps/s, "
                 "~26,000 samples/s) beside a composer or text-to-speech run on the other core; bf16 autocast. It "
                 "trained in runs/wavenet-vocoder and was copied here with its training state; the next run resumes "
                 "from this folder (`python recipes/wavenet_vocoder.py --stage train`).\n"
                 "- Second run (2026-11-24, next session): steps 12,250-15,500 in 1.8 h, 1 torch thread, bf16, beside "
                 "helpers' work on the other core. That VM ran about 3.5 times slower than the first one (a 1-thread "
                 "1024x1024 float32 matmul made 15 GFLOPS; the same step took 2.0 s instead of 0.55 s), hence ~8,000 "
                 "training samples/s. At step 14,500 data/english was rebuilt with the one prompt split "
                 "(synth.splits.prompt_split, as the text-to-speech model and the judges split Kathleen): from then on "
                 "its Kathleen test prompts are the TTS's, but about 70 of those clips were trained on in steps "
                 "0-14,500, so later Kathleen figures include prompts heard early in training (the LibriSpeech "
                 "test-other and Asterisk sets are unaffected). Validation loss 3.096 nats at 12,250, 3.086 at 14,250 "
                 "(old split); 3.128 at 14,750 and 3.125 at 15,500 on the new validation split.\n"
                 "- Third run (2026-11-24, third session): steps 15,500-21,000 in 3.2 h on the same slow VM, 1 torch "
                 "thread, bf16, beside the handwriting run on the other core (2.0 s/step, ~8,000 samples/s). "
                 "Validation 4.487 bits/sample at 21,000 (4.508 at 12,250).\n"
                 "- Fourth run (2026-11-24, fourth session): steps 21,000-25,500 in 2.7 h, the same VM and settings "
                 "(2.0 s/step), beside the handwriting run. Validation 4.475 bits/sample (3.102 nats) at 25,250.\n"
                 "- Fifth run (2026-11-24, fifth session, a fresh VM about 3.5 times faster again): steps 25,500-40,000 "
                 "(the end of the schedule) in 2.4 h, 1 torch thread, bf16, beside the handwriting run and then the tests "
                 "(1.6-1.9 steps/s, ~27,000 samples/s). Validation 4.459 bits/sample at 37,500, 4.458 at 40,000.\n"
                 "- Sixth run (2026-12-07, AMD EPYC VM, 2 cores, no GPU): resumed from 40,000 on a new schedule to 56,000 "
                 "(`train.steps=56000 train.learning_rate=0.001`, cosine), 1 torch thread, bf16, 3.0-3.3 steps/s beside "
                 "another training job. These weights are step 47,250's (validation 3.0883 nats against 3.0899 at "
                 "40,000), judged free-running at the temperature chosen at step 40,000 (0.9; the Sampling table below "
                 "is that choice, not re-run). The run went on to the schedule's end, 56,000 (the last 4,000 steps with 2 "
                 "threads, 5.3 steps/s; validation 3.0848 nats): the committed training state is step 56,000's, not yet "
                 "judged free-running; copy it to runs/wavenet-vocoder/ and run `--stage train train.steps=N` to go on.\n"
                 "- Seventh run (2026-12-07, the same VM, next session): the conditioning now looks 2 frames ahead "
                 "(`model.cond_lookahead=2`, `model.cond_frame_kernel=5`). `--stage lookahead` grew the step-56,000 state "
                 "(the frame conv's two new taps, on the future side, zero in the weights, the EMA and AdamW's moments: the "
                 "same function), then `--stage train` went on to a schedule ending at 80,000 (learning rate 0.002 "
                 "cosine, so about 0.0005 at 56,000), 1 torch thread, bf16, 2.9-3.2 steps/s beside the speaker run on "
                 "the other core: 19,750 steps in about 1 h 50 min. Validation 3.0848 -> 3.0667 nats (the 16,000 causal "
                 "steps before it: 3.0899 -> 3.0848). Step 75,750 was judged and bundled first; the sampling temperature "
                 "was chosen again on the validation clips (0.9: word error rate / STOI / DNSMOS 0.27 / 0.87 / 2.46 "
                 "against 0.27 / 0.87 / 2.37 at 1.0). The run then finished its schedule with 2 threads (76,750 -> 80,000 in "
                 "11 min, 4.7-5.1 steps/s; validation 3.0652 nats at 80,000, the best): these weights and the committed "
                 "training state are step 80,000's, the end of the schedule; to go on, copy it to runs/wavenet-vocoder/ and run `--stage train "
                 "train.steps=N` with N > 80,000.\n"
                 "- Eighth run (2026-12-07, the same VM, a later session): the step-80,000 state went on unchanged to 82,250 "
                 "(1 thread, `train.steps=100000`): validation flat at 3.0651 nats. `--stage deepen model.n_stacks=3` then gave it "
                 "a third stack (receptive field 128 -> 192 ms; the same function: new layers' skip outputs start at zero) and it "
                 "trained on with 2 threads, 3.1-3.4 steps/s, 82,250 -> 90,250 in 42 min: validation 3.0651 -> 3.0602 nats. Not "
                 "yet judged free-running, so these weights stay step 80,000's (2 stacks); the committed "
                 "`training_state.safetensors` is now that 3-stack run's at step 90,250: copy it to runs/wavenet-vocoder/ and "
                 "run `--stage train model.n_stacks=3 train.steps=100000` to go on (the step-80,000 state is in git history).\n"
                 "- Ninth run (2026-12-07, the same VM, a later session): the 3-stack state went on from 90,750 toward "
                 "100,000, 1 torch thread, bf16, 2.0-2.2 steps/s beside the piano run on the other core: 6,750 steps in "
                 "57 min, validation 3.0598 -> 3.0572 nats (best at 97,250). Stopped at 97,500 to judge it: these "
                 "weights are step 97,250's (3 stacks, temperature 0.9 chosen again), and the recipe now builds 3 stacks "
                 "with a schedule ending at 100,000. The run then finished the schedule (97,500 -> 100,000, 2 threads, 3.0-3.4 "
                 "steps/s, 13 min; validation 3.0564 nats at 99,500, not yet judged free-running): the committed training "
                 "state is step 100,000's; to go on, copy it to runs/wavenet-vocoder/ and run `--stage train "
                 "train.steps=N` with N > 100,000.")


def card(recipe: WaveNetRecipe, facts: dict) -> str:
    return model_card(
        recipe, facts, title="wavenet-vocoder: speech from a mel spectrogram",
        summary="A WaveNet conditioned on 80-band log-mel frames (hop 256 samples = 16 ms, upsampled by a learned causal "
                "upsampler advanced 2 frames, so the samples of frame f see the mel up to frame f + 2), at 16 kHz with a mu-law output, that models the *excitation* of a 16th-order LPC "
                "synthesis filter computed from the same mel (pseudo-inverse of the mel filterbank -> power spectrum "
                "-> autocorrelation -> Levinson-Durbin), after pre-emphasis 0.85 (ExcitNet, Song et al. 2019; "
                "LPCNet, Valin and Skoglund 2019). Generation samples the excitation with the cached-queue WaveNet "
                "(fused CPU kernel / CUDA graphs, unchanged), then the filter and de-emphasis (synth/lpc.py) turn it "
                "into speech, streamed. No speaker input: it plays voices it never heard. `synth` resynthesises "
                "uploaded clips and reads text aloud through it.",
        data="`data/english` (`python recipes/speech_corpus.py --stage english`): speech-en-kathleen (the Kathleen "
             "voice data set, rhasspy/dataset-voice-cathy: 1,620 takes of 1,132 CMU ARCTIC prompts by one US-English "
             "speaker, CC0 1.0; split by prompt id so held-out sentences are never heard) and the LibriSpeech ASR "
             "corpus sample clips (V. Panayotov, G. Chen, D. Povey, S. Khudanpur, ICASSP 2015; CC BY 4.0): one clip "
             "from each of 251 train-clean-100 speakers for training, the 10 test-other speakers (100 clips) "
             "only for testing. Asterisk English prompts (CC-BY-SA-3.0, Allison Smith) are a third test set.",
        sound=NOTES, training_note=TRAINING_NOTE,
        command="python recipes/speech_corpus.py --stage english && python recipes/wavenet_vocoder.py --stage train")


if __name__ == "__main__":
    run_stages(__doc__, DEFAULT, card, sys.argv[1:])
