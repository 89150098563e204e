"""A real browser (Debian's headless Chromium, driven by Playwright) opens the app, generates in
each tab and sees the result; in the handwriting tab it writes a line on the canvas with the
mouse and the bundled model continues the text in that hand. Screenshots are kept under
test-artifacts/browser/ (git-ignored).

Needs Debian's `chromium` and PyPI `playwright` (no `playwright install`: the system Chromium is
used); skipped where either is missing."""
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app_assets import HANDWRITING_CODE, make_tiny_assets, serve_app
from chromium import draw_on_canvas, launch, playwright_api

#: The bundled handwriting model (in the repository, so in CI): the canvas test needs one that writes.
BUNDLED_HANDWRITING = Path(__file__).resolve().parents[1] / "assets" / "handwriting"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
TIMEOUT_MS = 90_000
#: A line from the bundled handwriting model, drawn in pen order, then its SVG, PNG, GIF and attention
#: picture: seconds on an idle CPU, minutes when training jobs hold the cores.
HANDWRITING_TIMEOUT_MS = 300_000
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    assets = make_tiny_assets(tmp_path_factory.mktemp("assets"))
    if HANDWRITING_CODE and (BUNDLED_HANDWRITING / "config.json").is_file():
        shutil.rmtree(assets / "handwriting", ignore_errors=True)
        shutil.copytree(BUNDLED_HANDWRITING, assets / "handwriting")
    yield from serve_app(assets)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, served_app, request):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(served_app)
    page.wait_for_selector("#speech-generate")
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def wait_for_text(page, selector: str, words: str, timeout_ms: int = TIMEOUT_MS) -> str:
    page.wait_for_function("([s, w]) => (document.querySelector(s)?.innerText || '').includes(w)",
                           arg=[selector, words], timeout=timeout_ms)
    return page.inner_text(selector)


def audio_source(page, selector: str) -> str:
    page.wait_for_selector(f"{selector} audio[src]", state="attached")
    return page.get_attribute(f"{selector} audio[src]", "src")


def test_speech_tab_opens_with_a_text_box_and_say_it(page):
    assert page.locator("#say-text textarea").is_visible()
    assert page.get_by_role("button", name="Say it").is_visible()
    page.get_by_text("text-to-speech model is missing").first.wait_for()  # no text-to-mel model in these assets


def test_speech_tab_generates_and_shows_audio_and_spectrogram(page):
    page.click("#speech-generate")
    status = wait_for_text(page, "#speech-status", "at 16000 Hz")
    assert "1.00 s" in status
    assert "127.0.0.1" in audio_source(page, "#speech-wav")
    page.wait_for_selector("#speech-spectrogram img[src]")


def test_speech_tab_resynthesises_the_example_clip_side_by_side(page):
    page.get_by_text("welcome_allison.wav").first.click()  # the example row loads the clip
    page.wait_for_selector("#clip audio[src]", state="attached")
    page.click("#resynthesise")
    wait_for_text(page, "#resynthesis-status", "resynthesised")
    page.wait_for_selector("#original-spectrogram img[src]")
    page.wait_for_selector("#resynthesis-spectrogram img[src]")


def test_piano_tab_plays_an_example_through_the_wavenet_and_fluidsynth(page):
    open_tab(page, "Piano")
    page.get_by_text("c_major_scale.mid").first.click()
    page.locator("#piano-midi").get_by_text("c_major_scale").first.wait_for()
    page.click("#piano-play")
    wait_for_text(page, "#fluidsynth-status", "FluidSynth")
    wait_for_text(page, "#piano-status", "s")
    assert "127.0.0.1" in audio_source(page, "#piano-wav")
    page.wait_for_selector("#piano-roll img[src]")


def test_composer_tab_composes_and_shows_roll_midi_and_audio(page):
    open_tab(page, "Composer")
    page.click("#compose")
    status = wait_for_text(page, "#composer-status", "bars at")
    assert "8 bars at 80 bpm" in status  # the default style's tempo (chorales)
    page.wait_for_selector("#composer-roll img[src]")
    assert "127.0.0.1" in audio_source(page, "#composer-wav")
    page.wait_for_selector("#composer-midi a[download='composition.mid']")


def test_handwriting_tab_writes_or_says_its_model_is_missing(page):
    open_tab(page, "Handwriting")
    page.click("#write")
    if HANDWRITING_CODE:
        wait_for_text(page, "#handwriting-status", "line(s)", HANDWRITING_TIMEOUT_MS)
        page.wait_for_selector("#ink img[src]")
        page.wait_for_selector("#attention img[src]")
        page.wait_for_selector("#handwriting-files a[download='handwriting.svg']")
    else:
        assert "Missing model" in page.inner_text("body")
        page.get_by_text("handwriting model is missing").first.wait_for()


def hershey_line(text: str, height_px: float = 60.0, width_px: float = 480.0) -> list[list[tuple[float, float]]]:
    """A line of writing as a pen would draw it: the strokes of a Hershey hand, in canvas pixels."""
    from synth.handwriting.hershey import STYLES, handwrite

    ink = handwrite(text, STYLES[0], seed=2, augment=False)
    x0, y0, x1, y1 = ink.bounds()
    scale = min(height_px / (y1 - y0), width_px / (x1 - x0))
    return [[(20 + (x - x0) * scale, 40 + (y - y0) * scale) for x, y in stroke] for stroke in ink.strokes]


def open_own_hand(page) -> None:
    open_tab(page, "Handwriting")
    page.get_by_role("tab", name="Your own hand").click()
    page.locator("#hand-canvas").wait_for()


@pytest.mark.skipif(not HANDWRITING_CODE, reason="synth.handwriting is not in this build")
def test_a_line_written_on_the_canvas_is_continued_in_that_hand(page):
    open_own_hand(page)
    draw_on_canvas(page, hershey_line("a kind word"))
    assert "strokes" in page.inner_text("#hand-canvas-count")  # the page counted real pen points
    assert "Data and licence:" in page.inner_text("body")  # the model's data and its terms
    page.fill("#hand-written :is(input, textarea)", "a kind word")
    page.fill("#handwriting-text :is(input, textarea)", "written in my hand")
    page.click("#write-mine")
    status = wait_for_text(page, "#handwriting-status", "in your hand", HANDWRITING_TIMEOUT_MS)
    assert "1 line(s)" in status
    page.wait_for_selector("#ink img[src]")
    link = page.locator("#handwriting-files a[download='handwriting.svg']")
    link.wait_for()
    svg = ET.fromstring(page.request.get(link.get_attribute("href")).body())
    paths = [e for e in svg.iter() if e.tag.endswith("path") and e.get("d")]
    assert svg.tag.endswith("svg") and paths  # ink, drawn as paths
    assert sum(path.get("d").count("L") + path.get("d").count("C") + path.get("d").count("Q") for path in paths) > 20
    strokes = page.request.get(page.locator("#handwriting-files a[download='handwriting.json']").get_attribute("href")).json()
    assert [line["text"] for line in strokes["lines"]] == ["written in my hand"]  # the continuation, not the primer


@pytest.mark.skipif(not HANDWRITING_CODE, reason="synth.handwriting is not in this build")
def test_a_scribble_on_the_canvas_gets_a_clear_message(page):
    open_own_hand(page)
    draw_on_canvas(page, [[(30, 60), (34, 70)], [(40, 60), (41, 66)]])
    page.fill("#hand-written :is(input, textarea)", "hello")
    page.click("#write-mine")
    page.get_by_text("too little ink").first.wait_for()
    assert "write the whole text in one line" in page.inner_text("body")
    page.click("#hand-canvas-clear")  # the page keeps working: a cleared canvas is refused by name
    page.click("#write-mine")
    page.get_by_text("no strokes; write a line").first.wait_for()
