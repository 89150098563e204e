"""Trains the tiny WaveNet for a few steps; run under torchrun by test_training.py.

  python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_train.py OUT
  python tests/ddp_train.py OUT --ranks 2   # one process, each step on both ranks' batches at once
"""
import argparse
import os
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from conftest import tiny_wavenet  # noqa: E402
from synth.models.wavenet_loss import wavenet_loss  # noqa: E402
from synth.training import TrainConfig, batch_generator, train  # noqa: E402

SINE = torch.sin(torch.arange(20_000) * 2 * torch.pi * 440 / 16000) * 0.6


def crops(generator: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(SINE) - 300, (3,), generator=generator)
    return torch.stack([SINE[s:s + 300] for s in starts.tolist()])  # (3, 300)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--ranks", type=int, default=1, help="single process: concatenate this many ranks' batches")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TrainConfig(steps=6, learning_rate=5e-3, warmup_steps=2, eval_every=3, checkpoint_every=3, ema_decay=0.9)
    step = {"n": 0}

    def batch(generator):
        if args.ranks == 1:
            return crops(generator)
        # the same batches the ranks of a DDP job draw at this step, in one batch
        s = step["n"]
        step["n"] += 1
        return torch.cat([crops(batch_generator(config, s, r)) for r in range(args.ranks)])

    model = tiny_wavenet(0)
    valid = [crops(torch.Generator().manual_seed(5))]
    train(model, loss=lambda m, x: wavenet_loss(m, m.encode(x)), batch=batch, valid_batches=valid, config=config,
          out_dir=Path(args.out) / "checkpoint", log=lambda _: None)
    rank = int(os.environ.get("RANK", 0))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(Path(args.out) / f"rank{rank}.safetensors"))


if __name__ == "__main__":
    main()
