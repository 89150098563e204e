"""Pictures of speech read from text: the log-mel spectrogram the network made and its attention
window over the characters (as Graves 2013, figure 12, draws it for handwriting), as PNG files."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mel_figure(path: str | Path, mel: np.ndarray, *, frames_per_second: float, title: str = "log-mel spectrogram") -> Path:
    """mel (n_mels, F) natural-log magnitudes -> a PNG: time to the right, low bands at the bottom."""
    plt = _pyplot()
    mel = np.asarray(mel, dtype=np.float32)
    fig, ax = plt.subplots(figsize=(max(6.0, mel.shape[1] / 60), 3.0))
    seconds = mel.shape[1] / frames_per_second
    image = ax.imshow(mel, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                      extent=(0.0, seconds, 0, mel.shape[0]), vmin=max(float(mel.min()), float(mel.max()) - 9.0))
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel band")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="log magnitude")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def attention_figure(path: str | Path, phi: np.ndarray, text: str, *, frames_per_step: int = 1) -> Path:
    """phi (steps, len(text) + 1): the window's weight on each character (and one past the end)
    at each decoder step -> a PNG, characters downwards, steps to the right."""
    plt = _pyplot()
    phi = np.asarray(phi, dtype=np.float32)
    fig, ax = plt.subplots(figsize=(max(6.0, phi.shape[0] / 30), 1.5 + 0.09 * phi.shape[1]))
    ax.imshow(phi.T, aspect="auto", origin="upper", cmap="viridis", interpolation="nearest")
    labels = [c if c != " " else "\u2423" for c in text] + ["end"]
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_xlabel(f"decoder step ({frames_per_step} frames each)")
    ax.set_title("attention window phi(t, u)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
