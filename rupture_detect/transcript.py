"""The in-memory shape of a transcript: utterances with roles, cues and times.

Readers for each file format live in :mod:`rupture_detect.formats`; this module
holds what they share: the data classes, speaker-role resolution, decoding of
bytes with a clear error, and the split of bracketed non-verbal notes from
words.
"""

from __future__ import annotations

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


class TranscriptError(ValueError):
    """Bad input, located: ``str(err)`` reads ``path:line: message``."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


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


_TIME = re.compile(r"^(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$")


def parse_time(value: object) -> float | None:
    """Seconds from ``HH:MM:SS(.mmm)``, ``MM:SS``, or a number; None when empty."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return None if value != value else float(value)   # NaN -> None
    s = str(value).strip()
    if not s:
        return None
    m = _TIME.match(s)
    if m:
        h, mnt, sec, frac = m.groups()
        return int(h or 0) * 3600 + int(mnt) * 60 + int(sec) + (int(frac.ljust(3, "0")) / 1000 if frac else 0.0)
    try:
        return float(s)
    except ValueError:
        raise ValueError(f"cannot read {s!r} as a time (HH:MM:SS or seconds)") from None


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
