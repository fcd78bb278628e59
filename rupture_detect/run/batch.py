"""The scoring run: inputs read (tables streamed), cut into batches of whole sessions, scored in order.

Light spaCy pipelines get slower with ``nlp.pipe(n_process>1)``; what pays on
a multi-core machine is one worker process per core, each scoring a batch of
whole sessions (one model call per batch), or a Dask cluster doing the same.
Batches go out in order and results come back in order, so outputs are the
same for any number of workers. A file or session that fails is reported and
left out; every other one is still scored. Sinks (:mod:`rupture_detect.writers.sinks`)
consume the results.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..readers.formats import EXTENSIONS, read_file, stream_table, transcripts_from_frame
from ..readers.inputs import InputFile, ReadOptions, roles_for
from ..readers.transcript import ReadLog, Transcript, TranscriptError


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

BATCH_UTTERANCES = 2000   # utterances scored together: one model call per batch, memory bounded by the batch


def read_input(item: InputFile, options: ReadOptions) -> tuple[FileResult, list[Transcript]]:
    """One input file read (not yet scored): its result shell (path, warnings, or the error that sank
    the whole file) and its transcripts."""
    result = FileResult(str(item.path))
    log = ReadLog(item.path, strict=options.strict)
    transcripts: list[Transcript] = []
    try:
        transcripts = read_file(item.path, roles_for(options, item.roster), options.fmt, options.columns or None, log)
        _name_default_session(transcripts, item)
    except (TranscriptError, ValueError, RecursionError) as err:
        result.error = str(err) if isinstance(err, ValueError) else f"{item.path}: {err}"
    result.warnings.extend(log.warnings)
    return result, transcripts


def batches(transcripts: list[Transcript], size: int | None = None) -> list[list[Transcript]]:
    """Consecutive groups of whole transcripts of about ``size`` utterances (a longer transcript alone)."""
    size = size or BATCH_UTTERANCES
    out: list[list[Transcript]] = [[]]
    n = 0
    for t in transcripts:
        if out[-1] and n + len(t.utterances) > size:
            out.append([])
            n = 0
        out[-1].append(t)
        n += len(t.utterances)
    return out if out[0] else []


def score_batch(transcripts: list[Transcript], scorer=None) -> list:
    """Scored results for a batch of transcripts, in order; an exception in place of a failed one."""
    return list(_score_isolated(scorer or _WORKER["scorer"], transcripts))


def _fill(result: FileResult, transcripts: list[Transcript], scored: list) -> None:
    for transcript, s in zip(transcripts, scored):
        if isinstance(s, Exception):
            result.errors.append(f"{result.path}: session {transcript.session_id}: could not be scored "
                                 f"({type(s).__name__}: {s}); left out")
            continue
        result.rows.extend(s.rows)
        result.sessions.append(s.session)
        result.episodes.extend(s.episodes)
        result.segments.extend(s.segments)


def _interleaved(transcripts: list[Transcript]) -> bool:
    """Whether the sessions of one table interleave (rows of one session between rows of another)."""
    spans = sorted((min(u.line or 0 for u in t.utterances), max(u.line or 0 for u in t.utterances))
                   for t in transcripts if t.utterances)
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def _in_input_order(result: FileResult, transcripts: list[Transcript]) -> None:
    """Rows of interleaved sessions back in the order of the input lines."""
    line_of = {}
    for t in transcripts:
        for u, i in zip(t.utterances, range(len(t.utterances))):
            line_of[(t.session_id, i)] = u.line or 0
    keyed, seen = [], {}
    for r in result.rows:
        sid = str(r["session_id"])
        i = seen.get(sid, 0)
        seen[sid] = i + 1
        keyed.append((line_of.get((sid, i), 0), r))
    result.rows = [r for _, r in sorted(keyed, key=lambda kr: kr[0])]


def score_files(jobs: list[tuple[InputFile, ReadOptions]], scorer) -> list[FileResult]:
    """Read and score files in this process, one result per file (the run's batches merged back)."""
    merged: list[FileResult] = []
    for item, options in jobs:
        parts = list(run_jobs(_plan([item], options), scorer))
        result = FileResult(str(item.path))
        for part in parts:
            result.error = result.error or part.error
            result.errors.extend(part.errors)
            result.warnings.extend(part.warnings)
            for key in ("rows", "sessions", "episodes", "segments"):
                getattr(result, key).extend(getattr(part, key))
        merged.append(result)
    return merged


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


def _init_worker() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool and exits quietly; and each uses one
    thread for BLAS and OpenMP (the context model's trees), or the workers fight over the cores."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)


@dataclass
class _Job:
    """A batch of one file's transcripts on its way through the scorer."""
    result: FileResult          # the shell that scored sessions are added to
    transcripts: list
    last: bool                  # the file's last batch
    whole: bool                 # the file's sessions interleave: collect every batch, then restore line order
    all_transcripts: list = field(default_factory=list)


def _plan(files: list[InputFile], options: ReadOptions) -> Iterator[_Job]:
    """Files read one by one (in this process), cut into batches; a file that failed is one empty job.

    A CSV/TSV table whose sessions do not interleave is *streamed* (except with ``strict``): its sessions
    are batched as they are read, so memory holds one batch, not the table (see
    :func:`~rupture_detect.readers.formats.stream_table`).
    """
    for item in files:
        tabular = (options.fmt or EXTENSIONS.get(item.path.suffix.lower())) in ("csv", "tsv")
        if options.strict or not tabular:   # strict: a bad row fails the whole file before anything is scored
            yield from _whole_file_jobs(item, options)
            continue
        log = ReadLog(item.path)
        try:
            streamed = stream_table(item.path, roles_for(options, item.roster), options.fmt, options.columns or None,
                                    log)
        except (TranscriptError, ValueError, RecursionError) as err:
            result = FileResult(str(item.path), warnings=log.warnings)
            result.error = str(err) if isinstance(err, ValueError) else f"{item.path}: {err}"
            yield _Job(result, [], True, False)
            continue
        if streamed is None:
            yield from _whole_file_jobs(item, options)
        else:
            yield from _streamed_jobs(item, streamed[0], log)


def _whole_file_jobs(item: InputFile, options: ReadOptions) -> Iterator[_Job]:
    yield from _jobs_of(*read_input(item, options))


def _jobs_of(result: FileResult, transcripts: list[Transcript]) -> Iterator[_Job]:
    """Jobs for transcripts read whole (a file, or a DataFrame): batches, or one collecting job when the
    sessions interleave."""
    groups = batches(transcripts)
    whole = len(transcripts) > 1 and _interleaved(transcripts)
    if not groups:
        yield _Job(result, [], True, False)
        return
    for k, group in enumerate(groups):
        shell = result if k == 0 or whole else FileResult(result.path)
        yield _Job(shell, group, k == len(groups) - 1, whole, transcripts if whole else [])


def _streamed_jobs(item: InputFile, transcripts: Iterator[Transcript], log: ReadLog) -> Iterator[_Job]:
    """Batches as the stream fills them; each carries the warnings read since the one before."""
    group: list[Transcript] = []
    n = 0

    def job(last: bool, error: str | None = None) -> _Job:
        shell = FileResult(str(item.path), warnings=list(log.warnings), error=error)
        log.warnings.clear()
        return _Job(shell, group, last, False)

    try:
        for t in transcripts:
            _name_default_session([t], item)
            if group and n + len(t.utterances) > BATCH_UTTERANCES:
                yield job(False)
                group, n = [], 0
            group.append(t)
            n += len(t.utterances)
    except (TranscriptError, ValueError, RecursionError) as err:     # sessions before it are already scored
        yield job(True, str(err) if isinstance(err, ValueError) else f"{item.path}: {err}")
        return
    yield job(True)


def iter_results(files: list[InputFile], options: ReadOptions, scorer, jobs: int = 1,
                 client=None) -> Iterator[FileResult]:
    """Score files in order, in batches of whole sessions; with ``jobs > 1`` forked workers (which share
    the scorer loaded here once) score batches in parallel, so one big table uses every core too.

    Results come in input order, identical for any ``jobs``: a file's sessions may arrive as several
    results for the same path (one per batch), except for a table whose sessions interleave, which
    comes whole with its rows in input order. Session ids are kept unique across files
    (:class:`SessionIds`).
    """
    return run_jobs(_plan(files, options), scorer, jobs, client)


def iter_frame_results(df, options: ReadOptions, scorer, jobs: int = 1,
                       columns: dict | None = None, client=None) -> Iterator[FileResult]:
    """The same run for a pandas DataFrame of utterances (rows numbered from 1 as lines)."""
    log = ReadLog("<dataframe>", strict=options.strict)
    transcripts = transcripts_from_frame(df, roles_for(options, {}), columns or options.columns or None, log=log)
    return run_jobs(_jobs_of(FileResult("<dataframe>", warnings=log.warnings), transcripts), scorer, jobs, client)


def _dask_score_batch(transcripts: list[Transcript], recipe: dict) -> list:
    """On a Dask worker: score with the worker's own scorer, built once per worker process from ``recipe``
    (the model is loaded there, never shipped with the tasks)."""
    key = repr(sorted(recipe.items()))
    scorer = _WORKER.get(key)
    if scorer is None:
        from .scorers import scorer_from_recipe
        scorer = _WORKER[key] = scorer_from_recipe(recipe)
    return score_batch(transcripts, scorer)


def _packs(plan: Iterable[_Job], size: int | None = None) -> Iterator[list[_Job]]:
    """Consecutive jobs packed together up to a batch's size: a folder of one-session files is scored in
    batches of many files, one model call each, not one call per file (the model's per-call cost was
    most of the time on a folder of 1,000 short files)."""
    size = size or BATCH_UTTERANCES
    pack: list[_Job] = []
    n = 0
    for job in plan:
        k = sum(len(t.utterances) for t in job.transcripts)
        if pack and n + k > size:
            yield pack
            pack, n = [], 0
        pack.append(job)
        n += k
    if pack:
        yield pack


def run_jobs(plan: Iterable[_Job], scorer, jobs: int = 1, client=None) -> Iterator[FileResult]:
    """Score planned batches in order, in this process, in ``jobs`` forked workers, or on a Dask
    cluster (``client``, a ``dask.distributed.Client``); results in order, the same rows either way."""
    ids = SessionIds()

    def finish(pack: list[_Job], scored: list) -> Iterator[FileResult]:
        at = 0
        for job in pack:
            mine, at = scored[at:at + len(job.transcripts)], at + len(job.transcripts)
            _fill(job.result, job.transcripts, mine)
            if job.whole and not job.last:
                continue
            if job.whole:
                _in_input_order(job.result, job.all_transcripts)
            ids.claim(job.result)
            yield job.result

    def work(pack: list[_Job]) -> list[Transcript]:
        return [t for job in pack for t in job.transcripts]

    if client is not None:
        recipe = scorer.recipe
        window: deque = deque()
        for pack in _packs(plan):
            window.append((pack, client.submit(_dask_score_batch, work(pack), recipe, pure=False)))
            while len(window) > 4 * max(len(client.scheduler_info().get("workers", {})), 1):
                done, future = window.popleft()
                yield from finish(done, future.result())
        while window:
            done, future = window.popleft()
            yield from finish(done, future.result())
        return
    if jobs <= 1:
        for pack in _packs(plan):
            yield from finish(pack, score_batch(work(pack), scorer))
        return
    _WORKER["scorer"] = scorer          # inherited by the forked workers: no reload per process
    pool = mp.get_context("fork").Pool(jobs, initializer=_init_worker)
    try:
        window: deque = deque()         # batches in flight, in order; bounded so reading never runs far ahead
        for pack in _packs(plan):
            window.append((pack, pool.apply_async(score_batch, (work(pack),))))
            while len(window) > 4 * jobs:
                done, pending = window.popleft()
                yield from finish(done, pending.get())
        while window:
            done, pending = window.popleft()
            yield from finish(done, pending.get())
        pool.close()
    finally:
        pool.terminate()
        pool.join()
        _WORKER.clear()
