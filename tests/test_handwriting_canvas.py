"""The handwriting canvas in a real browser (Debian's headless Chromium, driven by Playwright): a
line drawn with the mouse comes out as timed strokes JSON that the library accepts as a primer.
Skipped where Chromium or Playwright is missing."""
import json

import pytest

from synth.errors import InputError
from synth.handwriting.canvas import STROKES_ELEMENT_ID, canvas_page
from synth.handwriting.styles import strokes_primer
from synth.models.handwriting import HandwritingConfig

from chromium import draw_on_canvas, launch, playwright_api

pytestmark = pytest.mark.browser

CONFIG = HandwritingConfig(hidden_size=8, n_layers=1, alphabet=" ilu", points_per_char=10.0,
                           line_height=1.0, point_spacing=0.1)


@pytest.fixture(scope="module")
def page():
    with playwright_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1000, "height": 400})
        page.set_content(canvas_page())
        yield page
        browser.close()


def strokes_json(page) -> str:
    return page.input_value(f"#{STROKES_ELEMENT_ID}")


def test_a_line_drawn_with_the_mouse_becomes_timed_strokes_the_library_accepts(page):
    page.click("#hand-canvas-clear")
    # "ill u": an i (stem and dot), two l's, a space, a u; 30 px x-height
    strokes = [[(20, 100), (22, 70)], [(21, 55), (22, 56)], [(40, 100), (46, 40)], [(60, 100), (66, 40)],
               [(100, 70), (102, 100), (118, 100), (120, 70), (121, 100)]]
    draw_on_canvas(page, strokes)
    data = json.loads(strokes_json(page))
    assert len(data["strokes"]) == 5
    times = [point[2] for stroke in data["strokes"] for point in stroke]
    assert times == sorted(times) and times[-1] > 0  # real, increasing pen times
    assert data["strokes"][0][0][:2] == pytest.approx([20, 100], abs=1.5)
    ink = strokes_primer(strokes_json(page), "ill u", CONFIG)
    assert ink.text == "ill u" and len(ink.strokes) == 5


def test_undo_and_clear_change_what_the_field_holds(page):
    page.click("#hand-canvas-clear")
    draw_on_canvas(page, [[(10, 50), (60, 80)], [(80, 50), (120, 90)]])
    assert len(json.loads(strokes_json(page))["strokes"]) == 2
    page.click("#hand-canvas-undo")
    assert len(json.loads(strokes_json(page))["strokes"]) == 1
    page.click("#hand-canvas-clear")
    assert strokes_json(page) == ""
    with pytest.raises(InputError, match="no strokes; write a line"):
        strokes_primer(strokes_json(page), "ill", CONFIG)
