"""The synth app (Gradio). For now one tab: speech from the bundled WaveNet; the handwriting,
piano and composer tabs come with their models. Thin over the library: no model logic here.

    python3 app.py            # then open http://127.0.0.1:7860
"""
from __future__ import annotations

import functools
import os

import gradio as gr
import numpy as np
import torch

from synth.checkpoint import load_checkpoint
from synth.cli import DEFAULT_WAVENET
from synth.device import pick_device
from synth.errors import SynthError
from synth.models.wavenet import generate_waveform
from synth.sampling.policies import make_policy

MAX_APP_SECONDS = 10.0


@functools.lru_cache(maxsize=1)
def speech_model():
    return load_checkpoint(DEFAULT_WAVENET, device=pick_device(), expect_kind="wavenet")


def generate_speech(seconds: float, temperature: float, seed: int, progress=gr.Progress()):
    """Generate speech-like audio with the bundled WaveNet; returns (sample_rate, samples)."""
    try:
        model = speech_model()
        total = seconds * model.config.sample_rate
        chunks = []
        for chunk in generate_waveform(model, seconds=float(seconds), policy=make_policy(temperature=temperature),
                                       seed=int(seed), max_seconds=MAX_APP_SECONDS, chunk_seconds=0.25):
            chunks.append(chunk)
            progress(sum(c.shape[-1] for c in chunks) / total, desc="generating")
        audio = torch.cat(chunks, dim=1)[0].numpy()
        return model.config.sample_rate, (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    except SynthError as exc:
        raise gr.Error(str(exc))


def build_app() -> gr.Blocks:
    with gr.Blocks(title="synth") as app:
        gr.Markdown("# synth\nAutoregressive generation. Speech: the bundled tiny WaveNet (see its model card).")
        with gr.Tab("Speech"):
            seconds = gr.Slider(0.1, MAX_APP_SECONDS, value=1.0, step=0.1, label="seconds")
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature (0 = greedy)")
            seed = gr.Number(value=0, precision=0, label="seed")
            button = gr.Button("Generate", variant="primary")
            audio = gr.Audio(label="speech", type="numpy")
            button.click(generate_speech, [seconds, temperature, seed], audio, api_name="generate_speech",
                         concurrency_limit=2)
    return app.queue(max_size=64)


if __name__ == "__main__":
    build_app().launch(server_name=os.environ.get("SYNTH_HOST", "127.0.0.1"),
                       server_port=int(os.environ.get("SYNTH_PORT", "7860")))
