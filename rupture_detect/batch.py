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
import multiprocessing as mp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .formats import _EXTENSIONS, read_file
from .transcript import SpeakerRoles, TranscriptError

ROSTER_NAME = "speakers.csv"


@dataclass(frozen=True)
class ReadOptions:
    fmt: str | None = None
    columns: dict = field(default_factory=dict)
    speakers: dict = field(default_factory=dict)      # name -> role, from flags and --speakers
    therapists: tuple = ()                           # names; other unknown names become clients


@dataclass
class FileResult:
    path: str
    rows: list = field(default_factory=list)
    sessions: list = field(default_factory=list)
    episodes: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    error: str | None = None


def read_roster(path: str | Path) -> dict[str, str]:
    """A ``name,role`` CSV mapping speaker names to roles."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or {"name", "role"} - {f.strip().lower() for f in reader.fieldnames}:
                raise TranscriptError(path, 1, "a speakers file needs the columns name,role")
            rows = ({k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in reader)
            return {r["name"]: r["role"] for r in rows if r.get("name")}
    except OSError as err:
        raise TranscriptError(path, None, f"cannot read speakers file: {err.strerror}") from None


def expand_inputs(inputs: Iterable[str | Path]) -> tuple[list[tuple[Path, dict]], list[FileResult]]:
    """Files to score (each with the roster of its folder, if any) and inputs that matched nothing."""
    files: list[tuple[Path, dict]] = []
    missing: list[FileResult] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            roster_file = p / ROSTER_NAME
            roster = read_roster(roster_file) if roster_file.exists() else {}
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _EXTENSIONS
                           and f.name != ROSTER_NAME and not any(part.startswith(".") for part in f.relative_to(p).parts))
            files.extend((f, roster) for f in found)
            if not found:
                missing.append(FileResult(str(p), error=f"{p}: no transcript files in this folder"))
        elif p.is_file():
            files.append((p, {}))
        elif any(ch in str(item) for ch in "*?["):
            matched = sorted(Path(m) for m in glob.glob(str(item), recursive=True) if Path(m).is_file())
            files.extend((m, {}) for m in matched if m.name != ROSTER_NAME)
            if not matched:
                missing.append(FileResult(str(item), error=f"{item}: no files match this pattern"))
        else:
            missing.append(FileResult(str(item), error=f"{item}: no such file or folder"))
    return files, missing


def roles_for(options: ReadOptions, roster: dict) -> SpeakerRoles:
    mapping = {**roster, **options.speakers, **{n: "therapist" for n in options.therapists}}
    return SpeakerRoles(mapping, default_role="client" if options.therapists else None)


# ---------------------------------------------------------------- workers

_WORKER: dict = {}


CHUNK_FILES = 32     # files scored together: one model call per chunk


def score_files(jobs: list[tuple[Path, dict, ReadOptions]], scorer=None) -> list[FileResult]:
    """Read a chunk of files, score all their transcripts together, and split the results per file."""
    scorer = scorer or _WORKER["scorer"]
    results, pending = [], []
    for path, roster, options in jobs:
        result = FileResult(str(path))
        try:
            transcripts = read_file(path, roles_for(options, roster), options.fmt, options.columns or None)
            pending.append((result, transcripts))
        except (TranscriptError, ValueError) as err:
            result.error = str(err)
        results.append(result)
    flat = [t for _, ts in pending for t in ts]
    scored = iter(scorer.score_many(flat)) if flat else iter(())
    for result, transcripts in pending:
        lines = []
        for transcript in transcripts:
            s = next(scored)
            result.rows.extend(s.rows)
            lines.extend(u.line or 0 for u in transcript.utterances)
            result.sessions.append(s.session)
            result.episodes.extend(s.episodes)
            result.segments.extend(s.segments)
        if len(transcripts) > 1:       # interleaved sessions in one table: rows back in input order
            result.rows = [r for _, r in sorted(zip(lines, result.rows), key=lambda lr: lr[0])]
    return results


def iter_results(files: list[tuple[Path, dict]], options: ReadOptions, model_spec=None,
                 threshold: float | None = None, jobs: int = 1, segment_minutes: float | None = None,
                 segment_turns: int | None = None) -> Iterator[FileResult]:
    """Score files in order; with ``jobs > 1``, forked workers share the scorer loaded here once."""
    from .api import make_scorer
    scorer = make_scorer(model_spec, threshold=threshold)
    if segment_minutes:
        scorer.segment_minutes = segment_minutes
    if segment_turns:
        scorer.segment_turns = segment_turns
    jobs_list = [(path, roster, options) for path, roster in files]
    size = CHUNK_FILES if jobs <= 1 else max(1, min(CHUNK_FILES, -(-len(jobs_list) // (jobs * 4))))
    chunks = [jobs_list[i:i + size] for i in range(0, len(jobs_list), size)]
    if jobs <= 1 or len(chunks) < 2:
        for chunk in chunks:
            yield from score_files(chunk, scorer)
        return
    _WORKER["scorer"] = scorer          # inherited by the forked workers: no reload per process
    try:
        with mp.get_context("fork").Pool(min(jobs, len(chunks))) as pool:
            for results in pool.imap(score_files, chunks):
                yield from results
    finally:
        _WORKER.clear()
