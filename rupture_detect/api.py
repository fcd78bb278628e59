"""The Python face of the tool: ``score()`` returns DataFrames.

>>> import rupture_detect
>>> result = rupture_detect.score("sample_transcripts/cbt_homework.txt")
>>> result.utterances.query("marker != 'none' and speaker == 'client'")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .batch import iter_frame_results, iter_results
from .inputs import ReadOptions, expand_inputs
from .pipeline import load_pipeline, models_dir
from .scoring import Scorer
from .sinks import FrameSink
from .transcript import TranscriptError

DEFAULT_MODEL = "default"
CLASSIFIER_DIRNAME = "classifier"


class ModelError(ValueError):
    """A model folder that cannot be used (missing, incomplete, broken or refused)."""


def make_scorer(model=DEFAULT_MODEL, threshold: float | None = None) -> Scorer:
    """A scorer with the shipped pipeline; ``model`` is ``"default"``, ``None`` (rules only) or a model folder.

    ``scorer.model_info`` says which model decides (id, content hash), or why
    the rules decide alone; an unusable model folder raises :class:`ModelError`.
    """
    nlp = load_pipeline()
    if threshold is not None:         # a private copy: the cached pipeline is shared by every scorer
        import copy
        nlp = copy.deepcopy(nlp)
        nlp.get_pipe("rupture_markers").threshold = threshold
    if model is None:
        scorer = Scorer(nlp)
        scorer.model_info = {"id": "rules-only", "reason": "rules only, as asked"}
        scorer.recipe_model = (None, threshold)
        return scorer
    path = default_model_dir() if model == DEFAULT_MODEL else Path(model)
    if model == DEFAULT_MODEL and not (path / "model_card.json").exists():
        scorer = Scorer(nlp)          # said loudly by the callers and kept in the manifest: never silent
        scorer.model_info = {"id": "rules-only", "reason": f"no trained model found at {path}; the rules decide alone"}
        scorer.recipe_model = (model, threshold)
        return scorer
    from .classifier import FusedModel
    try:
        fused = FusedModel.load(path)
    except Exception as err:          # noqa: BLE001 - any unusable folder is the user's to fix, not a crash
        raise ModelError(f"{path}: cannot load this model folder: {err}") from None
    from .manifest import folder_digest  # manifest reads the package version: import it once that exists
    scorer = Scorer(nlp, model=fused)
    scorer.model_info = {"id": fused.card.get("model_id") or path.name, "path": str(path),
                         "sha256": folder_digest(path)}
    scorer.recipe_model = (model if model == DEFAULT_MODEL else str(path), threshold)
    return scorer


def scorer_from_recipe(recipe: dict) -> Scorer:
    """A scorer built the way another process built its own (see ``Scorer.recipe``): what a Dask worker
    uses to load the pipeline and model once, locally."""
    scorer = make_scorer(recipe["model"], recipe.get("threshold"))
    scorer.segment_minutes, scorer.segment_turns = recipe["segment_minutes"], recipe["segment_turns"]
    return scorer


def default_model_dir() -> Path:
    return models_dir() / CLASSIFIER_DIRNAME


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
