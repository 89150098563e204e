"""Numbers as English words, the way a reader says them: cardinals, ordinals, years, decimals,
times of day and money. Plain functions over integers and digit strings; finding numbers in text
is ``synth.tts.normalise``'s job."""
from __future__ import annotations

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
#: Short-scale names of 1000 ** k (k = 1 ..): as far as a spoken number reasonably goes.
_SCALES = ("thousand million billion trillion quadrillion").split()
#: Largest whole number read as words; longer digit strings are read digit by digit.
MAX_CARDINAL = 10 ** (3 * (len(_SCALES) + 1)) - 1
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}


def _below_thousand(n: int) -> list[str]:
    assert 0 <= n < 1000
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] if not ones else f"{_TENS[tens]} {_ONES[ones]}")
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def cardinal(n: int) -> str:
    """1234 -> 'one thousand two hundred thirty four'; negative numbers get 'minus'."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n > MAX_CARDINAL:
        return digits(str(n))
    if n < 1000:
        return " ".join(_below_thousand(n))
    words: list[str] = []
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    for k in range(len(groups) - 1, -1, -1):
        if groups[k]:
            words += _below_thousand(groups[k])
            if k:
                words.append(_SCALES[k - 1])
    return " ".join(words)


def ordinal(n: int) -> str:
    """21 -> 'twenty first', 100 -> 'one hundredth'."""
    words = cardinal(n).split(" ")
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        words[-1] = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def digits(text: str) -> str:
    """'0815' -> 'zero eight one five' (phone numbers, long codes)."""
    return " ".join(_ONES[int(c)] for c in text if c.isdigit())


def year(n: int) -> str:
    """A year as it is said: 1984 -> 'nineteen eighty four', 1900 -> 'nineteen hundred',
    1905 -> 'nineteen oh five', 2000 -> 'two thousand', 2007 -> 'two thousand seven',
    2024 -> 'twenty twenty four'. Outside 1000-2099 (and for 2001-2009) as a cardinal."""
    if not 1000 <= n <= 2099 or 2000 <= n <= 2009:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    if low < 10:
        return f"{cardinal(high)} oh {_ONES[low]}"
    return f"{cardinal(high)} {cardinal(low)}"


def decimal(whole: str, fraction: str) -> str:
    """'3', '14' -> 'three point one four' (the digits after the point one by one)."""
    return f"{cardinal(int(whole)) if whole else 'zero'} point {digits(fraction)}"


def time_of_day(hours: int, minutes: int) -> str:
    """3:00 -> "three o'clock", 3:05 -> 'three oh five', 10:30 -> 'ten thirty'."""
    if minutes == 0:
        return f"{cardinal(hours)} o'clock"
    if minutes < 10:
        return f"{cardinal(hours)} oh {_ONES[minutes]}"
    return f"{cardinal(hours)} {cardinal(minutes)}"


def money(whole: int, cents: int | None, unit: tuple[str, str], subunit: tuple[str, str]) -> str:
    """5, None, ('dollar', 'dollars'), ('cent', 'cents') -> 'five dollars'; 1, 50 -> 'one dollar
    fifty cents'; 0, 5 -> 'five cents'."""
    units = f"{cardinal(whole)} {unit[0] if whole == 1 else unit[1]}"
    if not cents:
        return units
    sub = f"{cardinal(cents)} {subunit[0] if cents == 1 else subunit[1]}"
    return sub if whole == 0 else f"{units} {sub}"
