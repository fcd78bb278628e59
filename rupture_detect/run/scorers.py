"""Scorers: the shipped pipeline with a model folder (or the rules alone), built once per process.

:func:`make_scorer` is what the CLI, :func:`rupture_detect.score` and every
worker process use; :func:`scorer_from_recipe` rebuilds one in another
process (a pool worker or a Dask worker) from :attr:`Scorer.recipe`.
"""

from __future__ import annotations

from pathlib import Path

from ..nlp.pipeline import load_pipeline, models_dir
from .scoring import Scorer

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
    from ..learn.classifier import FusedModel
    try:
        fused = FusedModel.load(path)
    except Exception as err:          # noqa: BLE001 - any unusable folder is the user's to fix, not a crash
        raise ModelError(f"{path}: cannot load this model folder: {err}") from None
    from ..writers.manifest import folder_digest  # manifest reads the package version: import it once that exists
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
