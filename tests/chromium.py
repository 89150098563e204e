"""Debian's headless Chromium driven by Playwright, shared by the browser tests: where Chromium is,
how it is launched, and drawing on the handwriting canvas with the mouse. Importing this module
skips the importing test module where Chromium or Playwright is missing."""
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SYNTH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

playwright_api = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium)", allow_module_level=True)


def launch(playwright):
    """The system Chromium (no `playwright install`), headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def draw_on_canvas(page, strokes, selector: str = "#hand-canvas") -> None:
    """Each stroke, a list of (x, y) in the canvas's CSS pixels, drawn with the mouse: pressed,
    moved through its points, released."""
    canvas = page.locator(selector)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
        page.mouse.up()
