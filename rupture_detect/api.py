"""The Python face of the tool: ``score()`` returns DataFrames.

>>> import rupture_detect
>>> result = rupture_detect.score("sample_transcripts/cbt_homework.txt")
>>> result.utterances.query("marker != 'none' and speaker == 'client'")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .readers.inputs import ReadOptions, expand_inputs
from .readers.transcript import TranscriptError
from .run.batch import iter_frame_results, iter_results
from .run.scorers import DEFAULT_MODEL, ModelError, default_model_dir, make_scorer, scorer_from_recipe
from .writers.sinks import FrameSink


@dataclass
class Scores:
    utterances: pd.DataFrame
    sessions: pd.DataFrame
    episodes: pd.DataFrame
    segments: pd.DataFrame
    errors: list[str] = field(default_factory=list)      # inputs or sessions left out, with file:line
    warnings: list[str] = field(default_factory=list)    # rows read with a problem, renamed sessions, no model
    model: dict = field(default_factory=dict)            # which model decided (see make_scorer)

    def flagged(self) -> pd.DataFrame:
        """Client turns with a marker."""
        u = self.utterances
        return u[u["marker"].isin(["withdrawal", "confrontation"])]


def score(source, *, therapist=(), speakers: dict | None = None, columns: dict | None = None,
          fmt: str | None = None, model=DEFAULT_MODEL, threshold: float | None = None,
          jobs: int = 1, strict: bool = False, client=None) -> Scores:
    """Score a path, a folder, a glob, a list of those, or a DataFrame of utterances.

    Bad files and sessions are reported in ``Scores.errors`` and the rest still
    scored; bad rows are ``Scores.warnings`` (errors with ``strict``). If
    nothing could be scored, the errors are raised as one ``ValueError``. With ``client`` (a
    ``dask.distributed.Client``) batches of sessions are scored on the Dask cluster: the same rows, in
    the same order, as in this process.
    """
    therapist = (therapist,) if isinstance(therapist, str) else tuple(therapist)
    options = ReadOptions(fmt=fmt, columns=columns or {}, speakers=speakers or {}, therapists=therapist,
                          strict=strict)
    scorer = make_scorer(model, threshold)
    sink = FrameSink()
    if isinstance(source, pd.DataFrame):
        try:
            results = iter_frame_results(source, options, scorer, jobs, columns, client)
        except TranscriptError as err:
            raise ValueError(str(err)) from None
        errors: list[str] = []
    else:
        items = [source] if isinstance(source, (str, Path)) else list(source)
        files, missing = expand_inputs(items)
        errors = [m.error for m in missing]
        results = iter_results(files, options, scorer, jobs, client)
    n_sessions = 0
    for result in results:           # the same run as the CLI's, into an in-memory sink
        errors.extend(result.problems() + sink.add(result))
        n_sessions += len(result.sessions)
    warnings = list(sink.warnings)
    if scorer.model_info["id"] == "rules-only" and model is not None:
        warnings.insert(0, scorer.model_info["reason"])
    if not n_sessions and errors:
        raise ValueError("\n".join(errors))
    frames = sink.frames()
    return Scores(frames["rows"], frames["sessions"], frames["episodes"], frames["segments"], errors, warnings,
                  dict(scorer.model_info))


__all__ = ["DEFAULT_MODEL", "ModelError", "Scores", "default_model_dir", "make_scorer", "score", "scorer_from_recipe"]
