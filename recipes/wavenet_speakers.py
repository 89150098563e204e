"""Recipe: a speaker-conditioned speech WaveNet (the WaveNet paper's multi-speaker experiment),
trained on the real multi-speaker speech corpus (recipes/speech_corpus.py). It babbles speech
sounds in a chosen speaker's voice: no text, no words.

What the vocoder's training found helps (issue 12), applied here as it was to the piano model: the
network predicts the pre-emphasised signal (x_t - 0.85 x_{t-1}; de-emphasis after generation, so
the mu-law quantisation noise is shaped like speech's spectrum instead of white hiss), bf16
autocast, EMA 0.999 and a long schedule. Its evaluate stage judges the free-running babble by
DNSMOS beside held-out speech of the same speakers and white noise as loud (the issue's measure).

This config trains in a fresh folder, runs/wavenet-speakers: the bundled assets/wavenet-speakers
is a waveform model (no pre-emphasis) whose training state cannot carry these settings. Resume
with the same command; bundle (copy the folder's model files, card, metrics and samples to
assets/wavenet-speakers) once its babble's DNSMOS beats the bundled one's.

Stages (each resumable):
  train     train to train.steps (resumes from <out_dir>/training_state.safetensors)
  temperature  the babble's sampling temperature, chosen by DNSMOS on seeds the evaluation never
            plays (temperatures=[1.0,0.9,...]) -> the checkpoint's metadata, which the app plays with
  evaluate  held-out bits per sample beside the baselines, the babble judged by DNSMOS
            -> metrics.json and MODEL_CARD.md
  sample    sample_speaker<k>.wav for the first speakers

  python recipes/wavenet_speakers.py [--stage train|temperature|evaluate|sample|card] [--config x.yaml] [field=value ...]
"""
from __future__ import annotations

import sys

from synth.models.wavenet import WaveNetConfig
from synth.solvers.wavenet import WaveNetData, WaveNetRecipe, model_card
from synth.solvers.wavenet_stages import run_stages
from synth.training import TrainConfig

DEFAULT = WaveNetRecipe(
    name="wavenet-speakers", out_dir="runs/wavenet-speakers",
    # 2 x 10 layers, kernel 2: a 2,047-sample (128 ms) receptive field; lpc_order 0 with
    # pre_emphasis: the network models the pre-emphasised signal (synth.lpc).
    model=WaveNetConfig(n_stacks=2, layers_per_stack=10, residual_channels=32, gate_channels=64, skip_channels=64,
                        speaker_channels=16, lpc_order=0, pre_emphasis=0.85),
    train=TrainConfig(steps=30000, learning_rate=2e-3, min_learning_rate=1e-4, warmup_steps=300, eval_every=250,
                      checkpoint_every=250, ema_decay=0.999, precision="bfloat16"),
    data=WaveNetData(corpus="data/speech", speaker_conditioned=True, crop_samples=4096, batch_size=4),
)


#: How the bundled checkpoint sounds, written after listening to its samples.
NOTES = ("Not speech yet. The samples (sample_speaker0-3.wav, seed 0) are continuous broadband noise with "
         "energy concentrated below 1 kHz and frequent click-like broadband transients; their spectrograms show no "
         "voicing harmonics, no formant structure and no pauses, and the speakers do not yet sound distinct. The "
         "model does beat both baselines on held-out speech (it has learnt the short-term spectral envelope), but "
         "1300 steps on a CPU is about 1% of what a WaveNet needs to babble convincingly; train on, on a GPU.")


#: How this checkpoint's run differed from a plain rerun of the command.
TRAINING_NOTE = ("- It first ran (part of) an 800-step schedule on the loaded machine, then resumed on a quieter one with "
                 "the 1400-step schedule here (so its learning rate rose again from the first schedule's end) until "
                 "the session's time ran out.\n"
                 '- This run: an AMD EPYC virtual machine with 2 cores, shared with three other training jobs and test runs (load average about 10), 1 torch thread; the recorded wall time is mostly waiting for a core.'
                 ' The first 200 steps ran with EMA 0.999 and a 3000-step schedule (identical warm-up), then it resumed with the defaults here, so a rerun from scratch lands close to, not exactly on, this checkpoint.')


def card(recipe: WaveNetRecipe, facts: dict) -> str:
    return model_card(
        recipe, facts, title="wavenet-speakers: speech sounds in a chosen voice",
        summary="A WaveNet conditioned on a speaker embedding (van den Oord et al. 2016, section 3.1): it generates "
                "speech-like audio in the voice of a chosen speaker of the corpus. It has no text input.",
        data=f"The synth speech corpus (`recipes/speech_corpus.py`): real recorded speakers, see `speakers` in "
             f"config.json and the corpus's LICENCES.md. Asterisk prompts: CC-BY-SA-3.0 / CC-BY-3.0 (Allison Smith, "
             f"June Wallack, Carlo Flora, ivrvoice.ru); Fish Fillets voice acting (if built): GPL-2.",
        sound=NOTES, training_note=TRAINING_NOTE,
        command="python recipes/speech_corpus.py --stage all && python recipes/wavenet_speakers.py --stage train")


if __name__ == "__main__":
    run_stages(__doc__, DEFAULT, card, sys.argv[1:])
