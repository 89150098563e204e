"""The Handwriting tab: text written by Graves's synthesis network in a bundled style
(``write_handwriting``) or in the user's own hand from the pen canvas (``write_in_my_hand``), the
ink drawn in pen order, with its files and the attention picture."""
from __future__ import annotations

import time

import gradio as gr

from synth.app.page import model_line, seed_box
from synth.app.serving import log, request_dir, save_png, user_errors
from synth.errors import SynthError
from synth.services.bounds import APP


NO_STYLE = "(none: the model's own hand)"


def handwriting_styles() -> list[tuple[str, bytes, str]]:
    """(name, PNG, caption) of the bundled styles; [] when there are none or they cannot be read."""
    from synth.services.handwriting import style_pictures

    try:
        return style_pictures()
    except SynthError as exc:  # a damaged styles file leaves the gallery empty; writing says why
        log.warning("styles: %s", exc)
        return []


def _written(request, progress, note: str = ""):
    """Run a handwriting request (a thunk over the service) and yield (ink PNG, [SVG, PNG, GIF,
    JSON], attention PNG, status); the ink is drawn in pen order before the files come."""
    from synth.services import handwriting

    progress(0.0, desc="writing")
    started = time.perf_counter()
    result = request()
    took = time.perf_counter() - started
    folder = request_dir()
    drawn = handwriting.drawing(result, frames=4)  # the pen's path, a quarter at a time
    for step, png in enumerate(drawn, 1):
        progress(step / (len(drawn) + 1), desc="drawing")
        yield save_png(png, folder, f"ink_{step}.png"), gr.skip(), gr.skip(), gr.skip()
    files = [str(handwriting.save_ink(result, folder / f"handwriting{suffix}")) for suffix in (".svg", ".png", ".gif", ".json")]
    attention = handwriting.attention_picture(result, folder / "attention.png")
    failed = [line.text for line in result.lines if line.failure]
    total = sum(ink.n_points for ink in handwriting.inks(result))
    status = (f"{len(result.lines)} line(s), {total} pen points in {took:.1f} s{note}; {result.retries} resampled"
              + (f"; still imperfect: {failed}" if failed else ""))
    yield files[1], files, str(attention) if attention else None, status


@user_errors
def write_handwriting(text: str, style: str | None, bias: float, seed: int, progress=gr.Progress()):
    """Text to handwriting with the Graves synthesis network, in a bundled style or none."""
    from synth.services import handwriting

    yield from _written(lambda: handwriting.write(text, style=None if style in (None, "", NO_STYLE) else style,
                                                  bias=bias, seed=int(seed), record=True, limits=APP), progress)


@user_errors
def write_in_my_hand(strokes: str, written: str, text: str, bias: float, seed: int, progress=gr.Progress()):
    """The text continued in the hand of a line the user wrote on the canvas (Graves 2013, 5.5):
    strokes JSON (the canvas's), the words written there, the text to write."""
    from synth.services import handwriting

    yield from _written(lambda: handwriting.write(text, strokes=strokes or "", style_text=written, bias=bias,
                                                  seed=int(seed), record=True, limits=APP),
                        progress, note=", in your hand")


def handwriting_terms() -> str:
    """The model's data terms for the page (IAM-OnDB: non-commercial research use only)."""
    from synth.services.handwriting import data_terms

    terms = data_terms()
    return f"Data and licence: {terms}" if terms else ""


def handwriting_tab() -> None:
    from synth.handwriting.canvas import CANVAS_JS, STROKES_ELEMENT_ID, canvas_html

    gr.Markdown("Text to handwriting with Graves's synthesis network (2013), in a bundled style or in your own "
                "hand.\n\n" + model_line("handwriting") + "\n\n" + handwriting_terms())
    styles = handwriting_styles()
    names = [NO_STYLE] + [name for name, _, _ in styles]
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label=f"text to write (at most {APP.handwriting_chars} characters)",
                              value="synth writes by hand", max_lines=4, elem_id="handwriting-text")
            bias = gr.Slider(0.0, 5.0, value=1.0, step=0.1, label="bias (0 = as trained, higher = neater)")
            seed = seed_box()
            with gr.Tab("Bundled styles", id="bundled-styles"):
                style = gr.Dropdown(names, value=names[1] if len(names) > 1 else NO_STYLE, label="style",
                                    allow_custom_value=True)
                if styles:
                    folder = request_dir()
                    pictures = [(save_png(png, folder, f"style_{i}.png"), caption) for i, (_, png, caption) in enumerate(styles)]
                    gallery = gr.Gallery(pictures, label="bundled styles, each a line with its own text (click one to choose it)",
                                         columns=2, object_fit="contain", height="auto", allow_preview=False,
                                         elem_id="handwriting-gallery")

                    def choose(event: gr.SelectData) -> str:
                        return names[1 + event.index]

                    gallery.select(choose, None, style, api_name=False)
                with gr.Row():
                    go = gr.Button("Write", variant="primary", elem_id="write")
                    stop = gr.Button("Stop", variant="stop")
                gr.Examples([["the quick brown fox", names[-1], 1.0, 1], ["Hello, world!", NO_STYLE, 2.0, 5]],
                            [text, style, bias, seed], label="examples")
            with gr.Tab("Your own hand", id="own-hand"):
                gr.Markdown("Write one line of a few words below with the mouse, a finger or a pen, type exactly "
                            "what you wrote, and the model writes the text above in your hand.")
                gr.HTML(canvas_html(), js_on_load=CANVAS_JS, elem_id="hand-canvas-html")
                strokes = gr.Textbox(visible="hidden", elem_id=STROKES_ELEMENT_ID)
                written = gr.Textbox(label="what you wrote on the canvas", max_lines=1, elem_id="hand-written")
                with gr.Row():
                    mine = gr.Button("Write in my hand", variant="primary", elem_id="write-mine")
                    stop_mine = gr.Button("Stop", variant="stop")
        with gr.Column():
            ink = gr.Image(label="ink (drawn in pen order)", type="filepath", elem_id="ink")
            files = gr.File(label="SVG / PNG / GIF / JSON", file_count="multiple", elem_id="handwriting-files")
            attention = gr.Image(label="attention: which character the window reads at each pen point",
                                 type="filepath", elem_id="attention")
            status = gr.Markdown(elem_id="handwriting-status")
    event = go.click(write_handwriting, [text, style, bias, seed], [ink, files, attention, status],
                     api_name="write_handwriting", concurrency_id="handwriting", concurrency_limit=2)
    stop.click(None, None, None, cancels=[event], api_name=False)
    own = mine.click(write_in_my_hand, [strokes, written, text, bias, seed], [ink, files, attention, status],
                     api_name="write_in_my_hand", concurrency_id="handwriting", concurrency_limit=2)
    stop_mine.click(None, None, None, cancels=[own], api_name=False)
