"""The Python face of the tool: ``score()`` returns DataFrames.

>>> import rupture_detect
>>> result = rupture_detect.score("sample_transcripts/cbt_homework.txt")
>>> result.utterances.query("marker != 'none' and speaker == 'client'")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .batch import ReadOptions, expand_inputs, iter_results, roles_for
from .formats import transcripts_from_frame
from .pipeline import load_pipeline, models_dir
from .episodes import EPISODE_COLUMNS
from .scoring import SESSION_COLUMNS, UTTERANCE_COLUMNS, Scorer
from .segments import segment_columns

DEFAULT_MODEL = "default"
CLASSIFIER_DIRNAME = "classifier"


def make_scorer(model=DEFAULT_MODEL, threshold: float | None = None) -> Scorer:
    """A scorer with the shipped pipeline; ``model`` is ``"default"``, ``None`` (rules only) or a model folder."""
    nlp = load_pipeline()
    if threshold is not None:         # a private copy: the cached pipeline is shared by every scorer
        import copy
        nlp = copy.deepcopy(nlp)
        nlp.get_pipe("rupture_markers").threshold = threshold
    if model is None:
        return Scorer(nlp)
    path = models_dir() / CLASSIFIER_DIRNAME if model == DEFAULT_MODEL else Path(model)
    if model == DEFAULT_MODEL and not (path / "model_card.json").exists():
        return Scorer(nlp)          # no shipped model in this install: the rules decide
    from .classifier import FusedModel
    return Scorer(nlp, model=FusedModel.load(path))


@dataclass
class Scores:
    utterances: pd.DataFrame
    sessions: pd.DataFrame
    episodes: pd.DataFrame
    segments: pd.DataFrame
    errors: list[str] = field(default_factory=list)

    def flagged(self) -> pd.DataFrame:
        """Client turns with a marker."""
        u = self.utterances
        return u[u["marker"].isin(["withdrawal", "confrontation"])]


def score(source, *, therapist=(), speakers: dict | None = None, columns: dict | None = None,
          fmt: str | None = None, model=DEFAULT_MODEL, threshold: float | None = None,
          jobs: int = 1) -> Scores:
    """Score a path, a folder, a glob, a list of those, or a DataFrame of utterances.

    Bad files are reported in ``Scores.errors`` and the rest still scored; if
    nothing could be scored, the first error is raised.
    """
    therapist = (therapist,) if isinstance(therapist, str) else tuple(therapist)
    options = ReadOptions(fmt=fmt, columns=columns or {}, speakers=speakers or {}, therapists=therapist)
    tables: dict[str, list[dict]] = {"rows": [], "sessions": [], "episodes": [], "segments": []}
    errors: list[str] = []
    if isinstance(source, pd.DataFrame):
        scorer = make_scorer(model, threshold)
        for t in transcripts_from_frame(source, roles_for(options, {}), columns):
            scored = scorer.score(t)
            tables["rows"].extend(scored.rows)
            tables["sessions"].append(scored.session)
            tables["episodes"].extend(scored.episodes)
            tables["segments"].extend(scored.segments)
    else:
        items = [source] if isinstance(source, (str, Path)) else list(source)
        files, missing = expand_inputs(items)
        errors.extend(m.error for m in missing)
        for result in iter_results(files, options, model, threshold, jobs):
            if result.error:
                errors.append(result.error)
            for key in tables:
                tables[key].extend(getattr(result, key))
        if not tables["sessions"] and errors:
            raise ValueError(errors[0] if len(errors) == 1 else "\n".join(errors))
    return Scores(pd.DataFrame(tables["rows"], columns=UTTERANCE_COLUMNS),
                  pd.DataFrame(tables["sessions"], columns=SESSION_COLUMNS),
                  pd.DataFrame(tables["episodes"], columns=EPISODE_COLUMNS),
                  pd.DataFrame(tables["segments"], columns=segment_columns()), errors)
