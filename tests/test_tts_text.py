"""The text front end of text to speech: numbers as words, normalisation of what users type into
the characters the model reads, refusals naming unreadable characters, sentence splitting."""
import pytest

from synth.errors import InputError
from synth.models.tts import CHARACTERS
from synth.tts import numbers
from synth.tts.normalise import MAX_TEXT_CHARS, UnreadableTextError, normalise, split_sentences


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty two"), (100, "one hundred"),
    (115, "one hundred fifteen"), (1000, "one thousand"), (1_000_001, "one million one"),
    (2_345_678, "two million three hundred forty five thousand six hundred seventy eight"), (-3, "minus three"),
])
def test_cardinals(n, words):
    assert numbers.cardinal(n) == words


@pytest.mark.parametrize("n, words", [(1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (12, "twelfth"),
                                      (20, "twentieth"), (21, "twenty first"), (100, "one hundredth")])
def test_ordinals(n, words):
    assert numbers.ordinal(n) == words


@pytest.mark.parametrize("n, words", [(1984, "nineteen eighty four"), (1900, "nineteen hundred"),
                                      (1905, "nineteen oh five"), (2000, "two thousand"), (2007, "two thousand seven"),
                                      (2024, "twenty twenty four"), (1066, "ten sixty six")])
def test_years(n, words):
    assert numbers.year(n) == words


def test_a_number_too_long_to_say_is_read_digit_by_digit():
    assert numbers.cardinal(10 ** 20) == "one" + " zero" * 20


@pytest.mark.parametrize("typed, read", [
    ("Dr. Smith paid $5 at 3 pm.", "doctor smith paid five dollars at three pee em."),
    ("Meet me at 3:30 p.m. on March 3rd, 2024!", "meet me at three thirty pee em on march third, twenty twenty four."),
    ("It costs $1.50, or £3.", "it costs one dollar fifty cents, or three pounds."),
    ("He left in the 1990s.", "he left in the nineteen nineties."),
    ("The 21st century; 100% sure & ready?", "the twenty first century; one hundred percent sure and ready."),
    ("Call 007 now", "call zero zero seven now."),
    ("Mr Brown lives on Baker St.", "mister brown lives on baker street."),
    ("St. Paul is cold: -5°C.", "saint paul is cold, minus five degrees celsius."),
    ("I ran 5 km in 20 min.", "i ran five kilometres in twenty minutes."),
    ("From 1999-2005 we paid $2.5 million.", "from nineteen ninety nine to two thousand five we paid two point five million dollars."),
    ("She said \u201chello\u201d \u2014 then left\u2026", "she said hello, then left."),
    ("Caf\u00e9 au lait costs \u20ac4.20.", "cafe au lait costs four euros twenty cents."),
    ("The BBC and the U.S.A. agree, e.g. on TV.", "the bee bee see and the you ess ay agree, for example on tee vee."),
    ("It's 3.14 or 1,234 or 12:00.", "it's three point one four or one thousand two hundred thirty four or twelve o'clock."),
    ("Pages 5-10 of No. 7", "pages five to ten of number seven."),
    ("Typhoid -- did I tell you.", "typhoid, did i tell you."),
    ("Author of the danger trail, Philip Steels, etc.", "author of the danger trail, philip steels, et cetera."),
])
def test_what_users_type_is_written_out_as_it_is_read(typed, read):
    assert normalise(typed) == read


def test_normalised_text_uses_only_the_models_characters():
    text = normalise("Ready? Set: go! (Now) [quickly] {please} 50% & more @ home #1 = best / worst")
    assert set(text) <= set(CHARACTERS)


def test_characters_that_cannot_be_read_are_named():
    with pytest.raises(UnreadableTextError) as caught:
        normalise("Hi \U0001F600 and \u4f60\u597d")
    assert caught.value.characters == ["\u4f60", "\u597d", "\U0001F600"]
    assert "GRINNING FACE" in str(caught.value) and "CJK UNIFIED IDEOGRAPH-4F60" in str(caught.value)
    assert isinstance(caught.value, InputError)


@pytest.mark.parametrize("text, message", [("", "empty"), (" \n ", "empty"), (None, "string"),
                                           ("a" * (MAX_TEXT_CHARS + 1), f"at most {MAX_TEXT_CHARS}"),
                                           ("... !!!", "nothing to say")])
def test_empty_long_or_wordless_text_is_refused(text, message):
    with pytest.raises(InputError, match=message):
        normalise(text)


def test_sentences_are_split_at_full_stops_and_long_ones_at_commas():
    assert split_sentences("one. two three. four.") == ["one.", "two three.", "four."]
    long = "word " * 10 + "then a comma, " + "and more words " * 8 + "end."
    pieces = split_sentences(long, max_chars=80)
    assert all(len(p) <= 80 and p.endswith(".") for p in pieces)
    assert " ".join(p[:-1] for p in pieces).replace(",", "").split() == long[:-1].replace(",", "").split()
