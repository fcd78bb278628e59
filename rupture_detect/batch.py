"""Batches: expand inputs, read and score file by file, in parallel across files.

Light spaCy pipelines get slower with ``nlp.pipe(n_process>1)``; what pays on
a multi-core machine is one worker process per core, each scoring whole
files, a chunk at a time (one model call per chunk). Results come back in input order (``imap``), so outputs stay in input
order, and each file's failure is caught and reported without stopping the
rest.
"""

from __future__ import annotations

import csv
import glob
import io
import multiprocessing as mp
import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .formats import _EXTENSIONS, read_file
from .transcript import ROLES, ReadLog, SpeakerRoles, Transcript, TranscriptError, decode

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


@dataclass
class FileResult:
    path: str
    rows: list = field(default_factory=list)
    sessions: list = field(default_factory=list)
    episodes: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    error: str | None = None                         # the whole file failed
    errors: list = field(default_factory=list)       # single sessions that failed (the rest are here)
    warnings: list = field(default_factory=list)     # rows read with a problem (file:line: ...)

    def problems(self) -> list[str]:
        return ([self.error] if self.error else []) + self.errors

    def rename_session(self, old: str, new: str) -> None:
        for table in (self.rows, self.sessions, self.episodes, self.segments):
            for row in table:
                if str(row.get("session_id")) == old:
                    row["session_id"] = new


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


def expand_inputs(inputs: Iterable[str | Path]) -> tuple[list[InputFile], list[FileResult]]:
    """Files to score, each once (by real path), and inputs that matched nothing or could not be used.

    A folder is searched recursively for transcript files (hidden ones skipped)
    and its ``speakers.csv`` applies to them; a file is taken as it is; anything
    with ``* ? [`` is a glob (``**`` recursive)."""
    found: list[tuple[Path, dict, str]] = []
    missing: list[FileResult] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            roster_file = p / ROSTER_NAME
            try:
                roster = read_roster(roster_file) if roster_file.exists() else {}
            except TranscriptError as err:
                missing.append(FileResult(str(roster_file), error=f"{err} (the files of {p} were not scored)"))
                continue
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _EXTENSIONS
                           and f.name != ROSTER_NAME and not any(part.startswith(".") for part in f.relative_to(p).parts))
            found.extend((f, roster, f.relative_to(p).with_suffix("").as_posix()) for f in files)
            if not files:
                missing.append(FileResult(str(p), error=f"{p}: no transcript files in this folder"))
        elif p.is_file():
            found.append((p, {}, p.with_suffix("").as_posix()))
        elif any(ch in str(item) for ch in "*?["):
            matched = sorted(Path(m) for m in glob.glob(str(item), recursive=True) if Path(m).is_file())
            found.extend((m, {}, m.with_suffix("").as_posix()) for m in matched if m.name != ROSTER_NAME)
            if not matched:
                missing.append(FileResult(str(item), error=f"{item}: no files match this pattern"))
        else:
            missing.append(FileResult(str(item), error=f"{item}: no such file or folder"))
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


class SessionIds:
    """Keeps session ids unique across the files of one run: a session whose id
    another file already used is qualified by its file's path, with a warning."""

    def __init__(self):
        self.seen: set[str] = set()

    def claim(self, result: FileResult) -> None:
        for session in result.sessions:
            sid = str(session["session_id"])
            if sid in self.seen:
                new = f"{Path(result.path).with_suffix('').as_posix()}:{sid}"
                result.rename_session(sid, new)
                result.warnings.append(f"{result.path}: session id {sid!r} is used by another input too; "
                                       f"this one is named {new!r}")
                sid = new
            self.seen.add(sid)


# ---------------------------------------------------------------- workers

_WORKER: dict = {}


CHUNK_FILES = 32     # files scored together: one model call per chunk


def score_files(jobs: list[tuple[InputFile, ReadOptions]], scorer=None) -> list[FileResult]:
    """Read a chunk of files, score all their transcripts together, and split the results per file.

    Nothing that goes wrong with one file or one session reaches the others: a
    file that cannot be read is reported whole; if scoring the chunk together
    fails, its sessions are scored one by one and only the failing ones are
    reported (``path: session ID: ...``)."""
    scorer = scorer or _WORKER["scorer"]
    results, pending = [], []
    for item, options in jobs:
        result = FileResult(str(item.path))
        log = ReadLog(item.path, strict=options.strict)
        try:
            transcripts = read_file(item.path, roles_for(options, item.roster), options.fmt,
                                    options.columns or None, log)
            _name_default_session(transcripts, item)
            pending.append((result, transcripts))
        except (TranscriptError, ValueError, RecursionError) as err:
            result.error = str(err) if isinstance(err, ValueError) else f"{item.path}: {err}"
        result.warnings.extend(log.warnings)
        results.append(result)
    flat = [t for _, ts in pending for t in ts]
    scored = _score_isolated(scorer, flat)
    for result, transcripts in pending:
        lines = []
        for transcript in transcripts:
            s = next(scored)
            if isinstance(s, Exception):
                result.errors.append(f"{result.path}: session {transcript.session_id}: could not be scored "
                                     f"({type(s).__name__}: {s}); left out")
                continue
            result.rows.extend(s.rows)
            lines.extend(u.line or 0 for u in transcript.utterances)
            result.sessions.append(s.session)
            result.episodes.extend(s.episodes)
            result.segments.extend(s.segments)
        if len(transcripts) > 1:       # interleaved sessions in one table: rows back in input order
            result.rows = [r for _, r in sorted(zip(lines, result.rows), key=lambda lr: lr[0])]
    return results


def _name_default_session(transcripts: list[Transcript], item: InputFile) -> None:
    """A file that names no session is named by ``item.name`` (its stem, or its qualified path)."""
    if item.name and item.name != item.path.stem:
        for t in transcripts:
            if t.session_id == item.path.stem:
                t.session_id = item.name
                for u in t.utterances:
                    u.session_id = item.name


def _score_isolated(scorer, transcripts: list[Transcript]) -> Iterator:
    """Scored results in order, or the exception for a transcript that could not be scored."""
    if not transcripts:
        return iter(())
    try:
        return iter(scorer.score_many(transcripts))
    except Exception:                        # find the culprit: score one by one
        out = []
        for t in transcripts:
            try:
                out.append(scorer.score(t))
            except Exception as err:         # noqa: BLE001 - reported per session, never lost
                out.append(err)
        return iter(out)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool and exits quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def iter_results(files: list[InputFile], options: ReadOptions, scorer, jobs: int = 1) -> Iterator[FileResult]:
    """Score files in order; with ``jobs > 1``, forked workers share the scorer loaded here once.

    Session ids are kept unique across files (see :class:`SessionIds`)."""
    ids = SessionIds()
    jobs_list = [(item, options) for item in files]
    size = CHUNK_FILES if jobs <= 1 else max(1, min(CHUNK_FILES, -(-len(jobs_list) // (jobs * 4))))
    chunks = [jobs_list[i:i + size] for i in range(0, len(jobs_list), size)]
    if jobs <= 1 or len(chunks) < 2:
        for chunk in chunks:
            for result in score_files(chunk, scorer):
                ids.claim(result)
                yield result
        return
    _WORKER["scorer"] = scorer          # inherited by the forked workers: no reload per process
    pool = mp.get_context("fork").Pool(min(jobs, len(chunks)), initializer=_ignore_sigint)
    try:
        for results in pool.imap(score_files, chunks):
            for result in results:
                ids.claim(result)
                yield result
        pool.close()
    finally:
        pool.terminate()
        pool.join()
        _WORKER.clear()
