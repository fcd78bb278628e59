"""The in-memory shape of a transcript: utterances with roles, cues and times.

Readers for each file format live in :mod:`rupture_detect.readers.formats`; this module
holds what they share: the data classes, speaker-role resolution, decoding of
bytes with a clear error, and the split of bracketed non-verbal notes from
words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("therapist", "client", "other")

# Labels researchers actually use; matched case-insensitively, without dots.
_BUILTIN_ROLES = {
    "therapist": "therapist", "t": "therapist", "th": "therapist", "ther": "therapist",
    "counsellor": "therapist", "counselor": "therapist", "clinician": "therapist",
    "psychologist": "therapist", "psychotherapist": "therapist", "interviewer": "therapist",
    "client": "client", "c": "client", "cl": "client", "patient": "client",
    "p": "client", "pt": "client", "pat": "client",
    "other": "other", "interpreter": "other", "unknown": "other", "both": "other",
    "multiple": "other", "inaudible": "other",
}

# [laughs], (pause), [long pause], (crying) ... — notes, not words.
_NOTE = re.compile(r"\[([^\[\]]{1,40})\]|\(([^()]{1,40})\)")
_SPACES = re.compile(r"\s+")


MAX_UTTERANCE_CHARS = 100_000    # longer utterances are truncated, with a warning (spaCy stops at 1,000,000)
MAX_TIME_SECONDS = 48 * 3600      # a time beyond two days into a recording is a typing error, not a time


class TranscriptError(ValueError):
    """Bad input, located: ``str(err)`` reads ``path:line: message``."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class ReadLog:
    """Problems with single rows of one input file.

    By default a bad row is a *warning* (``path:line: message``) and the row is
    kept in the best shape that can be trusted (a bad time dropped, a missing
    text read as empty); with ``strict`` it is a :class:`TranscriptError` instead.
    """

    def __init__(self, path: str | Path, strict: bool = False):
        self.path = str(path)
        self.strict = strict
        self.warnings: list[str] = []

    def warn(self, line: int | None, message: str) -> None:
        if self.strict:
            raise TranscriptError(self.path, line, message)
        where = f"{self.path}:{line}" if line else self.path
        self.warnings.append(f"{where}: {message}")

    def time(self, value: object, line: int | None, what: str = "time") -> float | None:
        """``parse_time`` with a bad value dropped (warning) rather than failing the file."""
        try:
            return parse_time(value)
        except ValueError as err:
            self.warn(line, f"{what}: {err}; the {what} of this row is left empty")
            return None


@dataclass(slots=True)
class Utterance:
    session_id: str
    turn: object                   # the input's own turn value where it has one
    speaker: str                   # therapist | client | other
    text: str                      # as given, notes included
    words: str = ""                # text with the notes taken out
    cues: tuple[str, ...] = ()     # the notes, lower-cased: ("laughs", "pause")
    start: float | None = None     # seconds from the start of the recording
    end: float | None = None
    label: str = ""                # the raw speaker label
    line: int | None = None        # where it came from, for error messages
    extra: dict = field(default_factory=dict)   # other input columns (gold labels...)


@dataclass(slots=True)
class Transcript:
    session_id: str
    source: str
    utterances: list[Utterance]


class SpeakerRoles:
    """Resolves raw speaker labels to roles: explicit mapping first, then built-ins.

    With ``default_role`` set (used when a therapist name is given for caption
    files), any other unknown label takes that role instead of being an error.
    """

    def __init__(self, mapping: dict[str, str] | None = None, default_role: str | None = None):
        self.mapping = {}
        for name, role in (mapping or {}).items():
            role = role.strip().lower()
            if role not in ROLES:
                raise ValueError(f"speaker {name!r}: role must be one of {ROLES}, not {role!r}")
            self.mapping[_key(name)] = role
        self.default_role = default_role

    def resolve(self, label: str) -> str | None:
        key = _key(label)
        if key in self.mapping:
            return self.mapping[key]
        if key in _BUILTIN_ROLES:
            return _BUILTIN_ROLES[key]
        if self.mapping and self.default_role:
            return self.default_role
        return None

    def role_or_error(self, label: str, path: str | Path, line: int | None) -> str:
        role = self.resolve(label)
        if role is None:
            raise TranscriptError(
                path, line,
                f"unknown speaker {label!r}: use a therapist/client label, or map names with "
                f"--therapist NAME / --client NAME / --speakers FILE")
        return role


def _key(label: str) -> str:
    return _SPACES.sub(" ", str(label).strip().strip(".").lower())


def split_notes(text: str) -> tuple[str, tuple[str, ...]]:
    """Take bracketed notes out of ``text``: returns (words, cues)."""
    if "[" not in text and "(" not in text:
        return _SPACES.sub(" ", text).strip(), ()
    cues = tuple((a or b).strip().lower() for a, b in _NOTE.findall(text))
    words = _SPACES.sub(" ", _NOTE.sub(" ", text)).strip()
    return words, cues


def make_utterance(session_id: str, turn: object, speaker: str, text: str, **kw) -> Utterance:
    words, cues = split_notes(text)
    return Utterance(session_id=session_id, turn=turn, speaker=speaker, text=text,
                     words=words, cues=cues, **kw)


_TIME = re.compile(r"^(?:(\d{1,3}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$")


def parse_time(value: object) -> float | None:
    """Seconds from ``HH:MM:SS(.mmm)``, ``MM:SS``, or a number; None when empty.

    Raises ValueError for anything that is not a possible time in a recording:
    unreadable text, minutes or seconds of 60 or more, negative, infinite or
    beyond :data:`MAX_TIME_SECONDS`.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if value != value:                 # NaN: an empty cell
            return None
        return _checked(float(value), value)
    s = str(value).strip()
    if not s or s.lower() == "nan":
        return None
    m = _TIME.match(s)
    if m:
        h, mnt, sec, frac = m.groups()
        if h is not None and int(mnt) >= 60 or int(sec) >= 60:
            raise ValueError(f"{s!r} is not a time (minutes and seconds run to 59)")
        return _checked(int(h or 0) * 3600 + int(mnt) * 60 + int(sec)
                        + (int(frac.ljust(3, "0")) / 1000 if frac else 0.0), s)
    try:
        seconds = float(s)
    except ValueError:
        raise ValueError(f"cannot read {s!r} as a time (HH:MM:SS or seconds)") from None
    if seconds != seconds:
        return None
    return _checked(seconds, s)


def _checked(seconds: float, shown: object) -> float:
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_TIME_SECONDS:
        raise ValueError(f"{shown!r} is not a possible time in a recording (0 to {MAX_TIME_SECONDS // 3600} hours)")
    return seconds


def check_utterances(utts: list[Utterance], log: ReadLog) -> None:
    """What every reader checks before handing utterances on: times that cannot be
    right (end before start) are dropped and over-long texts are truncated, with a
    warning each."""
    for u in utts:
        if u.start is not None and u.end is not None and u.end < u.start:
            log.warn(u.line, f"end {u.end:g}s is before start {u.start:g}s; both times of this row are left empty")
            u.start = u.end = None
        if len(u.text) > MAX_UTTERANCE_CHARS:
            log.warn(u.line, f"utterance of {len(u.text):,} characters truncated to {MAX_UTTERANCE_CHARS:,}")
            u.text = u.text[:MAX_UTTERANCE_CHARS]
            u.words, u.cues = split_notes(u.text)


def decode(data: bytes, path: str | Path) -> str:
    """UTF-8 (with or without BOM) or UTF-16 (BOM, or BOM-less by NUL pattern); else a located error."""
    if data.startswith(b"\xef\xbb\xbf"):
        data, enc = data[3:], "utf-8"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16"
    elif len(data) >= 4 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        enc = "utf-16-le"
    elif len(data) >= 4 and data[0:1] == b"\x00" and data[2:3] == b"\x00":
        enc = "utf-16-be"
    else:
        enc = "utf-8"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1 if enc == "utf-8" else None
        raise TranscriptError(
            path, line,
            f"cannot decode as {enc.upper()} (byte {data[err.start]:#04x}); save the file as UTF-8 or UTF-16"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")
