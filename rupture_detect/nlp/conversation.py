"""Conversation structure in real, verbatim talk: backchannels, fragments and the turns they belong to.

Coders of real sessions (``shared/domain/real-talk.md``; codebook section 8,
rule R1) do not judge each transcript line alone:

* a **backchannel** ("Mm-hmm.", "Yeah.", "Right.", "Okay.", "Sure.") signals
  listening or answers a closed question: never a marker by itself;
* a **fragment** cut by overlapping speech (a line ending with ``-``/``--``, or
  starting with one) belongs to a longer utterance;
* a client who goes on talking while the practitioner only backchannels still
  holds the floor: the pieces are one **unit**.

:func:`client_units` groups a transcript's client lines into units, and the
scorer judges each unit once, with the practitioner turn before its first
piece as context, so every piece gets the same decision. :func:`gate` applies
what coders never do (flag a lone backchannel, or a short answer to a closed
question) to whatever the rules or the model decided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that make up a backchannel; a line of at most MAX_BACKCHANNEL_WORDS of them is one. Deliberately
# without "fine", "no", "whatever", "dunno", "I guess": those are classic minimal responses and stay open.
BACKCHANNEL_WORDS = frozenset("""
mm mmm mhm mm-hmm mm-hm mhmm hmm hm uh-huh uh huh um yeah yea yep yup yes ya yeh ok okay right sure exactly
true alright all oh ah ahh aha i see got it gotcha totally absolutely definitely of course cool wow great
that's thats correct indeed
""".split())
MAX_BACKCHANNEL_WORDS = 4
CLOSED_ANSWER_WORDS = BACKCHANNEL_WORDS | {"no", "nope", "nah", "not", "really", "never", "once", "twice", "maybe",
                                           "sometimes", "usually", "a", "bit", "little", "couple", "lot"}
# an amount given in words ("About ten.", "Maybe three times.") answers a closed question as a digit does
CLOSED_ANSWER_WORDS |= {"about", "around", "roughly", "nearly", "almost", "over", "few", "times", "half", "one", "two",
                        "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "fifteen",
                        "twenty", "thirty", "forty", "fifty", "hundred"}
MAX_CLOSED_ANSWER_WORDS = 4
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")
_CUT_END = re.compile(r"(?:-{1,2}|–|—|\.\.\.|…)\s*$")
_CUT_START = re.compile(r"^\s*(?:-{1,2}|–|—|\.\.\.|…)")


_NOTES = re.compile(r"\[[^\[\]]*\]|\([^()]*\)")


def words_of(text: str) -> list[str]:
    """Lower-cased words, without bracketed notes ("[laughs]") or punctuation."""
    return _WORD.findall(_NOTES.sub(" ", text).lower().replace("’", "'"))


def is_backchannel(text: str) -> bool:
    """Only acknowledgement words ("Mm-hmm.", "Yeah, right.", "Okay. [laughs]"), at most four of them."""
    w = words_of(text)
    return 0 < len(w) <= MAX_BACKCHANNEL_WORDS and all(x in BACKCHANNEL_WORDS for x in w)


def is_closed_answer(text: str) -> bool:
    """A short yes/no-type answer ("No, not really.", "Yeah, twice.") or a bare number."""
    w = words_of(text)
    if not w:
        return bool(re.fullmatch(r"\W*\d+\W*", text.strip()))
    return len(w) <= MAX_CLOSED_ANSWER_WORDS and all(x in CLOSED_ANSWER_WORDS or x.isdigit() for x in w)


def is_cut_off(text: str) -> bool:
    return bool(_CUT_END.search(text))


def continues(text: str) -> bool:
    return bool(_CUT_START.search(text))


_FILLER = re.compile(r"\b(?:um+|uh+|erm|you know|i mean|like)\b", re.I)
_PUNCT = re.compile(r"[.?!,;]")
TALK_CUES = ("talk_backchannels", "talk_fragments", "talk_fillers", "talk_unpunctuated")


def talk_style(speakers: list[str], texts: list[str]) -> dict[str, float]:
    """How a whole transcript was taken down, as four numbers (the same for every turn of it).

    Verbatim transcripts of real sessions have client backchannel lines and
    cut-off fragments; speech-recognition text has no punctuation; textbook
    excerpts have neither. The model reads these so that it can weigh the
    same cue differently in each (a long, rambling answer is ordinary in
    real talk and rare in a textbook excerpt): share of client lines that are
    backchannels, share of lines cut off or continued, fillers per 100 words,
    share of lines without punctuation.
    """
    client = [t for who, t in zip(speakers, texts) if who == "client"]
    n_words = sum(len(words_of(t)) for t in texts) or 1
    return {"talk_backchannels": sum(map(is_backchannel, client)) / len(client) if client else 0.0,
            "talk_fragments": sum(is_cut_off(t) or continues(t) for t in texts) / len(texts) if texts else 0.0,
            "talk_fillers": 100.0 * sum(len(_FILLER.findall(t)) for t in texts) / n_words,
            "talk_unpunctuated": sum(not _PUNCT.search(t) for t in texts) / len(texts) if texts else 0.0}


def join_pieces(texts: list[str]) -> str:
    """One utterance from its pieces: the cut-off dashes at each join go, and a word the speaker
    repeated across the cut ("like I'm-- / --I'm an") is said once."""
    out = ""
    for text in texts:
        piece = _CUT_START.sub("", text).strip() if out else text.strip()
        if out:
            out = _CUT_END.sub("", out).rstrip()
            last, first = out.split()[-1:] or [""], piece.split()[:1] or [""]
            if words_of(last[0]) and words_of(last[0]) == words_of(first[0]):
                piece = piece[len(first[0]):].lstrip()
            out = f"{out} {piece}".strip()
        else:
            out = piece
    return out


@dataclass(frozen=True, slots=True)
class Unit:
    """Client lines judged together: ``pieces`` are utterance indices, ``context`` the index of the
    practitioner turn the unit answers (None at the start of a session)."""
    pieces: tuple[int, ...]
    context: int | None


def client_units(speakers: list[str], texts: list[str]) -> list[Unit]:
    """Group client lines into units (see the module docstring); every client line is in exactly one.

    A client line joins the open unit when only practitioner backchannels (or
    nothing) stand between them and the client kept the floor: the earlier
    piece was cut off, this one continues with a dash, or the practitioner only
    acknowledged. A client backchannel never joins or starts a multi-line unit
    unless a dash ties it to its neighbour.
    """
    units: list[Unit] = []
    open_pieces: list[int] = []
    context: int | None = None           # last substantive practitioner turn
    gap_ok = True                        # only backchannels since the last client piece

    def close():
        nonlocal open_pieces
        if open_pieces:
            units.append(Unit(tuple(open_pieces), unit_context))
        open_pieces = []

    unit_context = None
    for i, (who, text) in enumerate(zip(speakers, texts)):
        if who != "client":
            if who == "therapist" and not is_backchannel(text):
                gap_ok = False
                close()
                context = i
            continue
        if open_pieces and gap_ok:
            last = texts[open_pieces[-1]]
            dashed = is_cut_off(last) or continues(text)
            if dashed or not (is_backchannel(text) or is_backchannel(last)):
                open_pieces.append(i)
                continue
        close()
        open_pieces, unit_context, gap_ok = [i], context, True
    close()
    return units


def gate(pieces: list[str], prev_acts: frozenset) -> str | None:
    """Why a unit can carry no marker whatever was decided, or None.

    A lone backchannel is never a marker (real-talk: listening, or agreement
    while the practitioner holds the floor); neither is a short answer to a
    closed question that invited no elaboration.
    """
    if len(pieces) != 1:
        return None
    text = pieces[0]
    if is_backchannel(text):
        return "backchannel"
    if is_closed_answer(text) and "closed_question" in prev_acts and "open_question" not in prev_acts:
        return "answer to a closed question"
    return None
