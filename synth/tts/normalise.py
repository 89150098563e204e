"""Text as typed -> text as read aloud, in the characters the speech model knows.

What people type holds numbers, money, times, abbreviations and symbols that a character model
trained on written-out prose (the CMU ARCTIC prompts) has never seen. ``normalise`` writes them
out as words ("Dr. Smith paid $5 at 3 pm" -> "doctor smith paid five dollars at three pee em."),
maps punctuation onto the few marks the corpus has, and refuses, with ``UnreadableTextError``
naming every such character, what it cannot read (other scripts, emoji, unknown symbols).
``split_sentences`` cuts long text into sentences the model reads one at a time.
"""
from __future__ import annotations

import re
import unicodedata

from synth.errors import InputError
from synth.models.tts import CHARACTERS
from synth.tts import numbers

#: Longest text ``normalise`` accepts (characters as typed).
MAX_TEXT_CHARS = 2000
#: Longest sentence read in one piece (normalised characters); longer ones are cut at commas or words.
MAX_SENTENCE_CHARS = 160


class UnreadableTextError(InputError):
    """Text holds characters the speech model cannot read, even after normalisation."""

    def __init__(self, characters: list[str]):
        self.characters = characters
        named = ", ".join(f"{c!r} ({unicodedata.name(c, 'unnamed character')})" for c in characters)
        super().__init__(f"the text has characters that cannot be read aloud: {named}. Allowed: English letters, "
                         "digits, spaces, common punctuation (. , ; : ! ? ' \" - ( )), and $ £ € % & + = @ #")


_LETTER_NAMES = dict(zip("abcdefghijklmnopqrstuvwxyz", (
    "ay bee see dee ee ef gee aitch eye jay kay el em en oh pee cue ar ess tee you vee double-you ex why zed").split()))
_LETTER_NAMES["z"] = "zee"


def spell(letters: str) -> str:
    """'BBC' -> 'bee bee see': letters read by name."""
    return " ".join(_LETTER_NAMES[c] for c in letters.lower() if c in _LETTER_NAMES)


# -- abbreviations --------------------------------------------------------------------------------
#: Titles: always before a name, so their period never ends a sentence.
_TITLES = {"Mr": "mister", "Mrs": "missus", "Ms": "miz", "Prof": "professor", "Capt": "captain", "Gen": "general",
           "Lt": "lieutenant", "Col": "colonel", "Sgt": "sergeant", "Rev": "reverend", "Hon": "honourable",
           "Fr": "father", "Gov": "governor", "Sen": "senator", "Rep": "representative", "Mt": "mount"}
#: Abbreviations that may end a sentence (their period then stays as the full stop).
_ABBREVIATIONS = {"etc": "et cetera", "vs": "versus", "Jr": "junior", "Sr": "senior", "Inc": "incorporated",
                  "Ltd": "limited", "Co": "company", "Corp": "corporation", "Ave": "avenue", "Rd": "road",
                  "Blvd": "boulevard", "approx": "approximately", "dept": "department", "Dept": "department",
                  "min": "minutes", "hr": "hours", "hrs": "hours", "sec": "seconds", "ft": "feet", "lb": "pounds",
                  "lbs": "pounds", "oz": "ounces", "e.g": "for example", "i.e": "that is"}
_MONTHS = ("January February March April May June July August September October November December").split()
_MONTH_ABBREVIATIONS = {m[:3]: m for m in _MONTHS} | {"Sept": "September"}
#: Units after a number: symbol -> (singular, plural).
_UNITS = {"km": ("kilometre", "kilometres"), "m": ("metre", "metres"), "cm": ("centimetre", "centimetres"),
          "mm": ("millimetre", "millimetres"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
          "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometre per hour", "kilometres per hour"),
          "kb": ("kilobyte", "kilobytes"), "mb": ("megabyte", "megabytes"), "gb": ("gigabyte", "gigabytes"),
          "ms": ("millisecond", "milliseconds"), "s": ("second", "seconds"), "h": ("hour", "hours"),
          "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"), "°c": ("degree celsius", "degrees celsius"),
          "°f": ("degree fahrenheit", "degrees fahrenheit"), "°": ("degree", "degrees")}
_CURRENCIES = {"$": (("dollar", "dollars"), ("cent", "cents")), "£": (("pound", "pounds"), ("penny", "pence")),
               "€": (("euro", "euros"), ("cent", "cents")), "¥": (("yen", "yen"), ("sen", "sen"))}
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number ",
            "×": " times ", "½": " and a half ", "¼": " and a quarter ", "¾": " and three quarters "}
#: Punctuation the corpus lacks, mapped onto what it has (or dropped: quotes, emphasis marks).
_PUNCTUATION = {"?": ".", "!": ".", ":": ",", "(": ",", ")": ",", "[": ",", "]": ",", "{": ",", "}": ",",
                "\u2014": ",", "\u2013": ",", "\u2026": ".", "\"": " ", "\u201c": " ", "\u201d": " ", "*": " ",
                "_": " ", "~": " ", "/": " ", "\\": " ", "|": ",", "<": " ", ">": " ", "`": "'", "\u2018": "'",
                "\u2019": "'", "\u00ab": " ", "\u00bb": " ", "^": " "}
_SCALE_WORDS = r"(thousand|million|billion|trillion)"
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _cardinal_text(text: str) -> str:
    """A whole number as typed: '007' is read digit by digit, '1,500' as fifteen hundred's words."""
    if len(text) > 1 and text.startswith("0"):
        return numbers.digits(text)
    return numbers.cardinal(_number(text))


def _ampm(text: str) -> str:
    return spell(text.replace(".", "").replace(" ", ""))


def _money(match: re.Match) -> str:
    unit, subunit = _CURRENCIES[match["currency"]]
    whole, fraction, scale = match["whole"], match["fraction"], match["scale"]
    if scale:  # "$1.5 million" -> one point five million dollars
        amount = numbers.decimal(whole.replace(",", ""), fraction) if fraction else _cardinal_text(whole)
        return f" {amount} {scale} {unit[1]} "
    cents = None
    if fraction:
        if len(fraction) != 2:
            return f" {numbers.decimal(whole.replace(',', ''), fraction)} {unit[1]} "
        cents = int(fraction)
    return f" {numbers.money(_number(whole), cents, unit, subunit)} "


def _time(match: re.Match) -> str:
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    if hours > 24 or minutes > 59:
        return f" {numbers.cardinal(hours)} {numbers.cardinal(minutes)} "
    if match["ampm"]:  # "3 pm", "3:30 pm": no "o'clock" beside "pm"
        spoken = numbers.time_of_day(hours, minutes) if minutes else numbers.cardinal(hours)
        return f" {spoken} {_ampm(match['ampm'])} "
    return f" {numbers.time_of_day(hours, minutes)} "


def _unit(match: re.Match) -> str:
    singular, plural = _UNITS[match["unit"].lower()]
    value = match["value"]
    if "." in value:
        whole, fraction = value.split(".")
        return f" {numbers.decimal(whole.replace(',', ''), fraction)} {plural} "
    return f" {_cardinal_text(value)} {singular if _number(value) == 1 else plural} "


def _decade(match: re.Match) -> str:
    spoken = numbers.year(int(match["decade"]))
    return " " + (spoken[:-1] + "ies" if spoken.endswith("y") else spoken + "s") + " "


def _expand_numbers(text: str) -> str:
    text = re.sub(r"(?<![\w,.)])-(?=\.?\d)", " minus ", text)  # -5, not 5-10 (a range)
    currency = "".join(re.escape(c) for c in _CURRENCIES)
    text = re.sub(rf"(?P<currency>[{currency}])\s?(?P<whole>{_NUMBER})(?:\.(?P<fraction>\d+))?(?:\s(?P<scale>{_SCALE_WORDS}))?\b",
                  _money, text)
    # "a.m." keeps its last period as the full stop when it ends a sentence.
    ampm = r"(?P<ampm>[aApP]\.?\s?[mM](?:\.(?!\s+[A-Z]|\s*$))?)(?![a-zA-Z])"
    text = re.sub(rf"\b(?P<hours>\d{{1,2}}):(?P<minutes>\d{{2}})(?:\s?{ampm})?", _time, text)
    text = re.sub(rf"\b(?P<hours>\d{{1,2}})(?P<minutes>)\s?{ampm}", _time, text)
    text = re.sub(r"\b(?P<decade>1\d{2}0|20\d0)'?s\b", _decade, text)
    units = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
    text = re.sub(rf"\b(?P<value>{_NUMBER}(?:\.\d+)?)\s?(?P<unit>{units})(?![\w/])", _unit, text, flags=re.IGNORECASE)
    text = re.sub(r"\b(\d+)\s?(st|nd|rd|th)\b", lambda m: f" {numbers.ordinal(int(m[1]))} ", text, flags=re.IGNORECASE)
    month = "|".join(_MONTHS)
    text = re.sub(rf"\b(?P<month>{month})\s(?P<day>\d{{1,2}})\b(?!:)",
                  lambda m: f"{m['month']} {numbers.ordinal(int(m['day']))}" if 1 <= int(m["day"]) <= 31 else m[0], text)
    text = re.sub(r"(?<![\d,.])(?P<a>1\d{3}|20\d{2})\s?[-\u2013]\s?(?P<b>1\d{3}|20\d{2})(?![\d,])",
                  lambda m: f" {numbers.year(int(m['a']))} to {numbers.year(int(m['b']))} ", text)
    # Years: a lone four-digit number from 1000 to 2099 (not part of a longer number or amount).
    text = re.sub(r"(?<![\d,.])(?P<year>1\d{3}|20\d{2})(?![\d,]|\.\d)", lambda m: f" {numbers.year(int(m['year']))} ", text)
    text = re.sub(rf"(?<![\d,])(?P<a>{_NUMBER})\s?[-\u2013]\s?(?P<b>{_NUMBER})(?![\d,])",
                  lambda m: f" {_cardinal_text(m['a'])} to {_cardinal_text(m['b'])} ", text)
    text = re.sub(rf"(?<![\d,])(?P<whole>{_NUMBER})?\.(?P<fraction>\d+)",
                  lambda m: f" {numbers.decimal((m['whole'] or '').replace(',', ''), m['fraction'])} ", text)
    text = re.sub(rf"(?P<n>{_NUMBER})", lambda m: f" {_cardinal_text(m['n'])} ", text)
    return text


def _expand_abbreviations(text: str) -> str:
    titles = "|".join(_TITLES)
    # Titles before a name; without their period only the common ones (Mr Smith), as "Col" or "Gen" alone are not titles.
    text = re.sub(rf"\b({titles})\.(?=\s+[A-Z])", lambda m: _TITLES[m[1]], text)
    text = re.sub(r"\b(Mr|Mrs|Ms)(?=\s+[A-Z])", lambda m: _TITLES[m[1]], text)
    # Dr. / St. before a name are a title; elsewhere (Baker St.) a street name.
    text = re.sub(r"\bDr\.?(?=\s+[A-Z])", "doctor", text)
    text = re.sub(r"\bSt\.?(?=\s+[A-Z])", "saint", text)
    text = re.sub(r"\bDr\.", "drive.", text)
    text = re.sub(r"\bSt\.", "street.", text)
    text = re.sub(r"\bNo\.\s?(?=\d)", "number ", text)
    months = "|".join(_MONTH_ABBREVIATIONS)
    text = re.sub(rf"\b({months})\.(?=\s)", lambda m: _MONTH_ABBREVIATIONS[m[1]], text)
    for short, long in _ABBREVIATIONS.items():
        # The period stays when the abbreviation ends the sentence (end of text, or a capital follows).
        text = re.sub(rf"(?<![\w.]){re.escape(short)}\.(?=\s+[A-Z]|\s*$)", long + ".", text)
        text = re.sub(rf"(?<![\w.]){re.escape(short)}\.", long, text)
    # Dotted initialisms (U.S.A., U.K.) and capitals without vowels (BBC, NHS) are spelled out.
    text = re.sub(r"\b((?:[A-Za-z]\.){2,})", lambda m: " " + spell(m[1]) + " ", text)
    text = re.sub(r"\b([B-DF-HJ-NP-TV-XZ]{2,5})\b", lambda m: spell(m[1]), text)
    return text


def _ascii_letters(text: str) -> str:
    """Latin letters with accents lose them (café -> cafe); other characters are left alone, so
    that the check can name them."""
    out = []
    for c in unicodedata.normalize("NFC", text):
        base = unicodedata.normalize("NFKD", c)
        stripped = "".join(b for b in base if not unicodedata.combining(b))
        out.append(stripped if stripped.isascii() and stripped.isalpha() else c)
    return "".join(out).replace("\u00df", "ss").replace("\u00e6", "ae").replace("\u0153", "oe").replace("\u00f8", "o")


def normalise(text: str) -> str:
    """Text as typed -> lower-case words and the marks in ``CHARACTERS``, ending with a full stop.

    Raises InputError for text that is not a string, empty or longer than MAX_TEXT_CHARS, and
    UnreadableTextError naming the characters it cannot read.
    """
    if not isinstance(text, str):
        raise InputError(f"the text must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"the text is {len(text)} characters long; at most {MAX_TEXT_CHARS} are read at once")
    if not text.strip():
        raise InputError("the text is empty: give at least one word to say")
    for fraction in "\u00bd\u00bc\u00be":  # before NFKC, which would write them as 1/2 with a fraction slash
        text = text.replace(fraction, _SYMBOLS[fraction])
    text = _ascii_letters(unicodedata.normalize("NFKC", text))
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*-{2,}\s*|\s+-\s+", ", ", text)  # a dash between words is a pause, as a comma is
    text = _expand_abbreviations(text)
    text = _expand_numbers(text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    for mark, replacement in _PUNCTUATION.items():
        text = text.replace(mark, replacement)
    text = text.replace("$", " dollars ").replace("£", " pounds ").replace("€", " euros ")
    unknown = sorted({c for c in text if c.lower() not in CHARACTERS and not c.isspace()})
    if unknown:
        raise UnreadableTextError(unknown)
    text = text.lower()
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;])", r"\1", text)  # no space before a mark
    text = re.sub(r"([,;])(?:[\s,;]*[,;])+", r"\1", text)  # ", ," -> ","
    text = re.sub(r"[,;]?\s*\.[\s.,;]*(?=\.|$)", ".", text)  # ", ." and "..." -> "."
    text = re.sub(r"\.(?:[\s,;]*\.)+", ".", text)
    text = re.sub(r"(^|\s)'+|'+(?=\s|$|[,.;])", r"\1", text)  # quotes made of apostrophes, not contractions
    text = re.sub(r"\s+", " ", text).strip(" ,;-")
    text = re.sub(r"^[.,;\s]+", "", text)
    if not re.search(r"[a-z]", text):
        raise InputError("the text has nothing to say: no letters or numbers are left after normalisation")
    if not text.endswith("."):
        text = text.rstrip(",;- ") + "."
    return text


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Normalised text -> sentences, each ending with '.', none longer than ``max_chars``
    (a longer one is cut at its last comma or semicolon that fits, else at a space)."""
    if max_chars < 20:
        raise InputError(f"max_chars must be at least 20, got {max_chars}")
    sentences = []
    for piece in re.split(r"(?<=\.)\s+", text.strip()):
        piece = piece.strip()
        while len(piece) > max_chars:
            head = piece[:max_chars]
            cut = max(head.rfind(", "), head.rfind("; "))
            cut = cut + 1 if cut > max_chars // 3 else head.rfind(" ")
            if cut <= 0:
                cut = max_chars
            sentences.append(piece[:cut].rstrip(" ,;") + ".")
            piece = piece[cut:].strip()
        if piece and re.search(r"[a-z]", piece):
            sentences.append(piece if piece.endswith(".") else piece + ".")
    return sentences
