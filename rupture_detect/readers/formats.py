"""Readers for the transcript formats researchers have, with located errors.

Plain text (``SPEAKER: text`` lines), utterance tables (CSV, TSV, JSON Lines),
and caption files (WebVTT, SRT). Every reader returns a list of
:class:`~rupture_detect.readers.transcript.Transcript`; every problem raises a
:class:`~rupture_detect.readers.transcript.TranscriptError` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

from .transcript import (
    ReadLog,
    SpeakerRoles,
    Transcript,
    TranscriptError,
    Utterance,
    check_utterances,
    decode,
    make_utterance,
    split_notes,
)

FORMATS = ("text", "csv", "tsv", "jsonl", "vtt", "srt")
EXTENSIONS = {".txt": "text", ".text": "text", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv",
               ".jsonl": "jsonl", ".ndjson": "jsonl", ".vtt": "vtt", ".srt": "srt"}

# canonical column -> names accepted without an explicit mapping
COLUMN_ALIASES = {
    "session_id": ("session_id", "session", "sessionid", "conversation_id", "dialog_id", "transcript_id"),
    "turn": ("turn", "turn_id", "utterance_id", "utt_id", "index"),
    "speaker": ("speaker", "role", "speaker_role", "interlocutor"),
    "text": ("text", "utterance", "utterance_text", "content", "transcript"),
    "start": ("start", "start_time", "begin", "timestamp"),
    "end": ("end", "end_time", "stop"),
}


def detect_format(path: Path, text: str) -> str:
    """From the extension where it is known, else from the first lines of content."""
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt:
        return fmt
    head = text.lstrip("\ufeff \n")[:2000]
    first = head.split("\n", 1)[0].strip()
    if first.startswith("WEBVTT"):
        return "vtt"
    if re.match(r"^\d+\n[\d:,]+ --> ", head):
        return "srt"
    if first.startswith("{"):
        return "jsonl"
    if "\t" in first and "text" in first.lower():
        return "tsv"
    if "," in first and "text" in first.lower() and ":" not in first:
        return "csv"
    return "text"


def read_file(path: str | Path, roles: SpeakerRoles | None = None, fmt: str | None = None,
              columns: dict[str, str] | None = None, log: ReadLog | None = None) -> list[Transcript]:
    """Every transcript in one file. Problems with single rows go to ``log`` as
    warnings (or errors, with a strict log); problems with the whole file raise
    :class:`TranscriptError`."""
    path = Path(path)
    log = log or ReadLog(path)
    transcripts = _read_as(path, roles, fmt, columns, log)
    for t in transcripts:
        check_utterances(t.utterances, log)
    return transcripts


def _read_as(path: Path, roles, fmt, columns, log: ReadLog) -> list[Transcript]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TranscriptError(path, None, f"cannot read file: {err.strerror}") from None
    text = decode(data, path)
    if not text.strip():
        raise TranscriptError(path, None, "empty file")
    fmt = fmt or detect_format(path, text)
    roles = roles or SpeakerRoles()
    if fmt == "text":
        return [read_text(text, path, roles, log)]
    if fmt in ("vtt", "srt"):
        return [read_captions(text, path, roles, log)]
    if fmt in ("csv", "tsv"):
        return read_delimited(text, path, roles, delimiter="," if fmt == "csv" else "\t", columns=columns, log=log)
    if fmt == "jsonl":
        return read_jsonl(text, path, roles, columns=columns, log=log)
    raise TranscriptError(path, None, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


# ---------------------------------------------------------------- plain text

_TS = r"\[?(\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?)\]?"
_SPEAKER_LINE = re.compile(rf"^(?:{_TS}\s*[-–]?\s*)?([^:\[\]]{{1,40}}?)\s*:\s?(.*)$")
_LEADING_TS = re.compile(rf"^{_TS}\s*")


def read_text(text: str, path: Path, roles: SpeakerRoles, log: ReadLog | None = None) -> Transcript:
    log = log or ReadLog(path)
    session_id = path.stem
    utts: list[Utterance] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _SPEAKER_LINE.match(line)
        role = None
        if m:
            stamp, label, rest = m.groups()
            role = roles.resolve(label)
            if role is None and not (utts and _looks_like_prose(label)):
                roles.role_or_error(label, path, lineno)    # raises: unknown speaker
        if role is None:
            if not utts:
                raise TranscriptError(path, lineno, "expected a 'SPEAKER: text' line before any continuation line")
            u = utts[-1]
            u.text = f"{u.text} {line}"
            continue
        ts_after = _LEADING_TS.match(rest)
        if ts_after and not stamp:
            stamp, rest = ts_after.group(1), rest[ts_after.end():]
        utts.append(make_utterance(session_id, len(utts) + 1, role, rest.strip(), label=label.strip(),
                                   start=log.time(stamp, lineno), line=lineno))
    if not utts:
        raise TranscriptError(path, None, "no utterances found (expected 'SPEAKER: text' lines)")
    _refresh_words(utts)
    return Transcript(session_id, str(path), utts)


_NUMBERED_SPEAKER = re.compile(r"^(?:speaker|spk|participant|person|voice)\s*_?\d+$", re.I)


def _looks_like_prose(label: str) -> bool:
    """'so what I mean is: ...' is a continuation, not a speaker called 'so what I mean is'."""
    words = label.split()
    if _NUMBERED_SPEAKER.match(label.strip()):       # 'speaker 2:' is a speaker even in lower case
        return False
    return len(words) > 3 or (bool(words) and words[0][:1].islower())


def _refresh_words(utts: list[Utterance]) -> None:
    for u in utts:
        u.words, u.cues = split_notes(u.text)


# ---------------------------------------------------------------- captions

_TIMING = re.compile(r"^\s*(-?[\d:.,]+)\s*-->\s*(-?[\d:.,]+)")
_VOICE = re.compile(r"^<v(?:\.[^ >]*)?\s+([^>]+)>(.*?)(?:</v>)?$")
_CAPTION_SPEAKER = re.compile(r"^([^:]{1,40}?):\s+(.*)$")
_TAG = re.compile(r"</?[^>]+>")


def read_captions(text: str, path: Path, roles: SpeakerRoles, log: ReadLog | None = None) -> Transcript:
    """WebVTT and SRT: consecutive cues of one speaker merge into one utterance.

    A cue whose timing cannot be right keeps its text; its times are dropped
    with a warning."""
    log = log or ReadLog(path)
    session_id = path.stem
    utts: list[Utterance] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _TIMING.match(lines[i])
        if not m:
            i += 1
            continue
        lineno = i + 1
        start, end = log.time(m.group(1), lineno, "start"), log.time(m.group(2), lineno, "end")
        i += 1
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        if not body:
            continue
        label, said = _caption_speaker(" ".join(body))
        if label is None:
            if not utts:
                raise TranscriptError(path, lineno + 1, "first cue has no 'Name: text' speaker")
            label, role = utts[-1].label, utts[-1].speaker
        else:
            role = roles.role_or_error(label, path, lineno + 1)
        if utts and utts[-1].label == label:
            utts[-1].text = f"{utts[-1].text} {said}"
            utts[-1].end = end
        else:
            utts.append(Utterance(session_id, len(utts) + 1, role, said, start=start, end=end,
                                  label=label, line=lineno + 1))
    if not utts:
        raise TranscriptError(path, None, "no caption cues found (expected '00:00:01.000 --> 00:00:02.000' timings)")
    _refresh_words(utts)
    return Transcript(session_id, str(path), utts)


def _caption_speaker(body: str) -> tuple[str | None, str]:
    m = _VOICE.match(body)
    if m:
        return m.group(1).strip(), _TAG.sub("", m.group(2)).strip()
    body = _TAG.sub("", body)
    m = _CAPTION_SPEAKER.match(body)
    if m and not _looks_like_prose(m.group(1)):
        return m.group(1).strip(), m.group(2).strip()
    return None, body


# ---------------------------------------------------------------- tables

def _resolve_columns(header: list[str], columns: dict[str, str] | None, path: Path) -> dict[str, str]:
    """canonical name -> the input's column name."""
    lower = {h.strip().lower(): h for h in header}
    found: dict[str, str] = {}
    for canon, aliases in COLUMN_ALIASES.items():
        if columns and canon in columns:
            if columns[canon] not in header:
                raise TranscriptError(path, 1, f"column {columns[canon]!r} (given for {canon}) is not in the "
                                               f"header; columns are {header}")
            found[canon] = columns[canon]
            continue
        for alias in aliases:
            if alias in lower:
                found[canon] = lower[alias]
                break
    missing = [c for c in ("speaker", "text") if c not in found]
    if missing:
        raise TranscriptError(path, 1, f"missing column(s) {missing}; columns are {header} "
                                       f"(map others with --column {missing[0]}=NAME)")
    return found


def _cell(value) -> str:
    """A table cell as text: None -> '', 0 -> '0' (numeric codes are values, not blanks)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _table_rows_to_transcripts(rows, path: Path, roles: SpeakerRoles, cols: dict[str, str],
                               log: ReadLog | None = None) -> list[Transcript]:
    transcripts = list(_iter_table_transcripts(rows, path, roles, cols, log or ReadLog(path)))
    if not transcripts:
        raise TranscriptError(path, None, "no rows")
    return transcripts


def _iter_table_transcripts(rows, path: Path, roles: SpeakerRoles, cols: dict[str, str], log: ReadLog,
                            last_line: dict[str, int] | None = None) -> Iterator[Transcript]:
    """Transcripts from table rows. With ``last_line`` (session id -> its last input line) each session
    is handed on as soon as its last row is read, so only open sessions are held in memory."""
    by_session: dict[str, list[Utterance]] = {}
    used = set(cols.values())
    for lineno, row in rows:
        sid = _session_of(row, cols, path)
        label = _cell(row.get(cols["speaker"]))
        if not label:
            log.warn(lineno, "empty speaker; row skipped")
        else:
            text = _cell(row.get(cols["text"]))
            if not text:
                log.warn(lineno, "missing text; read as an empty utterance")
            role = roles.role_or_error(label, path, lineno)
            utts = by_session.setdefault(sid, [])
            turn = row.get(cols["turn"]) if "turn" in cols else None
            if turn in (None, ""):
                turn = len(utts) + 1
            else:
                try:
                    turn = int(turn)
                except (TypeError, ValueError):
                    pass
            start = log.time(row.get(cols["start"]), lineno, "start") if "start" in cols else None
            end = log.time(row.get(cols["end"]), lineno, "end") if "end" in cols else None
            extra = {k: v for k, v in row.items() if k not in used}
            utts.append(make_utterance(sid, turn, role, text, start=start, end=end, label=label,
                                       line=lineno, extra=extra))
        if last_line is not None and last_line.get(sid) == lineno and sid in by_session:
            yield Transcript(sid, str(path), by_session.pop(sid))
    for sid, utts in by_session.items():
        yield Transcript(sid, str(path), utts)


def _session_of(row: dict, cols: dict[str, str], path: Path) -> str:
    sid = _cell(row.get(cols["session_id"])) if "session_id" in cols else ""
    return sid or path.stem


def read_delimited(text: str, path: Path, roles: SpeakerRoles, delimiter: str,
                   columns: dict[str, str] | None = None, log: ReadLog | None = None) -> list[Transcript]:
    log = log or ReadLog(path)
    reader, header, cols = _delimited_reader(text, path, delimiter, columns)
    return _table_rows_to_transcripts(_delimited_rows(reader, header, path, log), path, roles, cols, log)


def _delimited_reader(text: str, path: Path, delimiter: str, columns: dict[str, str] | None):
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as err:
        raise TranscriptError(path, 1, f"cannot read the header row: {err}") from None
    header = [h.strip() for h in header]
    return reader, header, _resolve_columns(header, columns, path)


def _delimited_rows(reader, header: list[str], path: Path, log: ReadLog | None):
    """``(line, row dict)`` of the data rows; malformed rows are warnings (with ``log``) and skipped."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise TranscriptError(path, reader.line_num, f"malformed row: {err}") from None
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            if log is not None:
                log.warn(reader.line_num, f"malformed row: expected {len(header)} fields, found {len(row)}; "
                                          "row skipped")
            continue
        yield reader.line_num, dict(zip(header, row))


def stream_table(path: str | Path, roles: SpeakerRoles | None = None, fmt: str | None = None,
                 columns: dict[str, str] | None = None,
                 log: ReadLog | None = None) -> tuple[Iterator[Transcript], bool] | None:
    """A CSV/TSV table as a stream of transcripts, each handed on when its last row is read.

    A first, cheap pass over the rows notes where each session ends and checks
    every speaker label (so an unknown speaker fails the file before anything
    is scored). Returns ``(transcripts, True)``; ``None`` for anything that is
    not a CSV/TSV table, or a table whose sessions interleave (read those whole
    with :func:`read_file`, which keeps their rows in input order).
    """
    path = Path(path)
    log = log or ReadLog(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TranscriptError(path, None, f"cannot read file: {err.strerror}") from None
    text = decode(data, path)
    del data
    fmt = fmt or detect_format(path, text)
    if fmt not in ("csv", "tsv") or not text.strip():
        return None
    delimiter = "," if fmt == "csv" else "\t"
    roles = roles or SpeakerRoles()
    reader, header, cols = _delimited_reader(text, path, delimiter, columns)
    last_line: dict[str, int] = {}
    previous = None
    for lineno, row in _delimited_rows(reader, header, path, None):
        sid = _session_of(row, cols, path)
        if sid != previous and sid in last_line:
            return None                                  # interleaved sessions
        previous, last_line[sid] = sid, lineno
        label = _cell(row.get(cols["speaker"]))
        if label:
            roles.role_or_error(label, path, lineno)
    if not last_line:
        raise TranscriptError(path, None, "no rows")
    reader, header, _ = _delimited_reader(text, path, delimiter, columns)

    def transcripts():
        for t in _iter_table_transcripts(_delimited_rows(reader, header, path, log), path, roles, cols, log,
                                         last_line):
            check_utterances(t.utterances, log)
            yield t
    return transcripts(), True


def read_jsonl(text: str, path: Path, roles: SpeakerRoles,
               columns: dict[str, str] | None = None, log: ReadLog | None = None) -> list[Transcript]:
    log = log or ReadLog(path)
    parsed = []
    header: list[str] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            log.warn(lineno, f"malformed JSON ({err.msg}); row skipped")
            continue
        except RecursionError:
            log.warn(lineno, "JSON nested too deeply; row skipped")
            continue
        if not isinstance(obj, dict):
            log.warn(lineno, "not a JSON object; row skipped")
            continue
        for k in obj:
            if k not in header:
                header.append(k)
        parsed.append((lineno, obj))
    if not parsed:
        raise TranscriptError(path, None, "no rows")
    cols = _resolve_columns(header, columns, path)
    return _table_rows_to_transcripts(parsed, path, roles, cols, log)


def transcripts_from_frame(df, roles: SpeakerRoles | None = None, columns: dict[str, str] | None = None,
                           name: str = "<dataframe>", log: ReadLog | None = None) -> list[Transcript]:
    """The same contract for a pandas DataFrame already in memory (row numbers count from 1)."""
    path = Path(name)
    header = [str(c) for c in df.columns]
    cols = _resolve_columns(header, columns, path)
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    rows = ((i + 1, {str(k): v for k, v in r.items()}) for i, r in enumerate(records))
    log = log or ReadLog(path)
    transcripts = _table_rows_to_transcripts(rows, path, roles or SpeakerRoles(), cols, log)
    for t in transcripts:
        check_utterances(t.utterances, log)
    return transcripts
