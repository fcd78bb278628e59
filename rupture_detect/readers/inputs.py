"""What a run reads: inputs expanded to files (each once), rosters of speaker roles, reading options.

A folder is searched recursively for transcript files (hidden ones skipped)
and its ``speakers.csv`` maps names to roles for the files in it; a file is
taken as it is; anything with ``* ? [`` is a glob. Files reached twice (two
inputs, a symlinked folder) are read once; files that share a name get their
folders in their session id.
"""

from __future__ import annotations

import csv
import glob
import io
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .formats import EXTENSIONS
from .transcript import ROLES, SpeakerRoles, TranscriptError, decode

ROSTER_NAME = "speakers.csv"


@dataclass(frozen=True)
class ReadOptions:
    fmt: str | None = None
    columns: dict = field(default_factory=dict)
    speakers: dict = field(default_factory=dict)      # name -> role, from flags and --speakers
    therapists: tuple = ()                           # names; other unknown names become clients
    strict: bool = False                             # bad rows are errors, not warnings


@dataclass(frozen=True)
class InputFile:
    """One file to score: its path, the roster of its folder, and the session id
    its transcript takes when the file itself names none (the file name, qualified
    by its folders when two inputs share a name)."""
    path: Path
    roster: dict = field(default_factory=dict, hash=False)
    name: str = ""


def read_roster(path: str | Path) -> dict[str, str]:
    """A ``name,role`` CSV mapping speaker names to roles; problems name the file and line."""
    path = Path(path)
    try:
        text = decode(path.read_bytes(), path)
    except OSError as err:
        raise TranscriptError(path, None, f"cannot read speakers file: {err.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        if not reader.fieldnames or {"name", "role"} - {f.strip().lower() for f in reader.fieldnames if f}:
            raise TranscriptError(path, 1, "a speakers file needs the columns name,role")
        roster = {}
        for r in reader:
            r = {k.strip().lower(): (v or "").strip() for k, v in r.items() if isinstance(k, str)}
            if r.get("name"):
                if r.get("role", "").lower() not in ROLES:
                    raise TranscriptError(path, reader.line_num,
                                          f"role must be one of {', '.join(ROLES)}, not {r.get('role')!r}")
                roster[r["name"]] = r["role"]
    except csv.Error as err:
        raise TranscriptError(path, reader.line_num, f"malformed row: {err}") from None
    return roster


@dataclass(frozen=True)
class MissingInput:
    """An input that matched nothing or could not be used: nothing of it is scored."""
    path: str
    error: str


def expand_inputs(inputs: Iterable[str | Path]) -> tuple[list[InputFile], list[MissingInput]]:
    """Files to score, each once (by real path), and inputs that matched nothing or could not be used.

    A folder is searched recursively for transcript files (hidden ones skipped)
    and its ``speakers.csv`` applies to them; a file is taken as it is; anything
    with ``* ? [`` is a glob (``**`` recursive). What matched nothing comes back as
    :class:`MissingInput` with its error."""
    found: list[tuple[Path, dict, str]] = []
    missing: list[MissingInput] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            roster_file = p / ROSTER_NAME
            try:
                roster = read_roster(roster_file) if roster_file.exists() else {}
            except TranscriptError as err:
                missing.append(MissingInput(str(roster_file), f"{err} (the files of {p} were not scored)"))
                continue
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS
                           and f.name != ROSTER_NAME
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            found.extend((f, roster, f.relative_to(p).with_suffix("").as_posix()) for f in files)
            if not files:
                missing.append(MissingInput(str(p), f"{p}: no transcript files in this folder"))
        elif p.is_file():
            found.append((p, {}, p.with_suffix("").as_posix()))
        elif any(ch in str(item) for ch in "*?["):
            matched = sorted(Path(m) for m in glob.glob(str(item), recursive=True) if Path(m).is_file())
            found.extend((m, {}, m.with_suffix("").as_posix()) for m in matched if m.name != ROSTER_NAME)
            if not matched:
                missing.append(MissingInput(str(item), f"{item}: no files match this pattern"))
        else:
            missing.append(MissingInput(str(item), f"{item}: no such file or folder"))
    unique, seen = [], set()
    for path, roster, rel in found:            # the same file through two inputs or a symlinked folder: once
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            unique.append((path, roster, rel))
    stems = Counter(path.stem for path, _, _ in unique)
    return [InputFile(path, roster, rel if stems[path.stem] > 1 else path.stem)
            for path, roster, rel in unique], missing


def roles_for(options: ReadOptions, roster: dict) -> SpeakerRoles:
    mapping = {**roster, **options.speakers, **{n: "therapist" for n in options.therapists}}
    return SpeakerRoles(mapping, default_role="client" if options.therapists else None)
