"""Tiny checkpoints in every role the app and the command use (speech with named speakers, mel
vocoder, piano WaveNet, composer), saved as a folder of bundled assets for SYNTH_ASSETS."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from synth.audio import MelFeatures
from synth.checkpoint import save_checkpoint

from conftest import tiny_wavenet

SPEAKERS = ["alice", "bob"]
#: The tiny vocoder's features: 20 mels, a 64-sample hop (upsample 8 x 8).
TINY_MEL = MelFeatures(n_fft=256, win_length=256, hop_length=64, n_mels=20)


def make_tiny_assets(root: Path, *, composer: bool = True) -> Path:
    root = Path(root)
    save_checkpoint(tiny_wavenet(n_speakers=2), root / "wavenet-speakers", card="# tiny speakers\n",
                    metadata={"speakers": SPEAKERS, "features": {"kind": "none"}})
    save_checkpoint(tiny_wavenet(seed=1, n_speakers=2, cond_channels=TINY_MEL.n_mels, upsample_scales=(8, 8)),
                    root / "wavenet-vocoder", card="# tiny vocoder\n",
                    metadata={"speakers": SPEAKERS, "features": {"kind": "mel", **dataclasses.asdict(TINY_MEL)}})
    save_checkpoint(tiny_wavenet(seed=2, cond_channels=176, upsample_scales=(8, 8)), root / "wavenet-piano",
                    card="# tiny piano\n", metadata={"features": {"kind": "piano_roll", "hop_length": 64,
                                                                   "sample_rate": 16000}})
    if composer:
        import torch

        from synth.models.composer import Composer, ComposerConfig

        torch.manual_seed(0)
        save_checkpoint(Composer(ComposerConfig(hidden_size=16, n_layers=1, nade_hidden=8, steps_per_quarter=2)).eval(),
                        root / "composer", card="# tiny composer\n")
    if HANDWRITING_CODE:
        make_tiny_handwriting(root / "handwriting")
    return root


HANDWRITING_CODE = __import__("importlib").util.find_spec("synth.handwriting") is not None
BUNDLED_STYLES = Path(__file__).resolve().parents[1] / "assets" / "handwriting" / "styles.json"


def make_tiny_handwriting(directory: Path) -> Path:
    """A tiny Graves synthesis network with the bundled styles beside it."""
    import shutil

    import torch

    from synth.models.handwriting import HandwritingConfig, HandwritingSynthesis

    torch.manual_seed(0)
    model = HandwritingSynthesis(HandwritingConfig(hidden_size=16, n_layers=2, n_window=2, n_mixtures=3,
                                                   points_per_char=4.0, offset_std=(0.25, 0.24))).eval()
    save_checkpoint(model, directory, card="# tiny handwriting\n")
    if BUNDLED_STYLES.is_file():
        shutil.copy(BUNDLED_STYLES, directory / "styles.json")
    return directory


SMALL_SOUND_FONT = str(Path(__import__("pretty_midi").__file__).parent / "TimGM6mb.sf2")


def serve_app(assets: Path):
    """Serve the app on a free loopback port with ``assets`` as its bundled checkpoints (and the
    small SoundFont, which loads in a blink). A generator: yields the URL, closes on exit."""
    import os
    import socket

    saved = {k: os.environ.get(k) for k in ("SYNTH_ASSETS", "SYNTH_SOUND_FONT")}
    os.environ["SYNTH_ASSETS"] = str(assets)
    os.environ["SYNTH_SOUND_FONT"] = SMALL_SOUND_FONT
    import app

    demo = app.build_app()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def make_tiny_tts(directory: Path, mel: MelFeatures = TINY_MEL) -> Path:
    """A tiny text-to-mel checkpoint whose frames are ``mel``'s (the tiny vocoder's, by default)."""
    import torch

    from synth.models.tts import TextToMel, TextToMelConfig

    torch.manual_seed(0)
    model = TextToMel(TextToMelConfig(embedding_size=8, encoder_convs=1, encoder_size=8, prenet_sizes=(8, 4),
                                      attention_size=12, decoder_size=12, n_window=2, reduction=2,
                                      frames_per_char=4.0, mel=dataclasses.asdict(mel))).eval()
    model.set_statistics(torch.randn(mel.n_mels) - 5, torch.rand(mel.n_mels) + 0.5, torch.full((mel.n_mels,), -9.0))
    return save_checkpoint(model, directory, card="# tiny text to mel\n")
