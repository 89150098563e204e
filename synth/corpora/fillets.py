"""The voice acting of Fish Fillets - Next Generation in Czech and Dutch (Debian
``fillets-ng-data-cs`` / ``-nl``: Ogg clips, mostly 22.05 kHz; GPL-2).

Transcripts and speakers come from ``fillets-ng-data``: each level's
``script/<level>/dialogs_<lang>.lua`` holds, per line of dialogue::

    dialogId("bar-v-co", "font_big", "What are we supposed to do with it?")
    dialogStr("Ale co s tím budeme dělat?")

and the clip is ``sound/<level>/<lang>/<id>.ogg`` (the shared jokes and shouts:
``sound/share/<set>/<lang>/<id>.ogg`` with ``script/share/<set>_dialogs_<lang>.lua``). The speaker is the character's subtitle font
(``font_big``: the big fish, ``font_small``: the small fish, ``font_parrot``, ...). The Lua is
read with a small tokenizer (strings, comments, the two calls), never executed.

Speakers are named ``fillets-<lang>-<character>``. Rule for minor characters: a character with
fewer than ``MIN_SPEAKER_CLIPS`` matched clips in a language is dropped (listed in ``skipped``),
because merging several actors into one "minor" voice would teach a speaker-conditioned model a
voice that does not exist. Lines with no character (``""``) are dropped likewise.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from synth.corpora.asterisk import fetch_debian_package
from synth.corpora.manifest import Manifest
from synth.corpora.speech import SpeakerInfo, Utterance, audio_file_loader, build_corpus

LANGUAGES = ("cs", "nl")
GAME = "usr/share/games/fillets-ng"
MIN_SPEAKER_CLIPS = 50
CHARACTERS = {"big": "the big fish", "small": "the small fish"}
LICENCE = ("Fish Fillets - Next Generation game data (Debian fillets-ng-data, fillets-ng-data-cs, fillets-ng-data-nl), "
           "(c) ALTAR interactive and the Fish Fillets NG authors (Ivo Danihelka, Pavel Danihelka, Frederic Panico, "
           "Ronny Standtke, Simone Cociancich, Przemek Bojczuk), licensed GPL-2 (version 2 only); the voice actors "
           "are not named in the packages.")


@dataclasses.dataclass
class Dialog:
    id: str
    speaker: str          # subtitle font, e.g. "font_big"; "" for none
    english: str
    text: str             # the line in the script's language ("" when dialogStr is missing)
    line: int             # where dialogId starts, for messages


_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<comment>--[^\n]*)
  | (?P<call>dialogId|dialogStr)\s*\(
  | (?P<comma>,)
  | (?P<close>\))
  | (?P<space>\s+)
  | (?P<other>[^\s"',()-]+|.)
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "\n": "\n"}


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.DOTALL)


def parse_dialogs(source: str) -> tuple[list[Dialog], list[str]]:
    """(dialogs, problems) from the text of a ``dialogs_<lang>.lua``. Only the two calls with
    plain string arguments are understood; anything else inside a call is reported as a problem
    naming the line, and that call is ignored."""
    dialogs: list[Dialog] = []
    problems: list[str] = []
    call, args, expect_comma, start_line = None, [], False, 0
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        if kind in ("space", "comment"):
            continue
        line = source.count("\n", 0, m.start()) + 1
        if call is None:
            if kind == "call":
                call, args, expect_comma, start_line = m.group("call"), [], False, line
            continue
        if kind == "string" and not expect_comma:
            args.append(_unquote(m.group()))
            expect_comma = True
        elif kind == "comma" and expect_comma:
            expect_comma = False
        elif kind == "close" and (expect_comma or not args):
            if call == "dialogId" and len(args) == 3:
                dialogs.append(Dialog(id=args[0], speaker=args[1], english=args[2], text="", line=start_line))
            elif call == "dialogStr" and len(args) == 1:
                if dialogs and not dialogs[-1].text:
                    dialogs[-1].text = args[0]
                else:
                    problems.append(f"line {start_line}: dialogStr without a dialogId before it")
            else:
                problems.append(f"line {start_line}: {call} with {len(args)} arguments")
            call = None
        else:
            problems.append(f"line {line}: {call}(...) has {m.group()!r} where a string literal, ',' or ')' belongs")
            call = None
    if call is not None:
        problems.append(f"line {start_line}: {call}( is never closed")
    return dialogs, problems


def fetch(root: Path, languages=LANGUAGES) -> Path:
    fetch_debian_package("fillets-ng-data", root)
    for language in languages:
        fetch_debian_package(f"fillets-ng-data-{language}", root)
    return root


def character(font: str) -> str:
    """``font_big`` -> ``big``."""
    return font.removeprefix("font_")


def fillets_utterances(root: Path, language: str, min_speaker_clips: int = MIN_SPEAKER_CLIPS
                       ) -> tuple[list[Utterance], list[dict], dict[str, SpeakerInfo], dict]:
    """(utterances, skipped, speakers, counts) for one language of the unpacked packages."""
    game = root / GAME
    # Level clips are sound/<level>/<lang>/<id>.ogg; the shared jokes and shouts are
    # sound/share/<set>/<lang>/<id>.ogg with their lines in script/share/<set>_dialogs_<lang>.lua.
    clips = {}
    for path in sorted((game / "sound").rglob(f"{language}/*.ogg")):
        parts = path.relative_to(game / "sound").parts
        clips[(parts[0], path.stem)] = path
    by_folder: dict[tuple[str, str], Dialog] = {}
    by_id: dict[str, list[Dialog]] = {}
    problems = []
    for script in sorted((game / "script").rglob(f"*dialogs_{language}.lua")):
        found, trouble = parse_dialogs(script.read_text(encoding="utf-8", errors="replace"))
        problems += [f"{script.relative_to(game)}: {p}" for p in trouble]
        folder = script.relative_to(game / "script").parts[0]
        for d in found:
            by_folder.setdefault((folder, d.id), d)
            by_id.setdefault(d.id, []).append(d)

    def transcript(folder: str, clip_id: str) -> Dialog | None:
        d = by_folder.get((folder, clip_id))
        if d is None and len(by_id.get(clip_id, [])) == 1:   # a line kept in another level's script
            d = by_id[clip_id][0]
        return d if d is not None and d.text.strip() else None

    skipped = []
    candidates: dict[str, list[Utterance]] = {}
    matched = 0
    for (level, clip_id), path in clips.items():
        source = f"fillets-ng-data-{language}:/{path.relative_to(root).as_posix()}"
        d = transcript(level, clip_id)
        if d is None:
            skipped.append({"source": source, "reason": f"{source}: no transcript (no dialogId {clip_id!r} with a "
                                                        f"non-empty dialogStr in script/{level}/*dialogs_{language}.lua)"})
            continue
        matched += 1
        if not d.speaker:
            skipped.append({"source": source, "reason": f"{source}: no character named for this line"})
            continue
        speaker = f"fillets-{language}-{character(d.speaker)}"
        candidates.setdefault(speaker, []).append(Utterance(
            speaker=speaker, key=path.relative_to(game / "sound").with_suffix("").as_posix().replace(f"/{language}/", "/"), text=" ".join(d.text.split()), language=language,
            source=source, load=audio_file_loader(path, source)))
    utterances, speakers = [], {}
    for speaker, found in sorted(candidates.items()):
        if len(found) < min_speaker_clips:
            skipped += [{"source": u.source, "reason": f"{u.source}: minor character {speaker} with {len(found)} clips "
                         f"(fewer than {min_speaker_clips}), dropped"} for u in found]
            continue
        who = CHARACTERS.get(speaker.rsplit("-", 1)[-1], speaker.rsplit("-", 1)[-1])
        speakers[speaker] = SpeakerInfo(name=speaker, language=language, licence="GPL-2",
                                        attribution=f"{who[0].upper() + who[1:]} in Fish Fillets - Next Generation ({language} voice acting, "
                                                    f"Debian fillets-ng-data-{language}); actor not named in the package.")
        utterances += found
    counts = {"clips": len(clips), "dialog_lines": sum(len(v) for v in by_id.values()), "matched": matched,
              "parse_problems": problems[:20]}
    return utterances, skipped, speakers, counts


def build(root: Path, out: Path, languages=LANGUAGES, min_speaker_clips: int = MIN_SPEAKER_CLIPS) -> Manifest:
    """Fetch the packages into ``root`` and build (or rebuild) the ``fillets`` group of the corpus at ``out``."""
    fetch(root, languages)
    utterances, skipped, speakers, counts = [], [], {}, {}
    for language in languages:
        found, missing, who, counts[language] = fillets_utterances(root, language, min_speaker_clips)
        utterances += found
        skipped += missing
        speakers.update(who)
    return build_corpus(utterances, out, group="fillets", speakers=speakers, licence=LICENCE, skipped=skipped,
                        group_stats={"transcripts": counts, "min_speaker_clips": min_speaker_clips})
