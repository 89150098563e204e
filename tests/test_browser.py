"""A real browser (Debian's headless Chromium, driven by Playwright) opens the app, generates in
each tab and sees the result. Screenshots are kept under test-artifacts/browser/ (git-ignored).

Needs Debian's `chromium` and PyPI `playwright` (no `playwright install`: the system Chromium is
used); skipped where either is missing."""
import os
import shutil
from pathlib import Path

import pytest

from app_assets import HANDWRITING_CODE, make_tiny_assets, serve_app

CHROMIUM = os.environ.get("SYNTH_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 90_000
pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    yield from serve_app(make_tiny_assets(tmp_path_factory.mktemp("assets")))


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
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


def wait_for_text(page, selector: str, words: str) -> str:
    page.wait_for_function("([s, w]) => (document.querySelector(s)?.innerText || '').includes(w)",
                           arg=[selector, words], timeout=TIMEOUT_MS)
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
        wait_for_text(page, "#handwriting-status", "line(s)")
        page.wait_for_selector("#ink img[src]")
        page.wait_for_selector("#attention img[src]")
        page.wait_for_selector("#handwriting-files a[download='handwriting.svg']")
    else:
        assert "Missing model" in page.inner_text("body")
        page.get_by_text("handwriting model is missing").first.wait_for()
