"""The handwriting judge: character error rate by hand, the print floor, and the OCR itself."""
import importlib.util

import numpy as np
import pytest

from synth.errors import InputError
from synth.handwriting.legibility import character_error_rate, normalise_text, printed_image

HAS_OCR = all(importlib.util.find_spec(m) is not None for m in ("easyocr", "easyocr_en_models"))


def test_character_error_rate_is_edits_over_reference_characters_after_folding_case_and_spaces():
    # "the cat" vs "The  cap": case and the doubled space are ignored; one substitution in 7 characters
    assert character_error_rate(["the cat"], ["The  cap"]) == pytest.approx(1 / 7)
    # over lines: (1 deletion + 2 insertions) / (3 + 2) reference characters
    assert character_error_rate(["abc", "de"], ["ab", "dexy"]) == pytest.approx(3 / 5)
    assert character_error_rate(["abc"], [""]) == pytest.approx(1.0)  # nothing read: every character missed
    assert normalise_text("  A\tB  c ") == "a b c"
    with pytest.raises(InputError, match="2 references for 1 readings"):
        character_error_rate(["a", "b"], ["a"])


def test_printed_lines_are_dark_text_on_a_white_page_at_line_height():
    image = printed_image("Sphinx of black quartz, judge my vow.", height_px=48)
    assert image.dtype == np.uint8 and image.ndim == 2 and image.shape[0] >= 48
    assert image.shape[1] > 4 * image.shape[0]  # a long line is wide
    assert (image < 128).mean() > 0.02 and image[0].min() == 255 and image[:, 0].min() == 255  # ink, white margins


@pytest.mark.skipif(not HAS_OCR, reason="needs the 'ocr' extra")
def test_the_ocr_reads_print_almost_perfectly_and_scribble_not_at_all():
    from synth.handwriting.legibility import printed_legibility, read_image

    texts = ["Pack my box with five dozen liquor jugs.", "Our meeting moved to room 204 on Monday."]
    result = printed_legibility(texts)
    assert result["lines"] == 2 and result["cer"] < 0.1, result["readings"]
    noise = np.where(np.random.default_rng(0).random((48, 400)) < 0.5, 0, 255).astype(np.uint8)
    assert character_error_rate(["Pack my box"], [read_image(noise)]) > 0.5
