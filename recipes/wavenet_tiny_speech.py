"""Recipe: the bundled tiny speech WaveNet (assets/wavenet-tiny), trained on the English
Asterisk prompts (one real speaker, 16 kHz). Stages, each resumable:

  prepare  fetch the Debian packages, decode, split by utterance -> data/asterisk_en/*.npz
  train    train the tiny unconditional mu-law WaveNet (resumes from its checkpoint)
  sample   write a sample WAV beside the checkpoint

  python recipes/wavenet_tiny_speech.py [--stage prepare|train|sample|all] [--steps N]
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from synth.audio import write_audio
from synth.checkpoint import load_checkpoint
from synth.corpora import asterisk
from synth.models.wavenet import WaveNet, WaveNetConfig
from synth.models.wavenet_loss import wavenet_loss
from synth.models.wavenet_generation import generate_waveform
from synth.splits import shuffled_split
from synth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "asterisk_en"
OUT = ROOT / "assets" / "wavenet-tiny"
MODEL = WaveNetConfig(n_stacks=2, layers_per_stack=8, kernel_size=2, residual_channels=32, gate_channels=64,
                      skip_channels=64, output="mulaw", n_classes=256, sample_rate=16000)
CROP_SAMPLES, BATCH = 4000, 8


def prepare() -> None:
    clips = asterisk.load_prompts(ROOT / "data" / "debian")
    DATA.mkdir(parents=True, exist_ok=True)
    manifest = {"licence": asterisk.LICENCE, "sample_rate": asterisk.SAMPLE_RATE, "splits": {}}
    for split, items in shuffled_split(clips, seed=0).items():
        path = DATA / f"{split}.npz"
        np.savez(path, **{key.replace("/", "__"): wave for key, _, wave in items})
        manifest["splits"][split] = {"clips": len(items), "seconds": round(sum(len(w) for *_, w in items) / 16000, 1),
                                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                     "keys": [key for key, *_ in items]}
    (DATA / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print({s: (v["clips"], v["seconds"]) for s, v in manifest["splits"].items()})


def load_split(split: str) -> list[torch.Tensor]:
    with np.load(DATA / f"{split}.npz", allow_pickle=False) as f:
        return [torch.from_numpy(f[k]) for k in f.files if len(f[k]) > CROP_SAMPLES]


def crops(clips: list[torch.Tensor], generator: torch.Generator, n: int) -> torch.Tensor:
    out = []
    for i in torch.randint(0, len(clips), (n,), generator=generator).tolist():
        start = torch.randint(0, len(clips[i]) - CROP_SAMPLES + 1, (1,), generator=generator).item()
        out.append(clips[i][start:start + CROP_SAMPLES])
    return torch.stack(out)  # (n, CROP_SAMPLES)


def card(record: dict, steps: int) -> str:
    return f"""# wavenet-tiny: a small speech WaveNet

Unconditional mu-law WaveNet ({MODEL.n_stacks} x {MODEL.layers_per_stack} layers, kernel 2,
{MODEL.residual_channels}/{MODEL.gate_channels}/{MODEL.skip_channels} channels, receptive field
{MODEL.receptive_field} samples = {1000 * MODEL.receptive_field / 16000:.0f} ms, 256 classes, 16 kHz).

- Data: {asterisk.LICENCE} English prompts, one female US speaker, split by utterance
  (seed 0: 5% valid, 5% test); random {CROP_SAMPLES}-sample crops.
- Training: {record.get('step', 0)} of {steps} steps, batch {BATCH}, AdamW, wall time
  {record.get('wall_seconds', 0)} s on an AMD EPYC with 2 CPU cores, no GPU (sharing them with other work).
- Held-out (valid) NLL: {record.get('valid_loss', 'n/a')} nats per sample (uniform over 256 classes = 5.545).
- How it sounds (sample.wav, seed 0): noisy, breath-like bursts with pauses and loudness that
  rises and falls at a syllable-like rate; no clear voicing (no harmonics in its spectrogram) and
  no words. A tiny model trained for minutes on a CPU: it exists so that the command and the app
  work out of the box. The real speech models come from the audio recipes.
- Reproduce: `python recipes/wavenet_tiny_speech.py --stage all --steps {steps}`
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=["prepare", "train", "sample", "all"])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.stage in ("prepare", "all") and not (DATA / "manifest.json").exists():
        prepare()
    if args.stage in ("train", "all"):
        torch.manual_seed(0)
        train_clips, valid_clips = load_split("train"), load_split("valid")
        valid = [crops(valid_clips, torch.Generator().manual_seed(i), BATCH) for i in range(4)]
        mu = WaveNet(MODEL)
        train(mu, loss=lambda m, x: wavenet_loss(m, m.encode(x)), batch=lambda g: crops(train_clips, g, BATCH),
              valid_batches=valid, out_dir=OUT,
              config=TrainConfig(steps=args.steps, learning_rate=2e-3, warmup_steps=100, eval_every=100, checkpoint_every=100),
              card=lambda record: card(record, args.steps), metadata={"data": "asterisk-core-sounds-en, Allison"})
    if args.stage in ("sample", "all"):
        model = load_checkpoint(OUT)
        audio = torch.cat(list(generate_waveform(model, seconds=2.0, seed=0)), dim=1)
        write_audio(OUT / "sample.wav", audio[0], 16000)


if __name__ == "__main__":
    main()
