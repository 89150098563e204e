"""The synth app (Gradio): Speech (text to speech first), Piano, Handwriting and Composer tabs over the library.

    python3 app.py            # then open http://127.0.0.1:7860 (SYNTH_HOST / SYNTH_PORT to change)

Thin over the services (``synth.services``): every request goes to the service for its tab, under
the app's limits (``bounds.APP``). Each tab's requests and layout are a module of ``synth.app``
(``speech``, ``piano``, ``handwriting``, ``composer``), which stream what comes back and turn the
library's typed errors into messages (``synth.app.serving``); this file puts the tabs on one page,
queues and launches it. Every function has a named API endpoint (``gradio_client``); a shared queue
bounds concurrent work. Uploads and everything written live in the app's own temporary folder
($GRADIO_TEMP_DIR); requests naming any other file are refused.
"""
from __future__ import annotations

import logging
import os
import time

# First: synth.app gives the app its own temporary folder before Gradio reads $GRADIO_TEMP_DIR.
from synth.app import composer, handwriting, piano, speech
from synth.app.page import EXAMPLES
from synth.app.serving import KEEP_OUTPUTS_SECONDS, log, user_errors

import gradio as gr  # noqa: E402  (after synth.app, for the reason above)

from synth.services import models  # noqa: E402

MAX_UPLOAD = "60mb"
QUEUE_SIZE = 64


@user_errors
def models_info() -> dict:
    """Which bundled checkpoints this app found, for API users and the page."""
    from synth.device import pick_device

    return {"assets": str(models.assets_dir()), "device": str(pick_device()),
            "models": {role: models.model_status(role) for role in models.ROLES}}


def build_app() -> gr.Blocks:
    with gr.Blocks(title="synth", delete_cache=(600, KEEP_OUTPUTS_SECONDS)) as app:
        gr.Markdown("# synth\nSound, handwriting and music from classic autoregressive models "
                    "(WaveNet, Graves's handwriting LSTM, an LSTM composer), on the bundled checkpoints.")
        with gr.Tabs() as tabs:
            with gr.Tab("Speech", id="speech"):
                speech.speech_tab()
            with gr.Tab("Piano", id="piano"):
                piano_midi = piano.piano_tab()
            with gr.Tab("Handwriting", id="handwriting"):
                handwriting.handwriting_tab()
            with gr.Tab("Composer", id="composer"):
                composer.composer_tab(piano_midi, tabs)
        info = gr.JSON(visible=False)
        gr.Button("models", visible=False).click(models_info, None, info, api_name="models")
    return app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)


def warm_up() -> None:
    """Load every present checkpoint and FluidSynth's SoundFont (seconds for the sf3) ahead of the
    first request; run in the background at launch."""
    from synth.services.piano import warm_up as warm_up_fluidsynth

    started = time.perf_counter()
    try:
        models_info()
        warm_up_fluidsynth()
    except Exception as exc:  # a missing model or SoundFont is reported by the request that needs it
        log.info("warm-up incomplete: %s", exc)
    log.info("warm-up done in %.1f s", time.perf_counter() - started)


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kwargs):
    return app.launch(server_name=host, server_port=port, max_file_size=MAX_UPLOAD,
                      allowed_paths=[str(EXAMPLES)], **kwargs)


if __name__ == "__main__":
    import threading

    logging.basicConfig(level=logging.INFO)
    threading.Thread(target=warm_up, daemon=True).start()
    launch(build_app(), os.environ.get("SYNTH_HOST", "127.0.0.1"), int(os.environ.get("SYNTH_PORT", "7860")))
