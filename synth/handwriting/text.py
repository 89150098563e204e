"""Text for handwriting: the character vocabulary, encoding with clear refusals, a generator of
varied English sentences for the synthetic corpus, and splitting long text into lines."""
from __future__ import annotations

import random

# The vocabulary's checks and encoding live with the network that reads them (imports run one
# way: domain -> models); they are re-exported here for the domain's callers.
from synth.models.handwriting import ALPHABET, check_text, encode_text  # noqa: F401


def split_lines(text: str, max_chars: int) -> list[str]:
    """Split text at spaces (and explicit newlines) into lines of at most ``max_chars``; a word
    longer than a line is cut."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        current = ""
        for word in paragraph.split():
            while len(word) > max_chars:
                if current:
                    lines.append(current)
                    current = ""
                lines.append(word[:max_chars])
                word = word[max_chars:]
            if not current:
                current = word
            elif len(current) + 1 + len(word) <= max_chars:
                current += " " + word
            else:
                lines.append(current)
                current = word
        if current:
            lines.append(current)
    return lines


def _words(prose: str) -> list[str]:
    return prose.split()


_NOUNS = _words("""time year people way day man woman child world life hand part eye place week case point
number group problem fact house river garden letter window morning evening night summer winter city
village road street door table paper book story song music picture friend family mother father
sister brother teacher doctor student king queen bird dog cat horse fish tree flower field forest
hill mountain sea island ship train car bridge market school church room kitchen bread water coffee
tea apple orange lamp candle clock pen ink word line page voice sound colour light shadow fire stone
wind rain snow cloud sun moon star sky earth garden sheep farmer sailor painter poet baker""")
_VERBS = _words("""walks runs sings writes reads draws paints builds finds keeps leaves brings carries opens
closes holds watches follows remembers forgets loves likes wants needs sees hears knows makes takes
gives tells asks helps calls meets visits sends wins loses cleans fixes counts plants cooks""")
_PAST = _words("""walked ran sang wrote read drew painted built found kept left brought carried opened closed
held watched followed remembered forgot loved liked wanted needed saw heard knew made took gave told
asked helped called met visited sent won lost cleaned fixed counted planted cooked""")
_ADJECTIVES = _words("""old new good great small large long little young early late quiet bright dark warm
cold green blue red yellow white black happy busy tired kind strange simple heavy light soft quick
slow gentle clever brave proud calm wild sweet golden silver empty full narrow wide""")
_ADVERBS = _words("""slowly quickly quietly often always never gladly softly early later today again
together carefully suddenly nearly almost""")
_PLACES = """in the garden|by the river|at the market|on the hill|under the bridge|near the door|across
the field|in the morning|after dinner|before noon|at night|in the city|by the sea|on the road|in
the kitchen|at school|in the forest""".replace("\n", " ").split("|")
_NAMES = _words("""Anna Ben Clara David Emma Frank Grace Henry Iris Jack Kate Leo Maria Nina Oscar Paul Rosa
Sam Tom Vera Will Zoe London Paris Berlin Rome Oslo Vienna Dublin Monday Friday Sunday April June
October""")
_DETERMINERS = _words("the a this that every one my your our his her their some no")


def _noun_phrase(rng: random.Random) -> str:
    det = rng.choice(_DETERMINERS)
    if det == "a" and rng.random() < 0.5:
        det = "the"
    words = [det]
    if rng.random() < 0.5:
        words.append(rng.choice(_ADJECTIVES))
    words.append(rng.choice(_NOUNS))
    phrase = " ".join(words)
    return phrase.replace("a a", "an a").replace("a o", "an o").replace("a e", "an e")


def random_sentence(rng: random.Random) -> str:
    """One short English sentence from a small grammar (subject, verb, object, place, ...)."""
    subject = rng.choice(_NAMES[:22]) if rng.random() < 0.3 else _noun_phrase(rng)
    form = rng.random()
    if form < 0.35:
        words = [subject, rng.choice(_VERBS), _noun_phrase(rng)]
    elif form < 0.65:
        words = [subject, rng.choice(_PAST), _noun_phrase(rng)]
    elif form < 0.8:
        words = [subject, rng.choice(["is", "was", "looks", "seems"]), rng.choice(_ADJECTIVES)]
    else:
        words = [subject, rng.choice(_PAST), rng.choice(_ADVERBS)]
    if rng.random() < 0.4:
        words.append(rng.choice(_PLACES))
    if rng.random() < 0.15:
        words.insert(0, rng.choice(["On", "By", "Since", "Until"]) + " " + rng.choice(_NAMES[22:]) + ",")
    if rng.random() < 0.1:
        words.append(f"at {rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45'])}")
    if rng.random() < 0.1:
        words.append(f"in {rng.randint(1900, 2030)}")
    sentence = " ".join(words)
    sentence = sentence[0].upper() + sentence[1:]
    ending = rng.choices([".", "!", "?", ";", ""], weights=[6, 1, 1, 0.5, 1.5])[0]
    if ending == "?" and rng.random() < 0.5:
        sentence = "Did " + sentence[0].lower() + sentence[1:]
    if rng.random() < 0.06:
        sentence = f'"{sentence}{ending}"'
        ending = ""
    elif rng.random() < 0.05:
        sentence = f"({sentence})"
    return sentence + ending


def random_line(rng: random.Random, min_chars: int, max_chars: int) -> str:
    """A line of text between ``min_chars`` and ``max_chars`` characters: a sentence, or a cut of one
    at a word boundary (real lines start and end mid-sentence too)."""
    while True:
        words = " ".join(random_sentence(rng) for _ in range(3)).split()
        start = rng.randrange(len(words)) if rng.random() < 0.5 else 0
        line = ""
        for word in words[start:]:
            if len(line) + len(word) + (1 if line else 0) > max_chars:
                break
            line = f"{line} {word}" if line else word
        if len(line) >= min_chars:
            return line
