"""What the tabs' layouts share: a model's line, the seed box, the bundled example files, and the
queue's bound on WaveNet jobs."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from synth.services import models
from synth.services.bounds import MAX_SEED

EXAMPLES = Path(__file__).resolve().parents[2] / "assets" / "examples"
#: WaveNet jobs running at once over all tabs (each uses both CPU cores at batch 1); others wait in the queue.
WAVENET_CONCURRENCY = 2


def model_line(role: str, label: str = "Model") -> str:
    """One line for the page: which checkpoint a tab uses, or that it is missing."""
    missing = models.missing_message(role)
    if missing:
        return f"**Missing model.** {missing[0].upper() + missing[1:]}."
    return f"{label}: `{models.checkpoint_path(role).name}` (its MODEL_CARD.md says how it was trained and how it sounds)."


def seed_box(value: int = 0) -> gr.Number:
    """The seed box of a tab: a whole number from 0 to MAX_SEED (the same seed gives the same result)."""
    return gr.Number(value=value, precision=0, minimum=0, maximum=MAX_SEED, label="seed")


def examples_file(name: str) -> str | None:
    """A bundled example (assets/examples/NAME) for gr.Examples; None when the checkout lacks it."""
    path = EXAMPLES / name
    return str(path) if path.is_file() else None
