"""Build the offline spaCy pipeline, save it, load it.

``spacy.blank("en")`` + ``sentencizer`` + lookup ``lemmatizer`` (tables from
``spacy-lookups-data``, read once at ``initialize()``) + ``dialogue_acts`` +
``repair_strategies`` (therapist turns) + ``rupture_markers`` (client turns). No model download. The saved pipeline in
``rupture_detect/models/pipeline`` carries just the English lookup table, so loading it never
needs the 99 MB lookups package.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language

from . import dialogue_acts, repair_strategies, rupture_markers  # noqa: F401  registers the factories without entry points

PIPELINE_DIRNAME = "pipeline"


def models_dir() -> Path:
    """``$RUPTURE_DETECT_MODELS``, else the package's own ``models/`` (package data: shipped in the wheel)."""
    env = os.environ.get("RUPTURE_DETECT_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "models"


def build_pipeline(threshold: float = 0.5) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.add_pipe("dialogue_acts")
    nlp.add_pipe("repair_strategies")
    nlp.add_pipe("rupture_markers", config={"threshold": threshold})
    nlp.initialize()
    return nlp


@lru_cache(maxsize=4)
def load_pipeline(path: str | None = None) -> Language:
    """The saved pipeline if there is one, else a freshly built one (about a second slower)."""
    saved = Path(path) if path else models_dir() / PIPELINE_DIRNAME
    if (saved / "config.cfg").exists():
        return spacy.load(saved)
    if path:
        raise FileNotFoundError(f"{saved}: no spaCy pipeline here (expected config.cfg)")
    return build_pipeline()


def save_pipeline(nlp: Language, path: str | Path | None = None) -> Path:
    out = Path(path) if path else models_dir() / PIPELINE_DIRNAME
    nlp.to_disk(out)
    return out
